#!/bin/sh
# bench/proxy.sh: message data through one proxy link against a direct
# connection to the same downstream, in one run; and a proxy link's memory at rest.
# Then large messages (20 MB, written in one go after 354) in 30 runs each
# way, against a fast downstream and one that reads 1024 bytes at a time as
# qmail-smtpd does: the ratio and how many runs stalled (no reply within 60 s).
# usage: sh bench/proxy.sh [ messages [ bytes [ large-runs ] ] ]   (after make)
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}; size=${2:-100000}; runs=${3:-30}
work=$top/tests/tmp/bench-proxy.$$
mkdir -p "$work"
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # port prog...
  port=$1; shift
  tcpserver -RHl0 127.0.0.1 "$port" "$@" 2>>"$work/tcpserver.log" &
  pids="$pids $!"
  i=0; while [ $i -lt 50 ] && ! (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.1; i=$((i+1)); done
}
# /dev/tcp is bash's: run the wait with bash where sh lacks it
command -v bash >/dev/null && serve() {
  port=$1; shift
  tcpserver -RHl0 127.0.0.1 "$port" "$@" 2>>"$work/tcpserver.log" &
  pids="$pids $!"
  bash -c "for i in \$(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
}

# the same downstream both ways: smtpsink counting what it gets (-x nodir), so
# that the figure is the cost of the relay itself, not of a disk
direct=$(freeport); serve "$direct" "$top/tests/smtpsink" -x nodir
proxied=$(freeport); serve "$proxied" "$top/tests/sdu-testproxy" -q "$top/tests/smtpsink" -x nodir

# five rounds, the two taking turns; the median of each
: > "$work/d"; : > "$work/p"
for r in 1 2 3 4 5; do
  "$top/bench/smtpblast" -n "$n" -s "$size" 127.0.0.1 "$direct" | sed 's/.*MBps=//' >> "$work/d"
  "$top/bench/smtpblast" -n "$n" -s "$size" 127.0.0.1 "$proxied" | sed 's/.*MBps=//' >> "$work/p"
done
d=$(sort -n "$work/d" | sed -n 3p); p=$(sort -n "$work/p" | sed -n 3p)
echo "data: $n messages of $size bytes, median of 5: direct ${d} MB/s, through one proxy link ${p} MB/s"
echo "$p $d" | awk '{ printf "ratio proxy/direct = %.3f (target >= 0.9)\n", $1 / $2 }'

# large messages: one of 20 MB per connection, $runs runs each way, taking
# turns; a run that stalls (smtpblast -t 60) is counted, not timed
large() { # name smtpsink-options...
  _name=$1; shift
  _d=$(freeport); serve "$_d" "$top/tests/smtpsink" -x nodir "$@"
  _p=$(freeport); serve "$_p" "$top/tests/sdu-testproxy" -q "$top/tests/smtpsink" -x nodir "$@"
  : > "$work/ld"; : > "$work/lp"; _stalls=0
  _r=0
  while [ $_r -lt "$runs" ]; do
    _r=$((_r + 1))
    "$top/bench/smtpblast" -t 60 -n 1 -s 20000000 127.0.0.1 "$_d" 2>> "$work/large.err" | sed 's/.*MBps=//' >> "$work/ld"
    "$top/bench/smtpblast" -t 60 -n 1 -s 20000000 127.0.0.1 "$_p" 2>> "$work/large.err" | sed "s/.*MBps=//" >> "$work/lp"
  done
  _stalls=$(grep -c "stalled" "$work/large.err")
  _m=$(( (runs + 1) / 2 ))
  _dm=$(sort -n "$work/ld" | sed -n "${_m}p"); _pm=$(sort -n "$work/lp" | sed -n "${_m}p")
  echo "large, $_name: $runs runs of one 20 MB message, median: direct ${_dm} MB/s, through one proxy link ${_pm} MB/s, stalled $_stalls of $runs, failed $(( runs - $(wc -l < "$work/lp") )) through the proxy"
  echo "$_pm $_dm" | awk -v n="$_name" '{ printf "ratio proxy/direct, large, %s = %.3f (target >= 0.9)\n", n, $1 / $2 }'
  : > "$work/large.err"
}
large "fast downstream"
large "downstream reading 1024 bytes at a time" -x read=1024

# the same through exim4 -bs, a real SMTP server that queues and delivers
# (as qmail-smtpd does); needs root for exim4 -C
if [ "$(id -u)" -eq 0 ] && command -v exim4 > /dev/null; then
  E2E_DIR=$work/exim; mkdir -p "$E2E_DIR"
  . "$top/tests/lib/e2e.sh" 2>/dev/null
  E2E_DIR=$work/exim
  e2e_exim_conf
  sed -i 's/^  directory = .*/  directory = \/dev\/null/; s/^  maildir_format = true/  maildir_format = false/; s/^  driver = appendfile/  driver = appendfile\n  file = \/dev\/null/' "$E2E_DIR/exim.conf"
  sed -i '/^  directory = /d' "$E2E_DIR/exim.conf"
  ed=$(freeport); serve "$ed" $(e2e_exim_cmd)
  ep=$(freeport); serve "$ep" "$top/tests/sdu-testproxy" -q $(e2e_exim_cmd)
  m=$((n / 10)); : > "$work/ed"; : > "$work/ep"
  for r in 1 2 3; do
    "$top/bench/smtpblast" -n "$m" -s "$size" 127.0.0.1 "$ed" | sed 's/.*MBps=//' >> "$work/ed"
    "$top/bench/smtpblast" -n "$m" -s "$size" 127.0.0.1 "$ep" | sed 's/.*MBps=//' >> "$work/ep"
  done
  d=$(sort -n "$work/ed" | sed -n 2p); p=$(sort -n "$work/ep" | sed -n 2p)
  echo "with exim4 -bs: $m messages, median of 3: direct ${d} MB/s, through one proxy link ${p} MB/s"
  echo "$p $d" | awk '{ printf "ratio proxy/direct with exim4 -bs = %.3f\n", $1 / $2 }'
fi

# memory at rest: one proxy link holding an idle session
mkfifo "$work/in"
"$top/tests/sdu-testproxy" -q "$top/tests/smtpsink" -x nodir < "$work/in" > "$work/out" 2>/dev/null &
px=$!; pids="$pids $px"
exec 3> "$work/in"
printf 'EHLO idle.example\r\n' >&3
sleep 0.5
rss=$(awk '/^VmRSS/ { print $2 }' /proc/$px/status)
echo "proxy link at rest: VmRSS ${rss} KiB (target < 2048 KiB)"
exec 3>&-
wait $px 2>/dev/null
