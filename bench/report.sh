#!/bin/sh
# bench/report.sh: sdu-report on 10^6 realistic log lines (a day of a busy MX:
# tcpserver's own lines, rblcheck, throttle with greylisting, rcptcheck,
# spamgrab as qmail-send logs it), in its modes: the summary (-s, the anchor),
# the HTML page (-H), the mail (-M) and the metrics (-P, the first run with no
# state reads everything; the second finds nothing new). Prints each mode's
# CPU and wall time, and its CPU time's ratio to -s in the same round, every round.
# usage: sh bench/report.sh [ rounds [ lines ] ]   (after make; default 3 rounds, 10^6 lines)
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
lines=${2:-1000000}
R="$top/throttle/sdu-report"
[ -x "$R" ] || { echo "report.sh: $R is not built (make)" >&2; exit 111; }
D="$top/tests/tmp/bench-report.$$"
rm -rf "$D"; mkdir -p "$D/log" "$D/prom" || exit 111
trap 'rm -rf "$D"' EXIT INT TERM

# the clock at the end of the day; stamps spread over the 24 hours before it
now=1700086400
awk -v lines="$lines" -v now="$now" 'BEGIN {
  srand(7); n = 0; pid = 1000; start = now - 86400
  split("spamhaus,dul,orbs,pbl", L, ",")
  while (n < lines) {
    t = start + int(86400 * n / lines)
    ns = int(rand() * 1000000000)
    st = sprintf("@40000000%08x%08x", t + 10, ns)
    # a few hosts come back all day (the worst), the rest are many
    if (rand() < 0.3) ip = "198.51." int(rand() * 4) "." (1 + int(rand() * 50))
    else ip = int(11 + rand() * 200) "." int(rand() * 256) "." int(rand() * 256) "." (1 + int(rand() * 254))
    ++pid
    printf "%s tcpserver: status: %d/40\n", st, 1 + pid % 40
    printf "%s tcpserver: pid %d from %s\n", st, pid, ip
    printf "%s tcpserver: ok %d mx.example.net:192.0.2.1:25 :%s::%d\n", st, pid, ip, 1024 + pid % 60000
    n += 3
    r = rand()
    if (r < 0.35) {
      l = L[1 + int(rand() * 4)]
      printf "%s rblcheck: ip=%s lists=%s score=1 action=reject rule=%d ms=%d\n", st, ip, l, 10 + int(rand() * 3), int(rand() * 80)
      n += 1
    } else if (r < 0.40) {
      printf "%s rblcheck: ip=%s lists=pbl score=1 action=greylist rule=14 ms=%d\n", st, ip, int(rand() * 80)
      g = rand() < 0.7 ? "new" : (rand() < 0.5 ? "pass" : "early")
      printf "%s throttle: ip=%s lists=pbl action=%s grey=%s triplet=%04x%04x%08x%016d\n", st, ip, g == "pass" ? "pass" : "tempfail", g, int(rand() * 65536), int(rand() * 65536), pid, 0
      printf "%s throttle: ip=%s lists=pbl action=proxy rcpts=%d greylisted=%d msgs=%d\n", st, ip, g == "pass", g != "pass", g == "pass"
      n += 3
    } else {
      printf "%s rblcheck: ip=%s lists=- score=0 action=pass ms=%d\n", st, ip, int(rand() * 40)
      if (rand() < 0.05) {
        printf "%s throttle: ip=%s lists=- action=tempfail reason=rate conn=31\n", st, ip
        n += 2
      } else {
        bad = rand() < 0.2
        printf "%s rcptcheck: ip=%s from=a%d@example.org rcpt=%s@example.net action=%s reason=%s\n", st, ip, pid, bad ? "nosuch" : "info", bad ? "reject" : "accept", bad ? "unknown" : "table"
        printf "%s throttle: ip=%s lists=- action=proxy rcpts=%d msgs=%d\n", st, ip, !bad, !bad
        n += 3
      }
    }
    if (pid % 50 == 0) { printf "%s delivery %d: success: spamgrab:_kind=double_ip=%s_lists=dul_tag=ok_known=0_decision=dialup_sent=1_saved=1_action=report/did_0+0+1/\n", st, pid, ip; n++ }
    printf "%s tcpserver: end %d status 0\n", st, pid
    n++
  }
}' > "$D/log/current"
echo "sdu-report on $(wc -l < "$D/log/current") lines ($(wc -c < "$D/log/current") bytes), $rounds rounds"

# the time of one run: wall and CPU (user + system) seconds; the machine may be
# shared, and CPU time is what swings least with the load of others
t() {
  python3 -c 'import resource, subprocess, sys, time
u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
w = time.time()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
w = time.time() - w
u = resource.getrusage(resource.RUSAGE_CHILDREN)
if r.returncode: sys.stderr.write("report.sh: failed: %s\n" % " ".join(sys.argv[1:]))
print("%.3f %.3f" % (w, u.ru_utime + u.ru_stime - u0.ru_utime - u0.ru_stime))' "$@"
}
SDU_TEST_NOW=$now; export SDU_TEST_NOW
i=1
while [ "$i" -le "$rounds" ]; do
  rm -f "$D/state" "$D/prom/sdu.prom"
  s=$(t "$R" -s "$D/log")
  h=$(t "$R" -H "$D/log")
  m=$(t "$R" -M postmaster "$D/log")
  p=$(t "$R" -P "$D/prom/sdu.prom" -S "$D/state" "$D/log")
  q=$(t "$R" -P "$D/prom/sdu.prom" -S "$D/state" "$D/log")
  echo "$i $s $h $m $p $q" | awk '{ printf "round %d, CPU s (wall s): -s %.3f (%.3f); -H %.3f (%.3f) %.2fx; -M %.3f (%.3f) %.2fx; -P first run %.3f (%.3f) %.2fx; -P with nothing new %.3f (%.3f)\n", $1, $3, $2, $5, $4, $5 / $3, $7, $6, $7 / $3, $9, $8, $9 / $3, $11, $10 }'
  i=$((i + 1))
done
echo "(ratios: CPU time against -s in the same round; within 2x is the target)"
