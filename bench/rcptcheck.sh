#!/bin/sh
# bench/rcptcheck.sh: a dictionary attack of pipelined unknown recipients in one
# connection against rcptcheck with a small and a large table (lookup cost must
# not grow), against the bare proxy engine refusing everything (the anchor);
# and the builder's addresses per second against tinycdb's cdb -c -m.
# usage: sh bench/rcptcheck.sh [ recipients [ big-table-size ] ]   (after make)
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}; big=${2:-1000000}
work=$top/tests/tmp/bench-rcptcheck.$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
cpu="$top/bench/rcptcheck-cpu"
[ -x "$cpu" ] && [ -x "$top/rcptcheck/rcptcheck" ] || { echo "bench/rcptcheck.sh: run make first" >&2; exit 111; }

# tables: 10 and $big addresses of one domain
awk 'BEGIN { for (i = 0; i < 10; i++) printf "user%d@example.org\n", i }' > "$work/small.list"
awk -v n="$big" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example.org\n", i }' > "$work/big.list"
awk '{ print $1 " " }' "$work/big.list" > "$work/big.map"

wbest() { # the best (smallest) of three runs of "cpu=" or "wall=" ($1) for the command
  what=$1; shift
  b=
  for r in 1 2 3; do
    v=$("$cpu" "$@" 2>&1 > /dev/null < /dev/null | sed -n "s/.*$what=\([0-9.]*\).*/\1/p" | tail -n 1)
    b=$(echo "$v ${b:-$v}" | awk '{ print ($1 < $2) ? $1 : $2 }')
  done
  echo "$b"
}

bw=$(wbest wall "$top/rcptcheck/rcptcheck-build" -f "$work/big.cdb" "$work/big.list")
cw=$(wbest wall cdb -c -m "$work/anchor.cdb" "$work/big.map")
"$top/rcptcheck/rcptcheck-build" -f "$work/small.cdb" "$work/small.list"
echo "builder: $big addresses in ${bw}s = $(echo "$big $bw" | awk '{ printf "%d", $1 / $2 }') addresses/s;" \
  "cdb -c -m (anchor) ${cw}s; ratio $(echo "$bw $cw" | awk '{ printf "%.2f", $1 / $2 }')"

# the attack: EHLO, MAIL, $n RCPTs of unknown users in one connection, sent
# pipelined in windows of 100 commands (a client reading its replies as it
# goes), QUIT; prints the CPU seconds of the link and what is behind it
attack() { # prog args...
  python3 - "$n" "$cpu" "$@" <<'PY'
import subprocess, sys
n = int(sys.argv[1]); cmd = sys.argv[2:]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
def replies(k):
    got = 0
    while got < k:
        line = p.stdout.readline()
        if not line: sys.exit("connection closed early")
        if line[3:4] == b" ": got += 1
        if line.startswith(b"550"): refused[0] += 1
refused = [0]
p.stdin.write(b"EHLO attacker\r\nMAIL FROM:<a@spam.example>\r\n"); p.stdin.flush(); replies(3)
i = 0
while i < n:
    w = min(100, n - i)
    p.stdin.write(b"".join(b"RCPT TO:<nosuch%d@example.org>\r\n" % (i + j) for j in range(w))); p.stdin.flush()
    replies(w); i += w
p.stdin.write(b"QUIT\r\n"); p.stdin.close(); p.stdout.read()
err = p.stderr.read().decode()
p.wait()
cpu = [l for l in err.split("\n") if l.startswith("cpu=")][-1]
print(cpu.split()[0][4:], refused[0])
PY
}
best() { # the smallest CPU time of three attacks; REFUSED gets the refusals
  b=
  for r in 1 2 3; do
    out=$(attack "$@")
    v=${out% *}; REFUSED=${out#* }
    b=$(echo "$v ${b:-$v}" | awk '{ print ($1 < $2) ? $1 : $2 }')
  done
  echo "$b $REFUSED"
}
export RCPTCHECK_MAXREFUSED=0
set -- $(best sh -c "exec '$top/rcptcheck/rcptcheck' -f '$work/small.cdb' '$top/tests/smtpsink' -x nodir 2>/dev/null"); small=$1 rs=$2
set -- $(best sh -c "exec '$top/rcptcheck/rcptcheck' -f '$work/big.cdb' '$top/tests/smtpsink' -x nodir 2>/dev/null"); large=$1 rl=$2
set -- $(best sh -c "exec '$top/tests/sdu-testproxy' -r nosuch '$top/tests/smtpsink' -x nodir 2>/dev/null"); anchor=$1 ra=$2
echo "attack: $n unknown recipients in one connection; refused: $rs (table of 10), $rl (table of $big), $ra (anchor)"
echo "  table of 10:       ${small}s CPU = $(echo "$n $small" | awk '{ printf "%d", $1 / ($2 > 0 ? $2 : 0.0001) }') refusals per CPU second"
echo "  table of $big: ${large}s CPU = $(echo "$n $large" | awk '{ printf "%d", $1 / ($2 > 0 ? $2 : 0.0001) }') refusals per CPU second"
echo "  large/small CPU ratio $(echo "$large $small" | awk '{ printf "%.2f", $1 / ($2 > 0 ? $2 : 0.0001) }')"
echo "  anchor, the proxy engine refusing by substring (sdu-testproxy): ${anchor}s CPU; rcptcheck/anchor $(echo "$large $anchor" | awk '{ printf "%.2f", $1 / ($2 > 0 ? $2 : 0.0001) }')"
