#!/bin/sh
# tools/hotorder.sh: write chain/hot.order (chain/hot-musl.order after make
# LIBC=musl), the order in which the link (lld, --symbol-ordering-file)
# lays out chain/sdu-chain: the functions a clean connection runs and the
# variables it touches, together.
#
# Why: each 64 KB window of text a connection touches is a page fault of its
# own (the kernel maps text around a fault 16 pages at a time), and on a
# virtual machine a fault and the page-table work behind it are the largest
# cost of a short-lived process. In link order the start-up of libc, the
# IFUNC resolvers, LMDB and the links' code lay over 18 windows of a 4 MB
# text; in this order over a few.
#
# How: one clean SMTP session (EHLO, MAIL, RCPT, DATA, QUIT) through
# rblcheck, throttle and rcptcheck into tests/smtpsink, under callgrind,
# which names every function each process ran (valgrind runs each link as
# its own process: the union is the same). rblcheck's functions come first
# (a connection that rblcheck alone serves runs those only), then the
# others'. Added to them: every IFUNC resolver (glibc runs them all at
# start-up), the variants of the string functions callgrind saw for the
# other vector extensions (valgrind's CPU is not the machine's), and the
# start-up code callgrind calls "(below main)" or never sees (the vDSO's
# set-up: valgrind gives a program none). Then the data: the same session
# under lackey, which names every address each process reads or writes;
# the variables and named constants of the binary's data segments that were
# touched, small ones first, then the big ones (arrays touched at their start)
# smallest first, so that libc's,
# LMDB's and the links' variables lie in a few pages (the hot section of
# sdu_hot.h keeps the links' own per-connection ones together already).
#
# usage: sh tools/hotorder.sh   (after make, as root: a DNS server on port 53
# of a loopback address). Run it again when the chain's code changes much;
# a stale order still links (names that are gone are ignored) and only
# costs page faults.
top=$(cd "$(dirname "$0")/.." && pwd)
SDU_TOP=$top; export SDU_TOP
. "$top/tests/lib/e2e.sh"  # e2e_free_addr, e2e_wait (no e2e_init: nothing of it runs)
fatal() { echo "hotorder.sh: fatal: $*" >&2; exit 111; }
[ "$(id -u)" -eq 0 ] || fatal "needs root (a DNS server on port 53)"
command -v valgrind > /dev/null || fatal "valgrind not installed"
command -v python3 > /dev/null || fatal "python3 not installed"
bin=$top/chain/sdu-chain
out=$top/chain/hot.order
case $(cat "$top/common/build-flags" 2> /dev/null) in
  musl-gcc*) out=$top/chain/hot-musl.order ;;
esac
readelf -l "$bin" 2> /dev/null | grep -q INTERP && fatal "a static build first (not SANITIZE=1)"
[ -x "$bin" ] && [ -x "$top/tests/smtpsink" ] && [ -x "$top/bench/rblcheck_dnsdelay" ] ||
  fatal "build first (make)"
work=$(mktemp -d) || fatal "no temporary directory"
dnspid=
trap '[ -n "$dnspid" ] && kill "$dnspid" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 111' INT TERM

# a loopback address with nothing on it, and a server that answers every
# query at once (the client is on no list)
dns=$(e2e_free_addr) || fatal "no free loopback address"
"$top/bench/rblcheck_dnsdelay" -d 0 "$dns" 2> /dev/null &
dnspid=$!
e2e_wait 50 sh -c '[ -n "$(ss -Hluan "src $1:53" 2> /dev/null)" ]' sh "$dns" ||
  fatal "the DNS server on $dns did not start"

printf 'list orbs relays.order.test\nlist dul dialups.order.test\nrule orbs reject\nrule dul throttle 1\n' > "$work/policy"
echo rcpt@example.net > "$work/valid"
"$top/rcptcheck/rcptcheck-build" -f "$work/rcpt.cdb" "$work/valid" || fatal "rcptcheck-build failed"
mkdir "$work/state"
session() {
  sleep 1; printf 'EHLO client.example\r\n'
  sleep 0.3; printf 'MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.net>\r\nDATA\r\n'
  sleep 0.3; printf 'Subject: order\r\n\r\nhello\r\n.\r\n'
  sleep 0.3; printf 'QUIT\r\n'; sleep 0.5
}
# throttle's connection rate and concurrency as INSTALL's tcprules set them
export TCPREMOTEIP=192.0.2.7 TCPLOCALIP=127.0.0.1 DNSCACHEIP="$dns" THROTTLE_CONN=30/60 THROTTLE_CONC=5
delivered() { grep -q '^250 ok queued' "$work/out" || { cat "$work/err" >&2; fatal "the session under $1 did not deliver"; }; }
# the links from throttle on, or from rblcheck (its options first), under valgrind's options
rest() {
  session | valgrind -q "$@" "$top/throttle/throttle" -d "$work/state" -b 3h -B 20/10m \
    "$top/rcptcheck/rcptcheck" -f "$work/rcpt.cdb" "$top/tests/smtpsink" -x nodir > "$work/out" 2> "$work/err"
}
chain() { rest "$@" "$top/rblcheck/rblcheck" -f "$work/policy"; }
# a session first, outside valgrind: the profiled ones find its records in
# the state (throttle looks whether the process of an older one still runs)
session | "$top/rblcheck/rblcheck" -f "$work/policy" "$top/throttle/throttle" -d "$work/state" -b 3h -B 20/10m \
  "$top/rcptcheck/rcptcheck" -f "$work/rcpt.cdb" "$top/tests/smtpsink" -x nodir > "$work/out" 2> "$work/err"
delivered "no valgrind"
chain --tool=callgrind --trace-children=yes --dump-before=execve --callgrind-out-file="$work/cg.%p.%n"
delivered callgrind
# lackey's log of a process starts again at its exec: rblcheck alone (its
# next program not traced), then the rest from throttle on
session | valgrind -q --tool=lackey --trace-mem=yes --log-file="$work/mem.rbl" \
  "$top/rblcheck/rblcheck" -f "$work/policy" "$top/tests/smtpsink" -x nodir > "$work/out" 2> "$work/err"
delivered lackey
rest --tool=lackey --trace-mem=yes --trace-children=yes --trace-children-skip='*/smtpsink' --log-file="$work/mem.%p"
delivered lackey

# the functions one process ran (callgrind names each once, the first time)
names() { sed -n 's/^c\{0,1\}fn=([0-9]*) //p' "$@" | sed "s/'[0-9]*\$//" | grep -v '^0x\|^(below main)$'; }
# rblcheck's first, then throttle's and rcptcheck's, whatever their pids
rbl= thr= rcpt=
for f in "$work"/cg.*; do
  cmd=$(sed -n 's/^cmd: *//p' "$f")
  case $cmd in
    "$top/rblcheck/rblcheck "*) rbl="$rbl $f" ;;
    "$top/throttle/throttle "*) thr="$thr $f" ;;
    "$top/rcptcheck/rcptcheck "*) rcpt="$rcpt $f" ;;
  esac
done
others="$thr $rcpt"
[ -n "$rbl" ] && [ -n "$others" ] || fatal "callgrind wrote no profile of rblcheck or of the proxy"
nm "$bin" | awk '{ print $NF }' | sort -u > "$work/syms"
{
  # start-up: callgrind's "(below main)", and the vDSO's set-up (glibc's
  # names; musl's start-up callgrind names itself)
  printf '%s\n' _start __libc_start_main __libc_start_main_impl __libc_start_call_main \
    _init frame_dummy register_tm_clones deregister_tm_clones __do_global_dtors_aux \
    _dl_relocate_static_pie __libc_init_secure __libc_setup_tls _dl_non_dynamic_init \
    setup_vdso setup_vdso_pointers _dl_new_object _dl_add_to_namespace_list _dl_setup_hash \
    _dl_important_hwcaps _dl_init_paths _dl_vdso_vsym _dl_lookup_symbol_x do_lookup_x \
    check_match _dl_name_match_p \
    execve __execve __set_thread_area memcpy memset memmove
  # (execve: callgrind's profile ends before it; __set_thread_area, memcpy,
  # memset and memmove: musl's, in assembler, which callgrind does not name)
  # the IFUNC resolvers
  nm "$bin" | awk '$2 == "i" { print $3 }'
  names $rbl
  # the string functions' other variants: __strlen_avx2 seen, __strlen_evex run
  names $rbl $others | sed -n 's/^\(__[a-z0-9]*\)_\(sse2\|sse42\|ssse3\|avx2\|avx\|evex\|avx512\).*/\1/p' | sort -u |
    while read -r s; do grep -E "^${s}_(avx2|evex|avx512)" "$work/syms"; done
  names $others
  # the variables, from the addresses lackey saw in the data segments: the
  # writable ones, and the read-only ones' named constants (libowfat's
  # V4mappedprefix and V6any lay 85 KB into musl's .rodata, a fault of
  # their own; the text segment, flags "R E", is not one)
  readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /W/ || $8 != "E") { print $3, $6 }' |
    python3 -c '
import sys, bisect, subprocess
segs = [(int(a, 16), int(a, 16) + int(n, 16)) for a, n in (l.split() for l in sys.stdin)]
inseg = lambda a: any(lo <= a < hi for lo, hi in segs)
syms = []
for l in subprocess.run(["nm", "-n", "-S", sys.argv[1]], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if len(f) == 4 and inseg(int(f[0], 16)):
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
syms.sort()
keys = [x[0] for x in syms]
# the order file names symbols, and the link orders every one of a name:
# a name goes with the small ones if one of its symbols is small (the 5 KB
# session "s" of rcptcheck comes along with the small one of throttle)
size = {}
for _, n, name in syms:
    size[name] = min(size.get(name, n), n)
seen, small, big = set(), [], []
for k, fn in enumerate(sys.argv[2:]):
    for l in open(fn):
        if len(l) < 4 or l[1] not in "LSM":
            continue
        a = int(l[3:].split(",")[0], 16)
        i = bisect.bisect_right(keys, a) - 1
        if i < 0 or not inseg(a) or a >= syms[i][0] + syms[i][1] or syms[i][2] in seen:
            continue
        seen.add(syms[i][2])
        if size[syms[i][2]] < 4096:
            small.append(syms[i][2])
        else:
            big.append((k > 0, size[syms[i][2]], syms[i][2]))
# the big ones that rblcheck touches first, each group smallest first: the
# first of them (the DNS queries, of which a connection uses the first
# few) begins in the page of the small ones
big.sort()
print("\n".join(small + [b[2] for b in big]))
' "$bin" "$work/mem.rbl" $(ls "$work"/mem.* | grep -v 'mem.rbl$')
} | awk '!seen[$0]++' | grep -x -F -f "$work/syms" > "$work/order"
n=$(wc -l < "$work/order")
[ "$n" -gt 200 ] || fatal "only $n functions and variables found"
{
  echo "# chain/${out##*/}: written by tools/hotorder.sh (do not edit): the functions a"
  echo "# clean connection runs and the variables it touches, in the order the"
  echo "# build's link lays them out"
  cat "$work/order"
} > "$out"
echo "hotorder.sh: chain/${out##*/}: $n functions and variables"
