#!/bin/sh
# bench/rblcheck.sh: rblcheck against rblsmtpd with 4 lists that answer after 50 ms, and the cost
# of a clean client (connections per second through rblcheck, a bare exec, prog alone, and
# bench/rblcheck_floor: the same 4 queries then exec, the least a link that asks can cost; each as a
# rate and as the CPU of the server's whole process tree a connection, bench/treecpu), and the
# time to the complete greeting for a client on no list with the pregreet watch on and off, in one run.
# usage: sh bench/rblcheck.sh [ runs [ connections [ parallel clients ] ] ]   (after make; needs root: DNS on port 53)
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}; conns=${2:-2000}; par=${3:-1}
delay=50
if [ "$(id -u)" -ne 0 ]; then echo "bench/rblcheck.sh: needs root (DNS servers on port 53)" >&2; exit 111; fi
for p in rblsmtpd tcpserver; do
  command -v $p > /dev/null || { echo "bench/rblcheck.sh: $p not installed" >&2; exit 111; }
done
work=$top/tests/tmp/bench-rblcheck.$$
mkdir -p "$work"
pids=
# serve() runs in $(...): its tcpserver pids come back through a file
cleanup() { for p in $pids $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 111' INT TERM

# a loopback address with nothing on port 53
addr() {
  while :; do
    a=127.$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 1 )).$(( $(od -An -N1 -tu1 /dev/urandom) )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 1 ))
    [ -z "$(ss -Hluan "src $a:53" 2>/dev/null)" ] && { echo "$a"; return; }
  done
}
dns() { # ADDR DELAY: a DNSBL server that answers every query after DELAY ms
  "$top/bench/rblcheck_dnsdelay" -d "$2" "$1" 2>> "$work/dns.log" &
  pids="$pids $!"
  i=0; while [ $i -lt 50 ] && [ -z "$(ss -Hluan "src $1:53" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
}
ms() { date +%s%N; }

slow=$(addr); dns "$slow" "$delay"
fast=$(addr); dns "$fast" 0
printf 'list l1 l1.bench.test\nlist l2 l2.bench.test\nlist l3 l3.bench.test\nlist l4 l4.bench.test\nrule any tag\n' > "$work/policy"

# --- 1. time to decide for a client on none of 4 lists, each answering after 50 ms
each() { # label cmd...: mean milliseconds per run over $runs runs
  t0=$(ms); i=0
  while [ $i -lt "$runs" ]; do "$@" < /dev/null > /dev/null 2>> "$work/log"; i=$((i + 1)); done
  t1=$(ms)
  echo "$t0 $t1 $runs" | awk '{ printf "%.1f", ($2 - $1) / 1e6 / $3 }'
}
export TCPREMOTEIP=192.0.2.1 DNSCACHEIP=$slow
rc=$(each env "$top/rblcheck/rblcheck" -f "$work/policy" true)
rs=$(each rblsmtpd -r l1.bench.test -r l2.bench.test -r l3.bench.test -r l4.bench.test true)
base=$(each "$top/bench/rblcheck_exec" true)
logged=$(grep -o 'ms=[0-9]*' "$work/log" | sed 's/ms=//' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "4 lists, each answering after $delay ms, a client on none, $runs runs each:"
echo "  rblcheck  $rc ms per connection (lookups alone, median of its log: $logged ms)"
echo "  rblsmtpd  $rs ms per connection"
echo "  bare exec $base ms per connection (process start, subtracted below)"
echo "$rc $rs $base $delay $logged" | awk '{
  printf "  rblcheck decides in %.2f x one answer'"'"'s delay (target <= 1.3; from its log %.2f x)\n", ($1 - $3) / $4, $5 / $4;
  printf "  rblsmtpd decides in %.2f x one answer'"'"'s delay (about 4 expected)\n", ($2 - $3) / $4;
  printf "  rblsmtpd / rblcheck = %.2f\n", ($2 - $3) / ($1 - $3) }'

# --- 2. connections per second, lookups answered at once
export DNSCACHEIP=$fast
unset TCPREMOTEIP
serve() { # prog...: tcpserver on a free port under bench/treecpu (the CPU
  # of its whole tree into $work/cpu.PORT when it stops); prints the port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null)
  [ -n "$port" ] || port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 10000 ))
  setsid "$top/bench/treecpu" "$work/cpu.$port" tcpserver -RHl0 -c 100 127.0.0.1 "$port" "$@" > /dev/null 2>> "$work/tcpserver.log" &
  _tc=$!
  i=0; while [ $i -lt 50 ] && [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
  # treecpu waits out SIGTERM: tcpserver is the one to stop
  echo "$(pgrep -P "$_tc")" >> "$work/pids"
  echo "$port"
}
stopcpu() { # port...: stop their tcpservers; prints each tree's CPU seconds
  for _p in "$@"; do
    pkill -TERM -f "tcpserver -RHl0 -c 100 127.0.0.1 $_p " 2>/dev/null
  done
  for _p in "$@"; do
    _i=0; while [ $_i -lt 50 ] && [ ! -s "$work/cpu.$_p" ]; do sleep 0.1; _i=$((_i + 1)); done
    sed -n 's/^cpu=\([0-9.]*\) .*/\1/p' "$work/cpu.$_p"
  done
}
sink="$top/tests/smtpsink -x nodir"
p_rbl=$(serve "$top/rblcheck/rblcheck" -f "$work/policy" $sink)
p_off=$(serve "$top/rblcheck/rblcheck" -P -f "$work/policy" $sink)
p_g0=$(serve "$top/rblcheck/rblcheck" -g 0 -f "$work/policy" $sink)
p_exec=$(serve "$top/bench/rblcheck_exec" $sink)
p_floor=$(serve "$top/bench/rblcheck_floor" l1.bench.test l2.bench.test l3.bench.test l4.bench.test -- $sink)
p_alone=$(serve $sink)
p_lat=$(serve "$top/rblcheck/rblcheck" -f "$work/policy" $sink)
rate() { # port: connections per second, $par clients at once
  _t0=$(ms); _j=0; _cp=
  while [ $_j -lt "$par" ]; do
    "$top/bench/smtpblast" -n 0 -c $((conns / par)) 127.0.0.1 "$1" > /dev/null &
    _cp="$_cp $!"; _j=$((_j + 1))
  done
  for _p in $_cp; do wait "$_p"; done
  _t1=$(ms)
  echo "$_t0 $_t1" | awk -v c=$((conns / par * par)) '{ printf "%.0f", c / (($2 - $1) / 1e9) }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# alternating rounds, the same tcpserver options and prog for all three; the
# median of each, and the median of the per-round ratios (a slow moment of
# the machine then hits all three alike)
rounds=${ROUNDS:-7}
: > "$work/rates"
round=0
while [ $round -lt "$rounds" ]; do
  a=$(rate "$p_rbl"); b=$(rate "$p_exec"); c=$(rate "$p_alone"); d=$(rate "$p_floor")
  echo "$a $b $c $d" >> "$work/rates"
  round=$((round + 1))
done
r_rbl=$(awk '{ print $1 }' "$work/rates" | median)
r_exec=$(awk '{ print $2 }' "$work/rates" | median)
r_alone=$(awk '{ print $3 }' "$work/rates" | median)
r_floor=$(awk '{ print $4 }' "$work/rates" | median)
ratio=$(awk '{ printf "%.3f\n", $1 / $2 }' "$work/rates" | median)
fratio=$(awk '{ printf "%.3f\n", $4 / $2 }' "$work/rates" | median)
rfratio=$(awk '{ printf "%.3f\n", $1 / $4 }' "$work/rates" | median)
echo "clean client, 4 lists answered at once, $conns connections from $par client(s) at a time (median of $rounds alternating rounds):"
echo "  prog alone           $r_alone conn/s"
echo "  bare exec, then prog $r_exec conn/s"
echo "  rblcheck, then prog  $r_rbl conn/s"
echo "  floor, then prog     $r_floor conn/s (bench/rblcheck_floor: the same 4 queries, no policy, no log, then exec)"
echo "$r_rbl $r_exec $r_alone $ratio" | awk '{ printf "  rblcheck / bare exec = %.3f (target >= 0.95; median of the rounds'"'"' ratios %.3f); rblcheck / prog alone = %.3f\n", $1 / $2, $4, $1 / $3 }'
echo "  floor / bare exec = $fratio, rblcheck / floor = $rfratio (medians of the rounds' ratios: what the 4 round trips cost, what rblcheck adds to them)"
# each round, for the spread: one client at a time, so a round's rate moves with
# every wake-up of the machine (the floor's rounds have ranged over 2x in one run)
awk '{ printf "%s%s/%s/%s/%s", (NR > 1 ? ", " : "  rounds (rblcheck/bare exec/alone/floor conn/s): "), $1, $2, $3, $4 } END { print "" }' "$work/rates"
# the CPU of each server's whole tree (tcpserver, the link, the program) a
# connection, over all the rounds: the figure that does not swing with what
# else the machine does while a client waits
sleep 0.5
cpu=$(stopcpu "$p_rbl" "$p_exec" "$p_alone" "$p_floor" | tr '\n' ' ')
echo "$cpu" | awk -v c=$((conns / par * par * rounds)) 'NF == 4 { printf "  CPU a connection, the whole tree: rblcheck %.3f ms, bare exec %.3f, alone %.3f, floor %.3f; floor / rblcheck = %.3f (as the rates)\n", 1000 * $1 / c, 1000 * $2 / c, 1000 * $3 / c, 1000 * $4 / c, $4 / $1 }'

# --- 3. time to the complete greeting, the pregreet watch on (the default) and off (-P)
latn=${LATN:-1000}
lat=$("$top/bench/greetlat" -n "$latn" 127.0.0.1 "$p_lat" "$p_off") || exit 111
echo "time to the complete greeting, a client on none of 4 lists answered at once ($latn connections each, taken in turn):"
echo "$lat" | awk 'NR == 1 { on = $2; printf "  watch on  (the default: 220- only if the answers take 5 ms): median %.1f us (quartiles %.1f .. %.1f)\n", $2, $1, $3 }
  NR == 2 { off = $2; printf "  watch off (-P):           median %.1f us (quartiles %.1f .. %.1f)\n", $2, $1, $3 }
  END { printf "  difference of the medians: %+.1f us (%+.1f%%)\n", on - off, 100 * (on - off) / off }'
# the noise floor of that difference: the same server (watch off) against
# itself, in the same way; a difference within it is not measurable
aa=$("$top/bench/greetlat" -n "$latn" 127.0.0.1 "$p_off" "$p_off") || exit 111
echo "$aa" | awk 'NR == 1 { a = $2 } NR == 2 { b = $2 } END { printf "  noise floor: watch off against itself, difference of the medians %+.1f us (%+.1f%%)\n", a - b, 100 * (a - b) / b }'
# for comparison: -g 0, the first line as soon as the queries are out
g0=$("$top/bench/greetlat" -n "$latn" 127.0.0.1 "$p_g0" "$p_off") || exit 111
echo "$g0" | awk 'NR == 1 { a = $2 } NR == 2 { b = $2 } END { printf "  -g 0 (220- as the queries go) against the watch off: %+.1f us (%+.1f%%)\n", a - b, 100 * (a - b) / b }'
