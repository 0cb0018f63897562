#!/bin/sh
# harness.t.sh: the end-to-end helpers against the real parts: tcpserver, swaks, smtpsink, exim4, rbldnsd
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init harness
e2e_need_prog tcpserver tcprules swaks ss setsid
if [ ! -x "$E2E_TOP/tests/smtpsink" ]; then
  echo "not ok - harness: tests/smtpsink is not built (make)"
  exit 1
fi

sink="$E2E_DIR/sink"
mkdir "$sink"
msgfile() { for m in "$sink"/msg.*; do [ -f "$m" ] && echo "$m"; done | tail -n 1; }
has() { grep -q -x -F -e "$2" "$1"; } # FILE LINE: the file has exactly this line

# --- smtpsink under tcpserver, swaks as the client --------------------------
e2e_ok "tcpserver with smtpsink starts on a free port" e2e_tcpserver 0 smtpsink -d "$sink" ||
  { echo "not ok - harness: nothing more to test without tcpserver"; exit 1; }
grp=$(ps -o pgid= -p "$E2E_TCPSERVER_PID" | tr -d ' ')
e2e_check "tcpserver leads its own process group" '[ "$grp" = "$E2E_TCPSERVER_PID" ]'

e2e_swaks --from alice@example.com --to bob@example.net,carol@example.org \
  --header "Subject: harness one" --body "line one
.a line with a leading dot
last line"
rc=$?
e2e_check "swaks delivers to smtpsink (status 0)" '[ $rc -eq 0 ]'
e2e_check "smtpsink advertises STARTTLS and PIPELINING" \
  'grep -q "250-STARTTLS" "$E2E_LAST" && grep -q "250-PIPELINING" "$E2E_LAST"'
e2e_check "one message recorded" '[ "$(e2e_count "$sink" "msg.*")" -eq 1 ] && [ "$(e2e_count "$sink" "tmp.*")" -eq 0 ]'
m=$(msgfile)
e2e_check "envelope recorded: helo, mail, both rcpts" \
  'has "$m" "helo: client.sdu.test" && has "$m" "mail: <alice@example.com>" &&
   has "$m" "rcpt: <bob@example.net>" && has "$m" "rcpt: <carol@example.org>"'
e2e_check "client address recorded from tcpserver" 'has "$m" "env: TCPREMOTEIP=127.0.0.1"'
e2e_check "body recorded dot-unstuffed with CRLF" \
  'grep -q "^\.a line with a leading dot.\$" "$m" && grep -q "^Subject: harness one.\$" "$m"'
# swaks ends the body with empty lines: the last line with text must be ours
e2e_check "the final dot is not recorded" '[ "$(tr -d "\r" < "$m" | grep -v "^\$" | tail -n 1)" = "last line" ]'
ok=$(grep -c ' ok ' "$E2E_TCPLOG")
e2e_check "tcpserver logged the connection" '[ "$ok" -ge 1 ]'

e2e_swaks --pipeline --from p@example.com --to q@example.net --body "pipelined"
rc=$?
e2e_check "pipelined session accepted" '[ $rc -eq 0 ] && [ "$(e2e_count "$sink" "msg.*")" -eq 2 ]'

# a client from another loopback address
addr=$(e2e_free_addr)
e2e_swaks --local-interface "$addr" --from far@example.com --to bob@example.net --body "from afar"
rc=$?
m=$(grep -l -F "from afar" "$sink"/msg.*)
e2e_check "swaks from a chosen local address $addr" '[ $rc -eq 0 ] && [ -n "$m" ]'
e2e_check "sink records TCPREMOTEIP=$addr" 'has "$m" "env: TCPREMOTEIP=$addr"'

# environment set per client by tcprules
printf '127.:allow,THROTTLE_RCPT="3",SDU_HARVEST=""\n' | e2e_tcprules "$E2E_DIR/rules.cdb" > /dev/null
e2e_stop "$E2E_TCPSERVER_PID"
e2e_tcpserver -x "$E2E_DIR/rules.cdb" 0 smtpsink -d "$sink"
e2e_swaks --from r@example.com --to bob@example.net --body "with rules"
m=$(grep -l -F "with rules" "$sink"/msg.*)
e2e_check "tcprules environment reaches the end of the chain" \
  '[ -n "$m" ] && has "$m" "env: THROTTLE_RCPT=3" && has "$m" "env: SDU_HARVEST="'
e2e_stop "$E2E_TCPSERVER_PID"

# --- smtpsink's failure behaviours, as the client sees them ----------------
before=$(e2e_count "$sink" "msg.*")
behave() { # BEHAVIOUR: a fresh server for one behaviour
  e2e_stop "${E2E_TCPSERVER_PID:-0}"
  e2e_tcpserver 0 smtpsink -d "$sink" -x "$1"
}

behave close-greeting
e2e_swaks --from a@example.com --to b@example.net
rc=$?
e2e_check "close-greeting: closed before the banner (swaks 6)" '[ $rc -eq 6 ] && ! grep -q "220 smtpsink" "$E2E_LAST"'

behave close-mail
e2e_swaks --from a@example.com --to b@example.net
rc=$?
e2e_check "close-mail: closed after EHLO, MAIL unanswered (swaks $rc)" \
  '[ $rc -ne 0 ] && grep -q "250 HELP" "$E2E_LAST" && ! grep -q "^ *<- *250 ok" "$E2E_LAST"'

behave close-data=20
e2e_swaks --from a@example.com --to b@example.net --body "a body longer than twenty bytes"
rc=$?
e2e_check "close-data: 354 then closed, not accepted (swaks $rc)" \
  '[ $rc -ne 0 ] && grep -q "354 go ahead" "$E2E_LAST" && ! grep -q "queued as" "$E2E_LAST"'

behave close-dot
e2e_swaks --from a@example.com --to b@example.net --body "whole body"
rc=$?
e2e_check "close-dot: final dot unanswered (swaks $rc)" \
  '[ $rc -ne 0 ] && grep -q "354 go ahead" "$E2E_LAST" && ! grep -q "queued as" "$E2E_LAST"'
e2e_check "no message stored by a failed session" '[ "$(e2e_count "$sink" "msg.*")" -eq "$before" ] && [ "$(e2e_count "$sink" "tmp.*")" -eq 0 ]'

behave reject-rcpt=spamtrap
e2e_swaks --from a@example.com --to spamtrap@example.net
rc=$?
e2e_check "reject-rcpt: 550, no recipient (swaks 24)" '[ $rc -eq 24 ] && grep -q "550 recipient refused" "$E2E_LAST"'
e2e_swaks --from a@example.com --to spamtrap@example.net,good@example.net --body "half"
rc=$?
m=$(grep -l -F "half" "$sink"/msg.*)
e2e_check "reject-rcpt: the other recipient is kept" \
  '[ $rc -eq 0 ] && has "$m" "rcpt: <good@example.net>" && ! grep -q "^rcpt: <spamtrap" "$m"'
before=$(e2e_count "$sink" "msg.*")

behave reject-data=BUY-NOW
e2e_swaks --from a@example.com --to b@example.net --body "cheap pills BUY-NOW here"
rc=$?
e2e_check "reject-data: 554 at the end of data (swaks 26)" '[ $rc -eq 26 ] && grep -q "554 message refused" "$E2E_LAST"'
e2e_check "reject-data: nothing stored" '[ "$(e2e_count "$sink" "msg.*")" -eq "$before" ]'

behave slow=150
t0=$(date +%s%N)
e2e_swaks --from a@example.com --to b@example.net --body "slowly"
rc=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
# banner, EHLO, MAIL, RCPT, DATA, end of data, QUIT: 7 replies of 150 ms
e2e_check "slow=150: accepted after at least 1 s (took $ms ms)" '[ $rc -eq 0 ] && [ "$ms" -ge 1000 ]'

: > "$E2E_DIR/tcpserver.log"
behave nodir
e2e_swaks --from a@example.com --to b@example.net --body "counted only"
e2e_swaks --from a@example.com --to b@example.net --body "counted too"
e2e_stop "$E2E_TCPSERVER_PID"
E2E_LAST="$E2E_DIR/tcpserver.log"
e2e_check "nodir: counts reported, one message per session" \
  '[ "$(grep -c "smtpsink: messages=1 bytes=" "$E2E_TCPLOG")" -eq 2 ]'
E2E_TCPSERVER_PID=

# --- root only: exim4 -bs at the end of the chain, rbldnsd on port 53 ----------
e2e_need_root
e2e_need_prog exim4 rbldnsd dig

e2e_ok "exim configuration written" e2e_exim_conf
e2e_ok "exim accepts the configuration" exim4 -C "$E2E_DIR/exim.conf" -bV
# shellcheck disable=SC2046
e2e_tcpserver 0 $(e2e_exim_cmd)
e2e_swaks --from alice@example.com --to bob@example.net --header "Subject: via exim" --body "exim body"
rc=$?
e2e_check "swaks through tcpserver to exim4 -bs (status 0)" '[ $rc -eq 0 ] && grep -q "250 OK id=" "$E2E_LAST"'
delivered() { [ "$(e2e_count "$E2E_DIR/exim-mail/new")" -ge 1 ]; }
e2e_wait 50 delivered
m=$(grep -l -F "Subject: via exim" "$E2E_DIR"/exim-mail/new/* 2>/dev/null)
e2e_check "exim delivered the message to its maildir" '[ -n "$m" ] && grep -q "^Envelope-to: bob@example.net" "$m"'
e2e_check "exim saw the client's address" 'grep -q "\[127.0.0.1\]" "$m"'
e2e_swaks --from alice@example.com --to someone@elsewhere.test
rc=$?
e2e_check "exim refuses to relay (swaks 24)" '[ $rc -eq 24 ] && grep -q "550 relay not permitted" "$E2E_LAST"'
e2e_stop "$E2E_TCPSERVER_PID"

dnsaddr=$(e2e_free_addr)
cat > "$E2E_DIR/bl.zone" <<EOF
:127.0.0.2:listed by the sdu harness test
192.0.2.7
198.51.100.0/24
EOF
if e2e_rbldnsd "$dnsaddr" bl.sdu.test:ip4set:"$E2E_DIR/bl.zone"; then
  echo "ok - rbldnsd started on $dnsaddr"
else
  e2e_fail "rbldnsd started on $dnsaddr" "see $E2E_DIR/rbldnsd.log" "$E2E_DIR/rbldnsd.log"
fi
a=$(e2e_dig "$dnsaddr" 7.2.0.192.bl.sdu.test A)
e2e_check "rbldnsd answers a listed IP" '[ "$a" = "127.0.0.2" ]'
a=$(e2e_dig "$dnsaddr" 9.100.51.198.bl.sdu.test TXT)
e2e_check "rbldnsd answers TXT for a listed range" '[ "$a" = "\"listed by the sdu harness test\"" ]'
a=$(e2e_dig "$dnsaddr" 8.2.0.192.bl.sdu.test A)
e2e_check "rbldnsd has no answer for an unlisted IP" '[ -z "$a" ]'

# --- everything stopped ------------------------------------------------------
pids=$(awk '{ print $1 }' "$E2E_DIR/.pids")
e2e_stop_all
left=
for p in $pids; do e2e_alive "$p" && left="$left $p"; done
e2e_check "every server stopped" '[ -z "$left" ]'
stray=$(ps -e -o pid=,args= | grep -F "$E2E_DIR" | grep -v grep)
E2E_LAST=
e2e_check "no process left that uses the scratch dir" '[ -z "$stray" ]'
