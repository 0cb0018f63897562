#!/bin/sh
# nonsmtp.t.sh: HTTP sent to port 25 (issue 16 §2): through tcpserver, the
# chain (rblcheck, throttle, rcptcheck in one process) and exim4 -bs, each
# HTTP line as the session's first line (554, closed, exim gets nothing) and
# as a later command (an unknown command: exim answers it, 500); a client
# rblcheck refuses gets the same 554 from the responder; sdu-report counts them
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init nonsmtp
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver rbldnsd exim4 python3
T=$E2E_TOP
D=$E2E_DIR
raw() { python3 "$T/tests/lib/rawsmtp.py" 127.0.0.1 "$E2E_PORT" "$2" --source "$1" < /dev/null; }

e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }
# exim logs every command it did not know, with the line
sed -i 's/^keep_environment =/log_selector = +smtp_syntax_error\nkeep_environment =/' "$D/exim.conf"
dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
clean=$base.10 listed=$base.11
printf '%s\n' "$listed" > "$D/sbl"
chmod 755 "$D" && chmod 644 "$D/sbl"
printf 'list sbl sbl.test\nrule sbl reject\n' > "$D/policy"
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" sbl.test:ip4set:"$D/sbl" || exit 1
printf 'one@example.net\n' | "$T/rcptcheck/rcptcheck-build" -f "$D/rcpt.cdb" || exit 1
mkdir -p "$D/state"
DNSCACHEIP=$dns; export DNSCACHEIP
# shellcheck disable=SC2046
e2e_tcpserver 0 "$T/rblcheck/rblcheck" -f "$D/policy" "$T/throttle/throttle" -d "$D/state" \
  "$T/rcptcheck/rcptcheck" -f "$D/rcpt.cdb" $(e2e_exim_cmd) || exit 1
log=$D/tcpserver.log
exlog=$D/exim-log/mainlog

cat > "$D/lines" <<'LINES'
GET / HTTP/1.1
POST /cgi-bin/mail.cgi HTTP/1.0
HEAD / HTTP/1.1
PUT /x HTTP/1.1
DELETE /x HTTP/1.1
OPTIONS * HTTP/1.1
PATCH /x HTTP/1.1
CONNECT mx.example.net:25 HTTP/1.1
TRACE / HTTP/1.1
PROPFIND /dav HTTP/1.1
Host: mx.example.net
User-Agent: Mozilla/5.0
LINES
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '%s\r\nEHLO client.example\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' "$line" > "$D/first.$n"
  printf 'EHLO client.example\r\n%s\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' "$line" > "$D/later.$n"
  before=$(grep -c "action=reject reason=nonsmtp" "$log")
  raw "$clean" "$D/first.$n" | tr -d '\r' > "$D/first.$n.out"
  E2E_LAST=$D/first.$n.out
  e2e_check "[$line] first: exim's 220, then 554 5.5.1 once, closed" \
    '[ "$(grep -v "^[0-9][0-9][0-9]-" "$E2E_LAST" | cut -c1-3 | tr "\n" " ")" = "220 554 " ] && grep -qx "554 5.5.1 this is an SMTP server, not an HTTP proxy" "$E2E_LAST" && grep -q "^220 exim.sdu.test" "$E2E_LAST"'
  logged() { [ "$(grep -c "^rcptcheck: ip=$clean action=reject reason=nonsmtp\$" "$log")" -gt "$before" ]; }
  e2e_wait 50 logged
  E2E_LAST=$log
  e2e_check "  ... logged action=reject reason=nonsmtp" logged
  raw "$clean" "$D/later.$n" | tr -d '\r' | grep -v '^250-' > "$D/later.$n.out"
  E2E_LAST=$D/later.$n.out
  e2e_check "[$line] later: an unknown command, exim answers 500, the session goes on" \
    '[ "$(grep -v "^[0-9][0-9][0-9]-" "$E2E_LAST" | cut -c1-3 | tr "\n" " ")" = "220 250 500 250 221 " ]'
done < "$D/lines"

# exim logs each line it did not know: the later ones, once each; a first
# line never reached it
E2E_LAST=$exlog
eachonce() {
  [ "$(grep -c "unrecognized command" "$exlog")" -eq "$n" ] || return 1
  while IFS= read -r _l; do
    [ "$(grep -cF "SMTP syntax error in \"$_l\"" "$exlog")" -eq 1 ] || return 1
  done < "$D/lines"
}
e2e_check "exim answered each later HTTP line once, and saw no first line ($n in all)" eachonce
E2E_LAST=$log
e2e_check "the log has one refusal for each first line ($n)" \
  '[ "$(grep -c "^rcptcheck: ip=$clean action=reject reason=nonsmtp$" "$log")" -eq "$n" ]'

# a client on the list: rblcheck refuses it, its responder answers the HTTP line
printf 'GET / HTTP/1.1\r\nHost: mx.example.net\r\n\r\n' > "$D/listed"
raw "$listed" "$D/listed" | tr -d '\r' > "$D/listed.out"
E2E_LAST=$D/listed.out
e2e_check "a listed client's HTTP: rblcheck's 220 (lists answering at once: no 220- said), 554 5.5.1, closed" \
  '[ "$(cat "$E2E_LAST" | tr "\n" "|")" = "220 rblcheck.local ESMTP|554 5.5.1 this is an SMTP server, not an HTTP proxy|" ]'
hungup() { grep -q "^rblcheck: ip=$listed action=hangup reason=nonsmtp$" "$log"; }
e2e_wait 50 hungup
E2E_LAST=$log
e2e_check "  ... logged: rblcheck's reject, then action=hangup reason=nonsmtp" \
  'grep -q "^rblcheck: ip=$listed lists=sbl .*action=reject" "$log" && hungup'
printf 'HELO x\r\nGET / HTTP/1.1\r\nQUIT\r\n' > "$D/listed2"
raw "$listed" "$D/listed2" | tr -d '\r' > "$D/listed2.out"
E2E_LAST=$D/listed2.out
e2e_check "  ... later in its session: the refusal, as to any command" \
  '[ "$(grep -v "^[0-9][0-9][0-9]-" "$E2E_LAST" | cut -c1-3 | tr "\n" " ")" = "220 250 553 221 " ]'

e2e_stop "$E2E_TCPSERVER_PID"
"$T/throttle/sdu-report" -a -s "$log" > "$D/report" 2>&1
E2E_LAST=$D/report
e2e_check "sdu-report -s counts the non-SMTP clients" \
  'grep -qx "non-SMTP clients (an HTTP request as first line): $((n + 1))" "$D/report" && grep -q "^    rcptcheck nonsmtp  *$n " "$D/report"'
