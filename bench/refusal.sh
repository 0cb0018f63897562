#!/bin/sh
# bench/refusal.sh: the wall time of a session rblcheck refuses against a clean one's
# (issue 16 section 5): a client on a list gets rblcheck's responder, a clean one
# tests/smtpsink behind rblcheck. Each session is a flood client's: greeting, EHLO,
# then MAIL, RCPT and DATA in one write (bench/smtpblast -r); the message if DATA gets
# 354, else QUIT. Printed: ms per session, one session in flight and par at once,
# and refused / clean (a responder that stalls on Nagle against delayed ACK: ~40 ms).
# usage: sh bench/refusal.sh [ sessions [ par ] ]   (after make; needs root: DNS on port 53)
top=$(cd "$(dirname "$0")/.." && pwd)
sessions=${1:-500}; par=${2:-5}
if [ "$(id -u)" -ne 0 ]; then echo "bench/refusal.sh: needs root (DNS servers on port 53)" >&2; exit 111; fi
command -v tcpserver > /dev/null || { echo "bench/refusal.sh: tcpserver not installed" >&2; exit 111; }
work=$top/tests/tmp/bench-refusal.$$
mkdir -p "$work"
pids=
cleanup() { for p in $pids $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 111' INT TERM

addr() { # a loopback address with nothing on port 53
  while :; do
    a=127.$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 1 )).$(( $(od -An -N1 -tu1 /dev/urandom) )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 1 ))
    [ -z "$(ss -Hluan "src $a:53" 2>/dev/null)" ] && { echo "$a"; return; }
  done
}
dns() { # ADDR [ -l IP ]: a DNSBL server answering at once
  a=$1; shift
  "$top/bench/rblcheck_dnsdelay" "$@" "$a" 2>> "$work/dns.log" &
  pids="$pids $!"
  i=0; while [ $i -lt 50 ] && [ -z "$(ss -Hluan "src $a:53" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
}
listing=$(addr); dns "$listing" -l 127.0.0.1
clean=$(addr); dns "$clean"
printf 'list l1 l1.bench.test\nrule l1 reject\n' > "$work/policy"

serve() { # DNSCACHEIP: rblcheck, then smtpsink, on a free port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null)
  [ -n "$port" ] || port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 10000 ))
  DNSCACHEIP=$1 tcpserver -RHl0 -c 100 127.0.0.1 "$port" \
    "$top/rblcheck/rblcheck" -f "$work/policy" "$top/tests/smtpsink" -x nodir 2>> "$work/server.log" &
  echo $! >> "$work/pids"
  i=0; while [ $i -lt 50 ] && [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
  echo "$port"
}
p_ref=$(serve "$listing")
p_clean=$(serve "$clean")

run() { # PORT PAR: ms per session (wall time of all / sessions, PAR clients at once) and the refused count
  _j=0; _cp=
  : > "$work/out"
  _t0=$(date +%s%N)
  while [ $_j -lt "$2" ]; do
    "$top/bench/smtpblast" -r -s 300 -c $((sessions / $2)) 127.0.0.1 "$1" >> "$work/out" &
    _cp="$_cp $!"; _j=$((_j + 1))
  done
  for _p in $_cp; do wait "$_p"; done
  _t1=$(date +%s%N)
  # per session as a client sees it: each client's own ms_per_session, averaged
  awk -F'[ =]' '{ for (i = 1; i < NF; ++i) { if ($i == "ms_per_session") s += $(i + 1); if ($i == "refused") r += $(i + 1) } n++ }
    END { printf "%.3f %d", s / n, r }' "$work/out"
}
for par_now in 1 "$par"; do
  set -- $(run "$p_clean" "$par_now"); c_ms=$1; c_ref=$2
  set -- $(run "$p_ref" "$par_now"); r_ms=$1; r_ref=$2
  echo "$sessions sessions, $par_now at a time:"
  echo "  clean   $c_ms ms per session (refused: $c_ref)"
  echo "  refused $r_ms ms per session (refused: $r_ref)"
  echo "$r_ms $c_ms" | awk '{ printf "  refused / clean = %.2f (target <= 1)\n", $1 / $2 }'
done
