#!/bin/sh
# bench/throttle.sh: a flood through rblcheck + throttle + rcptcheck into the test
# downstream, against the bare downstream under tcpserver in the same run; then a
# million log lines through sdu-report.
# usage: sh bench/throttle.sh [ seconds [ inflight [ redis ] ] ]   (after make; as root: rbldnsd needs port 53)
# With "redis": only the chain with its state on a redis-server of its own (unix
# socket) against the same chain on LMDB, in turn, and Redis's commands per connection.
# THROTTLE_OPTS: throttle's options (default "-b 3h -B 20/10m": it stays in the
# middle of every connection; "" lets it exec after the rate and concurrency checks)
# The floor run shows what the four execs alone cost on this machine.
# Each phase prints, next to its rate, the CPU its server side used (tcpserver's
# whole process tree, bench/treecpu) per session and per served (clean)
# session; the target: the chain's CPU per clean session at most 2x the bare
# downstream's.
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}; inflight=${2:-300}; mode=${3:-}
SDU_TOP=$top; export SDU_TOP
. "$top/tests/lib/e2e.sh"
e2e_init bench-throttle
e2e_need_root "port 53 for rbldnsd"
make -s -C "$top" bench/throttle_flood bench/treecpu > /dev/null || exit 111
D=$E2E_DIR
flood() { "$top/bench/throttle_flood" -c "$inflight" -t "$secs" -s "$src" -n 1000 127.0.0.1 "$1"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# clients: 1000 addresses 127.N.0.1 .. 127.N.3.250, taken in turn; a few listed.
# Every phase gets the same mix: the listed clients go to the bare server too
# (which serves them: it has no lists), so that each phase's CPU figure is for
# the same sessions; CPU per served session charges the chain's refusals to
# its clean sessions (they are 1% of the sessions)
n=$((100 + $(e2e_random) % 150)); src=127.$n
dns=$(e2e_free_addr) || exit 111
: > "$D/dul"; : > "$D/orbs"
i=1; while [ $i -le 250 ]; do
  [ $((i % 10)) -eq 0 ] && echo "$src.0.$i" >> "$D/dul"
  [ $((i % 25)) -eq 0 ] && echo "$src.1.$i" >> "$D/orbs"
  i=$((i + 1))
done
chmod 755 "$D"; chmod 644 "$D/dul" "$D/orbs"
printf 'list orbs relays.orbs.test\nlist dul dialups.test\nrule orbs reject\nrule dul throttle 1\n' > "$D/policy"
e2e_rbldnsd "$dns" relays.orbs.test:ip4set:"$D/orbs" dialups.test:ip4set:"$D/dul" || exit 111
echo one@example.net > "$D/valid"
"$top/rcptcheck/rcptcheck-build" -f "$D/rcpt.cdb" "$D/valid" || exit 111
mkdir "$D/state"

sample() { # pgid pid file: from 3 s into the flood, every 2 s, from one snapshot
  # of the processes (hundreds start and end between two ps runs): the RSS of
  # tcpserver's group (bench/treecpu, its leader, left out), the number of
  # processes in it, and tcpserver's own (pid)
  sleep 3
  while kill -0 "$1" 2>/dev/null; do
    ps -e -o pid=,pgid=,rss= | awk -v g="$1" -v p="$2" '$2 == g && $1 != g { s += $3; n++; if ($1 == p) t = $3 } END { print s + 0, n + 0, t + 0 }' >> "$3"
    sleep 2
  done
}
memory() { # file: what the samples say; per process: the group's RSS but
  # tcpserver's own, over the connections' processes
  awk 'NR == 1 { f = $1; fp = $2; ft = $3 } { l = $1; lp = $2; lt = $3; if ($1 > m) m = $1; if ($2 > 1 && ($1 - $3) / ($2 - 1) > pp) pp = ($1 - $3) / ($2 - 1) }
    END { printf "memory while flooding: chain %d KiB in %d processes at the first sample, %d KiB in %d at the last, %d at most, %d KiB per connection process at most (tcpserver\047s own left out); tcpserver %d -> %d KiB (%d samples)\n", f, fp, l, lp, m, pp, ft, lt, NR }' "$1"
}

# DNS and state as a site sets them, from tcpserver's environment (envdir and
# tcprules): an "env" in the chain would be one more exec (of a dynamically
# linked program) per connection, and no site runs one.
DNSCACHEIP=$dns; THROTTLE_CONN=1000000/60; THROTTLE_CONC=100
export DNSCACHEIP THROTTLE_CONN THROTTLE_CONC
sink() { # the test downstream: recording every message (with fsync) into $OUT, as a
  # mail server queues it, or with "nodir" counting it only, to show the chain's own cost.
  # Nothing is removed between runs: ext4 does not hand out an inode deleted in the
  # last minutes, and looks at every such inode before it takes another, so a run
  # after the removal of the last run's 20,000 files spends most of its CPU there
  # (seen with perf: recently_deleted, find_inode_bit; the chain, run second, got
  # 1/3 of the rate it gets first). Give this bench 5 minutes after its last run.
  if [ "$1" = nodir ]; then echo "$top/tests/smtpsink -x nodir"
  else mkdir "$OUT" || exit 111; echo "$top/tests/smtpsink -d $OUT"; fi
}
# Logs go as a site sends them (INSTALL's run scripts): through a pipe to
# multilog, one per phase. Appending to one file from every connection's
# process, as the tests do, puts each of the chain's log lines (three links,
# three lines a connection) behind an ext4 inode lock that hundreds of
# writers share and that every fsync's journal commit takes. Measured in
# 20 s runs taken in turn: the chain made 702 and 893 connections a second
# logging to a file, 1,326 and 1,249 through multilog (a third pair: the same).
logto() { # name: start multilog on a FIFO and point tcpserver's output at it
  mkfifo "$D/log.$1.fifo" || exit 111
  setsid multilog t s16777215 n20 "$D/log.$1" < "$D/log.$1.fifo" > /dev/null 2>> "$D/multilog.err" &
  e2e_remember $! multilog
  E2E_TCPLOG_TO=$D/log.$1.fifo; export E2E_TCPLOG_TO
}
# The server side of each phase runs under bench/treecpu: tcpserver, every
# connection's processes and what they started, all reaped in that tree, are
# one CPU figure (RUSAGE_CHILDREN) when tcpserver is gone. It needs no cgroup
# (none to create in a container, a v1/v2 mix on others) and holds nothing of
# the load generator, multilog or the other users of the machine; a process
# that outlived tcpserver would be missing, so a phase ends only when the
# last session's processes are gone. CPU per session is the figure that does
# not swing with the disk or with what the load generator gets of the CPUs.
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
drained() { # pgid: nothing left in it but treecpu and tcpserver
  [ "$(ps -e -o pgid= | awk -v g="$1" '$1 == g { n++ } END { print n + 0 }')" -le 2 ]
}
phase() { # name [ memory-samples-file ] -- prog args: tcpserver running prog under a
  # flood; prints the flood's figures, then the server side's CPU
  _n=$1; _m=; shift
  [ "$1" != -- ] && { _m=$1; shift; }
  shift
  logto "$_n.$(date +%s%N)"
  _port=$(e2e_free_port) || exit 111
  setsid "$top/bench/treecpu" "$D/cpu.$_n" tcpserver -vRHl0 -c 2000 -b 1024 127.0.0.1 "$_port" "$@" \
    >> "$E2E_TCPLOG_TO" 2>&1 < /dev/null &
  _pid=$!
  e2e_remember "$_pid" treecpu
  e2e_wait 100 listening "$_port" || { echo "# tcpserver did not start" >&2; exit 111; }
  _tcp=$(pgrep -P "$_pid")
  e2e_remember "$_tcp" tcpserver
  [ -n "$_m" ] && { sample "$_pid" "$_tcp" "$_m" & }
  _r=$(flood "$_port")
  e2e_wait 100 drained "$_pid"
  # tcpserver, then treecpu, which writes the figure when tcpserver is gone
  # (e2e_stop would TERM treecpu alone: dash's kill takes no "--")
  e2e_stop "$_tcp"
  e2e_wait 50 sh -c '! kill -0 "$1" 2> /dev/null' sh "$_pid"
  wait
  _c=$(sed -n 's/^cpu=\([0-9.]*\) .*/\1/p' "$D/cpu.$_n")
  echo "$_r server_cpu_s=$_c" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    n = v["served"] + v["refused"]
    printf "%s cpu_ms_per_session=%.3f cpu_ms_per_served=%.3f\n", $0, n ? 1000 * v["server_cpu_s"] / n : 0, v["served"] ? 1000 * v["server_cpu_s"] / v["served"] : 0 }'
}
bare() { # downstream
  phase "bare.$1" -- $(sink "$1")
}
chain() { # downstream [ memory-samples-file ]
  phase "chain.$1" $2 -- "$top/rblcheck/rblcheck" -f "$D/policy" \
    "$top/throttle/throttle" -d "${STORE:-$D/state}" ${THROTTLE_OPTS--b 3h -B 20/10m} \
    "$top/rcptcheck/rcptcheck" -f "$D/rcpt.cdb" $(sink "$1")
}
relay() { # downstream: the cheapest link there is in the middle, a proxy that only
  # relays (tests/sdu-testproxy, no hooks, no state, no DNS): the floor of any chain
  # with a link in the middle on this machine
  phase "relay.$1" -- "$top/tests/sdu-testproxy" $(sink "$1")
}
links="rblcheck+throttle ${THROTTLE_OPTS--b 3h -B 20/10m}+rcptcheck"

if [ "$mode" = redis ]; then
  # the store on Redis against LMDB, taken in turn (LMDB, Redis, LMDB, Redis)
  e2e_redis "$D/redis.sock" || exit 111
  calls() { redis-cli -s "$D/redis.sock" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p' | sort; }
  sum() { awk '{ n += $2 } END { print n + 0 }'; }
  cpu() { awk '{ print $14 + $15 }' "/proc/$E2E_REDIS_PID/stat"; } # redis-server's CPU, in ticks
  l1=$(chain nodir); echo "$links, LMDB: $l1"
  c0=$(calls | sum); calls > "$D/calls.0"; u0=$(cpu)
  STORE="unix:$D/redis.sock?local=$D/state"
  r1=$(chain nodir); echo "$links, Redis: $r1"
  c1=$(calls | sum); calls > "$D/calls.1"; u1=$(cpu)
  STORE=
  l2=$(chain nodir); echo "$links, LMDB again: $l2"
  STORE="unix:$D/redis.sock?local=$D/state"
  r2=$(chain nodir); echo "$links, Redis again: $r2"
  STORE=
  echo "$(field "$r1" rate) $(field "$r2" rate) $(field "$l1" rate) $(field "$l2" rate)" |
    awk '{ printf "ratio Redis/LMDB = %.3f (target >= 0.8; first pair %.3f, second %.3f)\n", ($1 + $2) / ($3 + $4), $1 / $3, $2 / $4 }'
  conns=$(field "$r1" sessions)
  echo "Redis commands in the first Redis run: $((c1 - c0)) for $conns sessions ($(field "$r1" served) served, one RCPT each):"
  # the round trips are the commands the chain sends (EVALSHA, EVAL, MGET, ...): GET and SET
  # run only inside the scripts, INFO is this bench's
  join -a 2 "$D/calls.0" "$D/calls.1" | awk -v c="$conns" -v t="$(getconf CLK_TCK)" -v u="$((u1 - u0))" '
    NF == 5 { d = $4 - $2; us = $5 - $3 } NF == 3 { d = $2; us = $3 }
    d > 0 { inner = $1 ~ /^(get|set)$/; mine = $1 ~ /^(info|select|auth)$/
      printf "  %s %d (%.2f a connection, %.2f us each%s)\n", $1, d, d / c, us / d, inner ? ", inside the scripts" : mine ? "" : ", a round trip"
      if (!inner && !mine) { rt += d; usall += us } }
    END { printf "round trips to Redis: %.2f a connection (MAIL from a sender, one RCPT: the rate and slot, the blacklist at MAIL; such a RCPT costs none, a bounce\047s one, a greylisted one two: tests/e2e/redis.t.sh); %.1f us of their command time (the scripts\047 GET and SET included) a connection\n", rt / c, usall / c
      printf "redis-server CPU: %.1f s for %d connections: %.1f us a connection (%.0f connections a second at 100%% of one core)\n", u / t, c, u / t * 1e6 / c, c / (u / t) }'
  echo "failed by the chain (Redis runs): $(field "$r1" failed) $(field "$r2" failed); warnings in the logs: $(cat "$D"/log.chain.*/current 2>/dev/null | grep -c 'warning')"
  exit 0
fi

# 1. the target: the chain in front of the test downstream that records each
# message, against that downstream alone, before and after (the disk's rate of
# flushes changes from minute to minute here: the mean of the two is the anchor)
OUT=$D/out.bare1; b=$(bare record); echo "bare test downstream (recording) under tcpserver: $b"
OUT=$D/out.chain; c=$(chain record "$D/rss"); echo "$links+test downstream (recording): $c"
OUT=$D/out.relay; p=$(relay record); echo "a proxy that only relays+test downstream (recording): $p"
OUT=$D/out.bare2; b2=$(bare record); echo "bare test downstream (recording), again: $b2"
br=$(field "$b" rate); cr=$(field "$c" rate); br2=$(field "$b2" rate); pr=$(field "$p" rate)
echo "$cr $br $br2 $pr" | awk '{ printf "ratio chain/bare = %.3f (target >= 0.5; against the first bare run %.3f, the second %.3f)\nrelay-only proxy/bare = %.3f, chain/relay-only proxy = %.3f\n", 2 * $1 / ($2 + $3), $1 / $2, $1 / $3, 2 * $4 / ($2 + $3), $1 / $4 }'
cpu() { field "$1" cpu_ms_per_served; }
echo "$(cpu "$c") $(cpu "$b") $(cpu "$b2") $(cpu "$p") $(field "$c" client_cpu_s) $(field "$b" client_cpu_s)" |
  awk '{ printf "CPU per clean session (server side, ms): chain %.3f, bare %.3f and %.3f, relay-only proxy %.3f; ratio chain/bare = %.2f (target <= 2), relay-only proxy/bare = %.2f; load generator CPU: %.1f s (chain), %.1f s (bare)\n", $1, $2, $3, $4, 2 * $1 / ($2 + $3), 2 * $4 / ($2 + $3), $5, $6 }'
echo "chain: greeting p50 $(field "$c" greeting_p50_ms) ms, p99 $(field "$c" greeting_p99_ms) ms (bare p99 $(field "$b" greeting_p99_ms) ms); failed by the chain: $(field "$c" failed) (target 0)"
memory "$D/rss"
rec=$(ls "$D/out.chain" | grep -c '^msg\.')
echo "state: $(du -k "$D/state/data.mdb" | cut -f1) KiB in data.mdb; messages recorded by the downstream: $rec, accepted (250) as the client saw: $(field "$c" served) (must be equal)"
cat "$D"/log.chain.record.*/@* "$D"/log.chain.record.*/current 2>/dev/null > "$D/chain.log"
echo "log of the chain's run (multilog): $(grep -c ' rblcheck: ' "$D/chain.log") rblcheck lines, $(grep -c ' throttle: ' "$D/chain.log") throttle lines, $(grep -c ' rcptcheck: ' "$D/chain.log") rcptcheck lines; warnings and fatal errors: $(grep -c 'warning\|fatal' "$D/chain.log")"

# 2. the chain's own cost: a downstream that stores nothing, and the floor of
# the same chain for relay clients, where every link only passes on (tcpserver's
# fork, the links in one process (sdu-chain(1)), the downstream's exec: no DNS,
# no state, no proxy)
b=$(bare nodir); echo "bare smtpsink -x nodir: $b"
c=$(chain nodir); echo "$links+smtpsink -x nodir: $c"
RELAYCLIENT=; export RELAYCLIENT
f=$(chain nodir); echo "the same chain, every link passes on (RELAYCLIENT): $f"
unset RELAYCLIENT
p=$(relay nodir); echo "a proxy that only relays+smtpsink -x nodir: $p"
br=$(field "$b" rate); cr=$(field "$c" rate); fr=$(field "$f" rate); pr=$(field "$p" rate)
echo "$cr $br $fr $pr" | awk '{ printf "downstream that stores nothing: chain/bare = %.3f; pass-on floor/bare = %.3f, chain/floor = %.3f; relay-only proxy/bare = %.3f, chain/relay-only proxy = %.3f\n", $1 / $2, $3 / $2, $1 / $3, $4 / $2, $1 / $4 }'
echo "$(cpu "$c") $(cpu "$b") $(cpu "$f") $(cpu "$p")" |
  awk '{ printf "CPU per clean session, downstream that stores nothing (ms): chain %.3f, bare %.3f, pass-on floor %.3f, relay-only proxy %.3f; ratio chain/bare = %.2f, floor/bare = %.2f, relay-only proxy/bare = %.2f\n", $1, $2, $3, $4, $1 / $2, $3 / $2, $4 / $2 }'

# a million log lines through sdu-report, against wc -l and awk on the same file
awk -v p="$src" 'BEGIN { srand(1); for (i = 0; i < 250000; i++) {
  ip = p "." int(rand() * 4) "." (1 + int(rand() * 250));
  printf "@400000006553f10a%08x rblcheck: ip=%s lists=%s score=1 action=%s rule=3 ms=2\n", i, ip, (i % 3 ? "-" : "dul"), (i % 3 ? "pass" : "reject");
  printf "@400000006553f10a%08x throttle: ip=%s lists=- action=proxy conn=3 rcpts=1 throttled=1 msgs=1\n", i, ip;
  printf "@400000006553f10a%08x rcptcheck: ip=%s from=a@example.org rcpt=b@example.net action=accept reason=table\n", i, ip;
  printf "@400000006553f10a%08x tcpserver: end %d status 0\n", i, i } }' > "$D/million"
t() { s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); echo "$s $e" | awk '{ printf "%.3f", $2 - $1 }'; }
r=$(t "$top/throttle/sdu-report" -a -s "$D/million")
w=$(t wc -l "$D/million")
a=$(t awk '{ n[$3]++ } END { for (k in n) c++; print c }' "$D/million")
echo "sdu-report on $(wc -l < "$D/million") lines: ${r} s (wc -l ${w} s, awk counting by host ${a} s; target: a few seconds)"
