#!/bin/sh
# tests/e2e/demo.t.sh: tools/demo.sh (make demo without apt) twice in a row; its outcomes read from its logs
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init demo
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver tcprules swaks rbldnsd exim4 ss setsid
D=$E2E_DIR

# msgs R PATTERN: messages delivered in run R whose header block matches PATTERN
msgs() { n=0; for f in "$1"/exim-mail/new/*; do [ -f "$f" ] && sed '/^$/q' "$f" | grep -q "$2" && n=$((n + 1)); done; echo "$n"; }
# val R PROG IP KEY: the sum of KEY= over PROG's lines about IP in run R's chain log
val() { grep "^$2: ip=$3 " "$1/tcpserver.log" | tr ' ' '\n' | sed -n "s/^$4=//p" | awk '{ s += $1 } END { print s + 0 }'; }
cnt() { grep "^$2: ip=$3 " "$1/tcpserver.log" | grep -c -- "$4"; }

for run in 1 2; do
  R=$D/run$run
  sh "$E2E_TOP/tools/demo.sh" -d "$R" > "$D/out$run" 2>&1
  rc=$?
  E2E_LAST=$D/out$run
  e2e_check "run $run: tools/demo.sh exits 0 and says done" '[ "$rc" -eq 0 ] && grep -q "^demo: done in " "$D/out$run"' || continue
  . "$R/hosts"
  L=$R/tcpserver.log
  E2E_LAST=$L
  e2e_check "run $run: clean sender passed untouched, its message delivered" \
    'grep -q "^rblcheck: ip=$clean lists=- .*action=pass" "$L" && [ "$(msgs "$R" "^Return-path: <friend@example.org>")" -eq 1 ]'
  e2e_check "run $run: relay on orbs and rss refused by rblcheck, nothing delivered" \
    'grep -q "^rblcheck: ip=$relay lists=orbs,rss .*action=reject" "$L" && [ "$(msgs "$R" "bulk@spam.demo.test")" -eq 0 ]'
  e2e_check "run $run: dial-up host throttled to 1 of 5 recipients, its message tagged" \
    'grep -q "^rblcheck: ip=$dial lists=dul,pbl .*action=throttle" "$L" && [ "$(val "$R" throttle "$dial" rcpts)" -eq 1 ] &&
     [ "$(val "$R" throttle "$dial" throttled)" -eq 4 ] && [ "$(msgs "$R" "^X-RBLCheck: ip=$dial lists=dul,pbl")" -eq 1 ]'
  tf=$(cnt "$R" rblcheck "$rss" action=tempfail); lk=$(cnt "$R" rblcheck "$rss" action=leak)
  e2e_check "run $run: rss-only host: 20 connections, $tf tempfail + $lk leaked, each leak delivered tagged" \
    '[ $((tf + lk)) -eq 20 ] && [ "$tf" -ge 10 ] && [ "$(msgs "$R" "^X-RBLCheck: ip=$rss lists=rss .*action=leak")" -eq "$lk" ]'
  e2e_check "run $run: host with ZEN-like answer 127.0.0.4 refused as xbl" 'grep -q "^rblcheck: ip=$xbl lists=xbl .*action=reject" "$L"'
  e2e_check "run $run: dictionary attack: rcptcheck refuses 4, closes at the 5th, nothing delivered" \
    '[ "$(cnt "$R" rcptcheck "$dict" action=reject)" -eq 4 ] && [ "$(cnt "$R" rcptcheck "$dict" action=close)" -eq 1 ] && [ "$(msgs "$R" "guess@harvest")" -eq 0 ]'
  e2e_check "run $run: bounce storm: 3 bounces to joe delivered, 3 refused by throttle" \
    '[ "$(msgs "$R" "^Return-path: <>")" -eq 3 ] && [ $(( $(val "$R" throttle "$mx1" bounced) + $(val "$R" throttle "$mx2" bounced) + $(val "$R" throttle "$mx3" bounced) )) -eq 3 ]'
  e2e_check "run $run: a bounce to the refused address: rcptcheck reason=table" 'grep -q "^rcptcheck: ip=$mx1 .*rcpt=forged@example.net action=reject reason=table" "$L"'
  S=$R/spamgrab.log
  E2E_LAST=$S
  e2e_check "run $run: spamgrab dry run decided and changed nothing" 'grep -q "action=dryrun" "$S" && grep -q "^=== send abuse@newsletter-blast.test" "$R/spamgrab-dryrun.out"'
  e2e_check "run $run: spamgrab: 99 for each double-bounce, the known host discarded" \
    '[ "$(cut -d" " -f2 "$R/spamgrab.rc" | tr "\n" " ")" = "99 99 99 99 99 " ] && grep -q "ip=198.51.100.7 .*known=1 .*action=discard" "$S"'
  e2e_check "run $run: spamgrab: 4 reports and 1 reviewed in the outbox, 5 left for review" \
    '[ "$(e2e_count "$R/outbox")" -eq 5 ] && [ "$(e2e_count "$R/review/new")" -eq 5 ] && [ "$(e2e_count "$R/review/cur")" -eq 1 ] && grep -q "kind=resend .*action=sent" "$S"'
  e2e_check "run $run: spamgrab -z lists the reported hosts" 'grep -qx 198.51.100.7 "$R/spamgrab.zone" && grep -qx 203.0.113.190 "$R/spamgrab.zone"'
  sdu-report -s "$L" > "$D/summary$run"
  E2E_LAST=$D/summary$run
  e2e_check "run $run: the dashboard counts 32 connections from 9 hosts, $((tf + 2)) refused" \
    'grep -q "^connections: 32 from 9 hosts" "$D/summary$run" && grep -q "^connections refused: $((tf + 2)) " "$D/summary$run"'
  e2e_check "run $run: every process the demo started is gone" '! ps -e -o args= | grep -F "$R" | grep -v grep | grep -q .'
done
E2E_LAST=
e2e_check "the two runs used their own directories and addresses" '[ -d "$D/run1" ] && [ -d "$D/run2" ]'
