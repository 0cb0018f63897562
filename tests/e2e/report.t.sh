#!/bin/sh
# report.t.sh: sdu-report's outputs for the operator, on the log of a real chain
# (tcpserver, rblcheck, throttle, smtpsink; swaks as the clients) that goes
# through multilog t and rotates: -P's counters between rotations, checked by
# promtool; the Grafana dashboard's queries against them; the HTML page of -H
# checked as HTML and rendered by headless Chromium; the mail of -M, through
# exim4 -t when root.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init report
e2e_need_prog tcpserver tcprules swaks multilog setsid python3
T=$E2E_TOP
D=$E2E_DIR
R="$T/throttle/sdu-report"
CHECK="python3 $T/tests/lib/reportcheck.py"
for b in throttle/sdu-report rblcheck/rblcheck throttle/throttle tests/smtpsink; do
  [ -x "$T/$b" ] || { echo "not ok - report: $b is not built (make)"; exit 1; }
done
unset SDU_TEST_NOW SDU_HARVEST RELAYCLIENT

# clients of our own on loopback: one passes, one is refused for good, one for now
base=127.$((2 + $(e2e_random) % 250)).$(( $(e2e_random) % 250))
c_pass=$base.2 c_rej=$base.3 c_temp=$base.4
e2e_tcprules "$D/rules.cdb" <<EOF
$c_rej:allow,RBLCHECK="-550 you are refused here"
$c_temp:allow,RBLCHECK="451 not now"
:allow
EOF
: > "$D/policy"
mkdir -p "$D/state" "$D/sink" "$D/log"

# the chain logs as a site's run script has it: through a pipe to multilog t,
# rotating every 4096 bytes (a few connections)
mkfifo "$D/log.fifo" || exit 111
setsid multilog t s4096 n20 "$D/log" < "$D/log.fifo" > /dev/null 2> "$D/multilog.err" &
e2e_remember $! multilog
E2E_TCPLOG_TO=$D/log.fifo; export E2E_TCPLOG_TO
e2e_tcpserver -a "$base.1" -x "$D/rules.cdb" 0 rblcheck -f "$D/policy" throttle -d "$D/state" \
  smtpsink -d "$D/sink" || { echo "not ok - report: tcpserver did not start"; exit 1; }

sessions=0
# batch PASS REJ TEMP: that many sessions from each client, then wait until the
# log holds tcpserver's end line of every session so far
batch() {
  for c in "$c_pass:$1" "$c_rej:$2" "$c_temp:$3"; do
    i=0
    while [ $i -lt "${c#*:}" ]; do
      swaks --server "$base.1" --port "$E2E_PORT" --local-interface "${c%:*}" --timeout 10 --helo client.sdu.test \
        --from a@example.org --to b@example.net > /dev/null 2>&1 < /dev/null
      i=$((i + 1)); sessions=$((sessions + 1))
    done
  done
  e2e_wait 200 logged "$sessions"
}
logged() { [ "$(cat "$D"/log/@*.s "$D/log/current" 2>/dev/null | grep -c ' tcpserver: end ')" -ge "$1" ]; }
prom() { "$R" -P "$D/m.prom" -S "$D/state.report" "$D/log" 2> "$D/prom.err"; }
# the value of a series in the metrics file (0 when absent)
val() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$D/m.prom"; }

batch 3 2 1
E2E_LAST=$D/prom.err
e2e_ok "sdu-report -P, first run" prom
batch 4 3 1
e2e_ok "sdu-report -P after more sessions" prom
batch 5 2 2
e2e_ok "sdu-report -P once more" prom
e2e_ok "sdu-report -P with nothing new" prom
rot=$(ls "$D/log" | grep -c '^@.*\.s$')
e2e_check "multilog rotated the log between the runs ($rot files)" '[ "$rot" -ge 2 ]'
E2E_LAST=$D/m.prom
e2e_check "connections passed, refused and tempfailed: each session counted once (12 7 4)" \
  '[ "$(val "sdu_connections_total{link=\"rblcheck\",action=\"pass\"}")" -eq 12 ] &&
   [ "$(val "sdu_connections_total{link=\"rblcheck\",action=\"reject\"}")" -eq 7 ] &&
   [ "$(val "sdu_connections_total{link=\"rblcheck\",action=\"tempfail\"}")" -eq 4 ]'
e2e_check "refusals by reason: rblcheck's \$RBLCHECK (11)" \
  '[ "$(val "sdu_connection_refusals_total{link=\"rblcheck\",reason=\"rblcheck\"}")" -eq 11 ]'
lines=$(cat "$D"/log/@*.s "$D/log/current" | wc -l)
e2e_check "every line of the rotated files and current read once ($lines)" '[ "$(val sdu_log_lines_total)" -eq "$lines" ]'
now=$(date +%s)
e2e_check "the latest line's stamp, from TAI64N" \
  'l=$(val sdu_log_last_line_timestamp_seconds); [ "$l" -le "$now" ] && [ "$l" -ge $((now - 300)) ]'
e2e_check "no client address in the metrics" '! grep -q "$base" "$D/m.prom"'
e2e_check "written atomically: no temp file left" '[ ! -e "$D/m.prom.tmp" ] && [ ! -e "$D/state.report.tmp" ]'

if command -v promtool > /dev/null 2>&1; then
  promtool check metrics < "$D/m.prom" > "$D/promtool.out" 2>&1
  rc=$?
  E2E_LAST=$D/promtool.out
  e2e_check "promtool check metrics: no complaint" '[ $rc -eq 0 ] && [ ! -s "$D/promtool.out" ]'
  printf '# TYPE sdu_x counter\nsdu_x{ip="1"} 1\nsdu_y 2\n' | promtool check metrics > "$D/promtool.bad" 2>&1
  e2e_check "  ... promtool complains of what breaks its rules" 'grep -q "counter metrics should have \"_total\" suffix" "$D/promtool.bad"'
else
  e2e_skip "promtool check metrics" "promtool not installed (Debian's prometheus: sh tools/deps.sh)"
fi
$CHECK grafana "$T/tools/examples/grafana-sdu.json" "$D/m.prom" > "$D/grafana.out" 2>&1
rc=$?
E2E_LAST=$D/grafana.out
e2e_check "tools/examples/grafana-sdu.json: every metric its queries use is one sdu-report writes" '[ $rc -eq 0 ]'

# --- the morning picture ----------------------------------------------------
SDU_TEST_NOW=$(date +%s); export SDU_TEST_NOW # the page and the mail of the same moment
"$R" -s -H "$D/log" > "$D/page.html" 2> "$D/page.err"
rc=$?
$CHECK html "$D/page.html" > "$D/html.out" 2>&1
E2E_LAST=$D/html.out
e2e_check "sdu-report -s -H: well-formed HTML, no script, nothing from elsewhere, an SVG chart" \
  '[ $rc -eq 0 ] && grep -qx ok "$D/html.out"'
e2e_check "  ... the numbers of the summary" \
  'grep -q "47.8% of 23 connections refused" "$D/page.html" && grep -q "refused by rblcheck" "$D/page.html"'
if command -v chromium > /dev/null 2>&1; then
  printf '<!DOCTYPE html>\n<html><head><title>empty</title></head><body></body></html>\n' > "$D/empty.html"
  for p in page empty; do
    # the command that renders the page, for anyone to look at it:
    echo "# chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=800,1000 --screenshot=$D/$p.png file://$D/$p.html"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$D/chromium" \
      --window-size=800,1000 --screenshot="$D/$p.png" "file://$D/$p.html" > "$D/chromium.$p.out" 2>&1
  done
  # the colours of the chart: passed, refused by rblcheck, tempfailed, on a
  # bar or two (one hour, 12 7 4 connections) and the legend
  $CHECK png "$D/page.png" 800 1000 "$D/empty.png" '#6cb36c=1000' '#c9473b=500' '#e8b83e=300' > "$D/png.out" 2>&1
  rc=$?
  E2E_LAST=$D/png.out
  e2e_check "Chromium renders it: a PNG of 800x1000, not the empty page, the chart's colours on their pixels" '[ $rc -eq 0 ]'
  $CHECK png "$D/empty.png" 800 1000 > "$D/png.empty.out" 2>&1
  e2e_check "  ... and the check finds an empty page empty" '! [ $? -eq 0 ] && grep -q "an empty page" "$D/png.empty.out"'
else
  e2e_skip "the page rendered by Chromium" "chromium not installed (sh tools/deps.sh)"
fi

"$R" -M postmaster@example.net "$D/log" > "$D/mail" 2> "$D/mail.err"
rc=$?
$CHECK mail "$D/mail" "$D/page.html" > "$D/mail.out" 2>&1
E2E_LAST=$D/mail.out
e2e_check "sdu-report -M: a 7-bit MIME mail, the summary as text and the page as HTML" '[ $rc -eq 0 ] && grep -qx ok "$D/mail.out"'
"$R" -M "$(printf 'a@example.net\nBcc: x@example.org')" "$D/log" > "$D/mail.bad" 2>&1
e2e_check "  ... no header comes in through the address" '! [ $? -eq 0 ] && grep -q "usage" "$D/mail.bad"'
if [ "$(id -u)" -eq 0 ] && command -v exim4 > /dev/null 2>&1 && e2e_exim_conf; then
  exim4 -C "$D/exim.conf" -odi -t < "$D/mail" > "$D/exim.out" 2>&1
  got=$(ls "$D/exim-mail/new" 2>/dev/null | head -n 1)
  E2E_LAST=$D/exim.out
  e2e_check "exim4 -t takes the mail and delivers it to postmaster@example.net, the page inline" \
    '[ -n "$got" ] && grep -q "^Envelope-to: postmaster@example.net" "$D/exim-mail/new/$got" &&
     grep -q "^Content-Type: text/html" "$D/exim-mail/new/$got" && grep -q "<svg " "$D/exim-mail/new/$got"'
else
  e2e_skip "the mail through exim4 -t" "needs root and exim4 (exim4 -C)"
fi
