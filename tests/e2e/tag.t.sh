#!/bin/sh
# tests/e2e/tag.t.sh: the signed X-RBLCheck tag end to end: tcpserver, rblcheck -k, smtpsink, swaks, then spamgrab on qmail double-bounces of what arrived
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init tag
e2e_need_root "port 53 for rbldnsd"
e2e_need_prog tcpserver swaks rbldnsd python3
for b in rblcheck/rblcheck spamgrab/spamgrab tests/smtpsink; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - tag: $b is not built (make)"; exit 1; }
done
D=$E2E_DIR

dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_clean=$base.10 c_dul=$base.11
printf '%s\n' "$c_dul" > "$D/dul"
chmod 755 "$D" && chmod 644 "$D/dul"
printf 'list dul dialups.test\nrule dul tag\n' > "$D/policy"
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" dialups.test:ip4set:"$D/dul" || exit 1

# keys as INSTALL makes them; A is the old key, B the new: "B A" is the file during the rollover
mkkey() { ( od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; echo ) > "$1"; }
mkkey "$D/keyA"; mkkey "$D/keyB"
cat "$D/keyB" "$D/keyA" > "$D/keyBA"
KA=$(cat "$D/keyA") KB=$(cat "$D/keyB")
e2e_check "a key file as INSTALL makes it: 64 hex digits" 'grep -qx "[0-9a-f]\{64\}" "$D/keyA" && [ "$KA" != "$KB" ]'

mkdir -p "$D/sink"
# chain KEYFILE [VAR=VALUE...]: tcpserver with rblcheck -k KEYFILE in front of smtpsink
chain() {
  _k=$1; shift
  e2e_tcpserver 0 env DNSCACHEIP="$dns" "$@" rblcheck -f "$D/policy" -k "$_k" smtpsink -d "$D/sink"
}
# send IP ID [FIRST-HEADER]: a message with Subject ID from IP, FIRST-HEADER its first line
send() {
  _d="Subject: $2\nFrom: <fake@tag-sender.test>\n\nBuy now\n"
  [ -z "${3:-}" ] || _d="$3\n$_d"
  e2e_swaks --local-interface "$1" --from fake@tag-sender.test --to dialme@example.net --data "$_d"
}
sunk() { grep -l "^Subject: $1.\?\$" "$D"/sink/msg.* 2> /dev/null | head -n 1; }
# the first line of data, our tag if rblcheck wrote one
first() { awk 'p { sub(/\r$/, ""); print; exit } /^\r?$/ { p = 1 }' "$(sunk "$1")"; }

# dbounce ID [DATE]: the message with Subject ID as qmail-smtpd would have
# queued it (its Received line on top, dated DATE, default now) inside the
# double-bounce qmail-send writes for it
dbounce() {
  _m=$(sunk "$1")
  _ip=$(sed -n 's/^env: TCPREMOTEIP=//p' "$_m")
  _t=${2:-$(date -u '+%-d %b %Y %H:%M:%S -0000')}
  {
    printf 'Return-Path: <#@[]>\nDelivered-To: doublebounce@mx.example.net\n'
    printf 'Received: (qmail 30001 invoked for bounce); %s\nDate: %s\n' "$_t" "$_t"
    printf 'From: MAILER-DAEMON@mx.example.net\nTo: doublebounce@mx.example.net\nSubject: failure notice\n\n'
    printf 'Hi. This is the qmail-send program at mx.example.net.\n'
    printf "I tried to deliver a bounce message to this address, but the bounce bounced!\n\n"
    printf '<fake@tag-sender.test>:\n203.0.113.200 does not like recipient.\nRemote host said: 550 5.1.1 User unknown\nGiving up on 203.0.113.200.\n\n'
    printf -- '--- Below this line is the original bounce.\n\n'
    printf 'Return-Path: <>\nReceived: (qmail 30000 invoked for bounce); %s\nDate: %s\n' "$_t" "$_t"
    printf 'From: MAILER-DAEMON@mx.example.net\nTo: fake@tag-sender.test\nSubject: failure notice\n\n'
    printf "Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n"
    printf "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
    printf '<dialme@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n'
    printf -- '--- Below this line is a copy of the message.\n\n'
    printf 'Return-Path: <fake@tag-sender.test>\nReceived: (qmail 29999 invoked from network); %s\n' "$_t"
    printf 'Received: from unknown (HELO client.sdu.test) (%s)\n  by mx.example.net with SMTP; %s\n' "$_ip" "$_t"
    awk 'p { print } /^\r?$/ { p = 1 }' "$_m" | tr -d '\r'
  } > "$D/$1.eml"
}
mkdir -p "$D/state" "$D/review/tmp" "$D/review/new" "$D/review/cur"
printf 'me mx.example.net\nstate %s/state\nreview %s/review\nfrom abuse-desk@example.net\ninject /bin/false\nptr no\ndialup dul\n' "$D" "$D" > "$D/sg.conf"
# sg ID [KEYFILE]: spamgrab's dry run on ID's double-bounce, as qmail-local runs it; its log line in LOG
sg() {
  if [ -n "${2:-}" ]; then _o="-k $2"; else _o=; fi
  # shellcheck disable=SC2086
  SENDER='#@[]' spamgrab -n -f "$D/sg.conf" $_o < "$D/$1.eml" > "$D/$1.out" 2> "$D/$1.log"
  RC=$?
  LOG=$(grep "kind=" "$D/$1.log")
  E2E_LAST=$D/$1.log
}
# mac FIELDS KEY: HMAC-SHA-256 computed apart from the code under test
mac() { python3 -c 'import hmac, hashlib, sys; print(hmac.new(bytes.fromhex(sys.argv[2]), sys.argv[1].encode(), hashlib.sha256).hexdigest())' "$1" "$2"; }

# --- the chain signs with the first key of "B A" ------------------------------
e2e_ok "tcpserver with rblcheck -k (keys B, A)" chain "$D/keyBA" || exit 1
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
send "$c_clean" clean1 "X-RBLCheck: ip=$c_clean lists=dul score=1 action=tag date=$now"
e2e_check "clean client: delivered, passed straight on (one exec: smtpsink's STARTTLS not stripped)" \
  '[ -n "$(sunk clean1)" ] && grep -q "<-  250-STARTTLS" "$E2E_LAST"'
e2e_check "clean client: its own forged tag is the first line, below where our Received line goes" \
  '[ "$(first clean1)" = "X-RBLCheck: ip=$c_clean lists=dul score=1 action=tag date=$now" ]'
send "$c_clean" clean2 "X-RBLCheck: ip=$c_clean lists=dul score=1 action=tag date=$now mac=$(mac "ip=$c_clean lists=dul" "$KA")"
send "$c_dul" listed1
tag=$(first listed1)
fields=${tag#X-RBLCheck: }
fields=${fields% mac=*}
e2e_check "listed client: our tag, signed, mac last, one line" \
  'case "$tag" in "X-RBLCheck: ip=$c_dul lists=dul score=1 action=tag date=20"*"Z mac="*) true ;; *) false ;; esac'
e2e_check "listed client: the mac is HMAC-SHA-256 of the fields under key B (python3 hmac)" \
  '[ "${tag##* mac=}" = "$(mac "$fields" "$KB")" ]'
e2e_stop "$E2E_TCPSERVER_PID"

# --- a chain still on the old key alone -------------------------------------
e2e_ok "tcpserver with rblcheck -k (key A only, before the rollover)" chain "$D/keyA" || exit 1
send "$c_dul" oldkey1
e2e_check "old key: the tag's mac is under key A" 't=$(first oldkey1); [ "${t##* mac=}" = "$(mac "$(t=${t#X-RBLCheck: }; echo "${t% mac=*}")" "$KA")" ]'
e2e_stop "$E2E_TCPSERVER_PID"

# --- a tag made two hours ago for the same address --------------------------
e2e_ok "tcpserver with rblcheck -k, its clock two hours back" chain "$D/keyBA" SDU_TEST_NOW=$(( $(date +%s) - 7200 )) || exit 1
send "$c_dul" old1
oldtag=$(first old1)
e2e_stop "$E2E_TCPSERVER_PID"
# the same client, now on no list (whitelisted here): passed straight on with the old tag as its first line
e2e_ok "tcpserver with rblcheck -k, the client whitelisted" chain "$D/keyBA" RBLCHECK= || exit 1
send "$c_dul" replay1 "$oldtag"
e2e_check "same address, old tag: passed straight on, the copied tag first" '[ "$(first replay1)" = "$oldtag" ]'
e2e_stop "$E2E_TCPSERVER_PID"

# --- copies and edits of the real tag -----------------------------------------
e2e_ok "tcpserver with rblcheck -k (keys B, A), again" chain "$D/keyBA" || exit 1
send "$c_clean" copied1 "$tag"
e2e_check "another address: the listed client's real tag copied as the first line" '[ "$(first copied1)" = "$tag" ]'
send "$c_clean" copied2 "$(echo "$tag" | sed "s/ip=$c_dul /ip=$c_clean /")"
m=${tag##* mac=}
case $m in 0*) m2=1${m#0} ;; *) m2=0${m#?} ;; esac
send "$c_clean" wrongmac1 "X-RBLCheck: ip=$c_clean lists=dul score=1 action=tag date=$now mac=$m2"
e2e_stop "$E2E_TCPSERVER_PID"

for id in clean1 clean2 listed1 oldkey1 replay1 copied1 copied2 wrongmac1; do dbounce "$id"; done
# wrongmac2: the listed client's own message with one hex digit of our mac changed
sed "s/ mac=$m\$/ mac=$m2/" "$D/listed1.eml" > "$D/wrongmac2.eml"

# --- spamgrab without a key: today's rule, the hole ---------------------------
sg clean1
e2e_check "no key: the clean client's forged tag is believed (dial-up) -- what a missing key costs" \
  'case "$LOG" in *"ip=$c_clean lists=dul tag=trusted "*"decision=dialup"*) true ;; *) false ;; esac'
sg listed1
e2e_check "no key: the real tag is believed" 'case "$LOG" in *"ip=$c_dul lists=dul tag=trusted "*"decision=dialup"*) true ;; *) false ;; esac'

# --- spamgrab with the keys ---------------------------------------------------
sg clean1 "$D/keyBA"
e2e_check "key: the clean client's forged tag without mac: ignored (tag=nomac), a relay report" \
  '[ "$RC" = 99 ] && case "$LOG" in *"ip=$c_clean lists=- tag=nomac forgedtags=1 "*"decision=relay"*) true ;; *) false ;; esac'
sg clean2 "$D/keyBA"
e2e_check "key: the clean client's tag with a mac of its own making: tag=badmac" \
  'case "$LOG" in *"ip=$c_clean lists=- tag=badmac forgedtags=1 "*"decision=relay"*) true ;; *) false ;; esac'
sg listed1 "$D/keyBA"
e2e_check "key: the listed client's real tag: believed (dial-up)" \
  '[ "$RC" = 99 ] && case "$LOG" in *"ip=$c_dul lists=dul tag=trusted known=0 decision=dialup"*) true ;; *) false ;; esac'
sg oldkey1 "$D/keyBA"
e2e_check "key: a tag signed with the old key of two: believed" 'case "$LOG" in *"ip=$c_dul lists=dul tag=trusted "*) true ;; *) false ;; esac'
sg oldkey1 "$D/keyB"
e2e_check "key: the old key taken out of the file: tag=badmac" 'case "$LOG" in *"ip=$c_dul lists=- tag=badmac "*) true ;; *) false ;; esac'
sg wrongmac1 "$D/keyBA"
e2e_check "key: a made-up tag under the real tag's mac, one digit changed: tag=badmac" 'case "$LOG" in *"lists=- tag=badmac "*"decision=relay"*) true ;; *) false ;; esac'
sg wrongmac2 "$D/keyBA"
e2e_check "key: the real tag with one digit of its mac changed: tag=badmac" 'case "$LOG" in *"ip=$c_dul lists=- tag=badmac "*) true ;; *) false ;; esac'
sg copied1 "$D/keyBA"
e2e_check "key: a real tag copied from another client's message: ignored (another address)" \
  'case "$LOG" in *"ip=$c_clean lists=- tag=none forgedtags=1 "*"decision=relay"*) true ;; *) false ;; esac'
sg copied2 "$D/keyBA"
e2e_check "key: that tag with the address changed to the client's: tag=badmac" 'case "$LOG" in *"ip=$c_clean lists=- tag=badmac "*) true ;; *) false ;; esac'
sg replay1 "$D/keyBA"
e2e_check "key: the same address's real tag from two hours before: tag=stale" \
  'case "$LOG" in *"ip=$c_dul lists=- tag=stale forgedtags=1 "*"decision=relay"*) true ;; *) false ;; esac'
sg replay1
e2e_check "no key: that old tag is believed (today's rule)" 'case "$LOG" in *"ip=$c_dul lists=dul tag=trusted "*) true ;; *) false ;; esac'
dbounce listed1 "$(date -u -d '-2 hours' '+%-d %b %Y %H:%M:%S -0000')"
sg listed1 "$D/keyBA"
e2e_check "key: the real tag below a Received line two hours older: tag=stale" 'case "$LOG" in *"ip=$c_dul lists=- tag=stale "*) true ;; *) false ;; esac'

# --- broken key files ---------------------------------------------------------
printf '%s00\n' "$KA" > "$D/badkey"
printf 'tagkey %s\n' "$D/badkey" >> "$D/sg.conf"
sg listed1
e2e_check "spamgrab: a malformed key file (tagkey): 111 for a double-bounce, with file and line" \
  '[ "$RC" = 111 ] && grep -q "^spamgrab: fatal: $D/badkey line 1: not a key" "$D/listed1.log"'
SENDER='#@[]' spamgrab -r -f "$D/sg.conf" < "$D/listed1.eml" > /dev/null 2> "$D/r.log"
RC=$?
E2E_LAST=$D/r.log
e2e_check "spamgrab -r: a malformed key file: 100" '[ "$RC" = 100 ] && grep -q "badkey line 1: not a key" "$D/r.log"'
sg listed1 "$D/nokey"
e2e_check "spamgrab -k: a missing key file: 111, -k before the file's tagkey" '[ "$RC" = 111 ] && grep -q "fatal: unable to read $D/nokey" "$D/listed1.log"'

rblcheck -n -f "$D/policy" -k "$D/badkey" > "$D/n.out" 2>&1
rc=$?
E2E_LAST=$D/n.out
e2e_check "rblcheck -n -k: a malformed key file exits 100 with file and line" \
  '[ $rc -eq 100 ] && grep -q "^rblcheck: fatal: $D/badkey line 1: not a key: 64 hex digits (32 bytes) expected\$" "$D/n.out"'
rblcheck -n -f "$D/policy" -k "$D/nokey" > "$D/n.out" 2>&1
e2e_check "rblcheck -n -k: a missing key file exits 111" '[ $? -eq 111 ] && grep -q "unable to read $D/nokey" "$D/n.out"'
rblcheck -n -f "$D/policy" -k "$D/keyBA" > "$D/n.out" 2>&1
e2e_check "rblcheck -n -k: two good keys exit 0" '[ $? -eq 0 ] && [ ! -s "$D/n.out" ]'

E2E_TCPLOG_TO=$D/badkey.log
export E2E_TCPLOG_TO
e2e_ok "tcpserver with rblcheck -k on a malformed key file" chain "$D/badkey" || exit 1
n0=$(e2e_count "$D/sink")
send "$c_clean" badkeyclean
e2e_check "malformed key: a clean client still passes straight on (the key file is not read for it)" '[ $? -eq 0 ] && [ -n "$(sunk badkeyclean)" ]'
send "$c_dul" badkeylisted
rc=$?
e2e_check "malformed key: a listed client gets nothing at all (swaks $rc), nothing delivered" \
  '[ $rc -ne 0 ] && ! grep -q "<-  220" "$E2E_LAST" && [ -z "$(sunk badkeylisted)" ]'
e2e_check "malformed key: rblcheck said why, with file and line, exit 100" \
  'grep -q "rblcheck: fatal: $D/badkey line 1: not a key" "$D/badkey.log" && grep -q "^tcpserver: end [0-9]* status 25600$" "$D/badkey.log"'
e2e_stop "$E2E_TCPSERVER_PID"
unset E2E_TCPLOG_TO
