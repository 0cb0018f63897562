#!/bin/sh
# throttle.t.sh: rblcheck + throttle + rcptcheck under tcpserver, exim4 -bs at the end, swaks in
# front (recipient throttle, connection rate, sender blacklist, whitelists, bounce limit,
# a broken store), then sdu-report on the log the run wrote; all of it once with the
# state in LMDB, once on Redis (SDU_TEST_STORE)
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_each_store "$@"
e2e_init throttle
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver tcprules swaks rbldnsd exim4 ss setsid python3
e2e_store_init
for b in rblcheck/rblcheck throttle/throttle throttle/sdu-report rcptcheck/rcptcheck rcptcheck/rcptcheck-build; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - throttle: $b is not built (make)"; exit 1; }
done
D=$E2E_DIR
mail=$D/exim-mail/new
raw() { python3 "$E2E_TOP/tests/lib/rawsmtp.py" 127.0.0.1 "$E2E_PORT" "$@"; }
CONNS=0   # connections made, for the report's figures
sw() { CONNS=$((CONNS + 1)); e2e_swaks "$@"; }

dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_dul=$base.10 c_rej=$base.11 c_rate=$base.12 c_rate2=$base.13 c_bl=$base.14 c_white=$base.15 c_bnc=$base.16 c_ok=$base.17
printf '%s\n' "$c_dul" > "$D/dul"
printf '%s\n' "$c_rej" > "$D/orbs"
chmod 755 "$D" && chmod 644 "$D/dul" "$D/orbs"
cat > "$D/policy" <<'POL'
list orbs relays.orbs.test
list dul  dialups.test
rule orbs reject "553 sorry, %ip is listed in %lists"
rule dul  throttle 2
POL
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" relays.orbs.test:ip4set:"$D/orbs" dialups.test:ip4set:"$D/dul" || exit 1

printf '%s\n' one two three four five joe postmaster x | sed 's/$/@example.net/' > "$D/valid"
e2e_ok "rcptcheck table" rcptcheck-build -f "$D/rcpt.cdb" "$D/valid"
printf '%s\n' "$c_white" > "$D/white"
printf 'postmaster@example.net\n' > "$D/rcptwhite"
state=$(e2e_store state)

e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }
# this exim refuses at the end of DATA what contains SPAMSPAM
sed -i 's/^acl_smtp_rcpt = acl_rcpt/acl_smtp_rcpt = acl_rcpt\nacl_smtp_data = acl_data/' "$D/exim.conf"
sed -i 's/^begin acl/begin acl\nacl_data:\n  deny message = 5.7.1 content refused\n    condition = ${if match{$message_body}{SPAMSPAM}}\n  accept\n/' "$D/exim.conf"

# tcprules: the connection rate for two clients, the clock of some clients moved
rules() { # extra rule lines on stdin
  { cat; printf '%s:allow,THROTTLE_CONN="3/60"\n%s:allow,THROTTLE_CONN="3/60"\n:allow\n' "$c_rate" "$c_rate2"; } |
    tcprules "$D/rules.cdb" "$D/rules.tmp"
}
rules < /dev/null
# shellcheck disable=SC2046
e2e_tcpserver -x "$D/rules.cdb" 0 env DNSCACHEIP="$dns" rblcheck -f "$D/policy" \
  throttle -d "$state" -b 3h -w "$D/white" -B 2/10m -h 1h -W "$D/rcptwhite" \
  rcptcheck -f "$D/rcpt.cdb" $(e2e_exim_cmd) || exit 1

# 1. recipient throttle: rblcheck says throttle 2 for a dul client
printf 'EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nRCPT TO:<two@example.net>\r\nRCPT TO:<three@example.net>\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<four@example.net>\r\nQUIT\r\n' > "$D/dul.in"
CONNS=$((CONNS + 1))
python3 - "$c_dul" "$E2E_PORT" "$D/dul.in" > "$D/dul.out" <<'PY'
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(20)
s.connect(("127.0.0.1", int(sys.argv[2]))); s.sendall(open(sys.argv[3], "rb").read())
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.write(out.decode())
PY
E2E_LAST=$D/dul.out
e2e_check "recipient throttle: 2 pass, the 3rd gets 451, RSET does not reset the count" \
  '[ "$(tr -d "\r" < "$D/dul.out" | grep -v "^[0-9][0-9][0-9]-" | cut -c1-3 | tr "\n" " ")" = "220 250 250 250 250 451 250 250 451 221 " ]'

# 2. rblcheck refuses a listed client three times: throttle never runs
for i in 1 2 3; do sw --local-interface "$c_rej" --from a@example.org --to one@example.net; done
e2e_check "a listed client is refused by rblcheck" 'grep -q "553 sorry" "$E2E_LAST"'

# 3. the connection rate: 3 per 60 s for c_rate; two clients counted apart
for i in 1 2 3 4 5; do sw --local-interface "$c_rate" --quit-after EHLO; echo $? >> "$D/rate.rc"; done
e2e_check "connection rate: the 4th and 5th connection get 421 at the greeting" \
  '[ "$(cat "$D"/swaks.*.out | grep -c "421 4.7.0 too many connections from your address")" -eq 2 ]'
sw --local-interface "$c_rate2" --quit-after EHLO
e2e_check "another client has its own count" 'grep -q "^<-  220 exim.sdu.test" "$E2E_LAST"'
printf '%s:allow,SDU_TEST_NOW="%s",THROTTLE_CONN="3/60"\n' "$c_rate" $(( $(date +%s) + 120 )) | rules
sw --local-interface "$c_rate" --quit-after EHLO
e2e_check "after the window the client passes again" 'grep -q "^<-  220 exim.sdu.test" "$E2E_LAST"'
rules < /dev/null

# 4. the sender blacklist: exim refuses at DATA, the next attempt is refused at RCPT
n0=$(e2e_count "$mail")
sw --local-interface "$c_bl" --from spammer@example.com --to one@example.net --body SPAMSPAM
e2e_check "downstream refuses the message at the end of DATA" 'grep -q "^<\*\* 550 5.7.1 content refused" "$E2E_LAST"'
sw --local-interface "$c_bl" --from spammer@example.com --to one@example.net --body clean
e2e_check "the same (client, sender) is refused at RCPT" 'grep -q "^<\*\* 550 5.7.1 a message from this sender was refused" "$E2E_LAST"'
e2e_check "and nothing reached exim" '[ "$(e2e_count "$mail")" -eq "$n0" ]'
sw --local-interface "$c_bl" --from other@example.com --to one@example.net --body clean
e2e_check "another sender from that client passes" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
sw --local-interface "$c_ok" --from spammer@example.com --to one@example.net --body clean
e2e_check "the same sender from another client passes" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
printf '%s:allow,SDU_TEST_NOW="%s"\n' "$c_bl" $(( $(date +%s) + 3 * 3600 + 60 )) | rules
sw --local-interface "$c_bl" --from spammer@example.com --to one@example.net --body clean
e2e_check "after 3 hours the pair passes again" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
rules < /dev/null

# 5. the IP whitelist: never blacklisted
sw --local-interface "$c_white" --from spammer@example.com --to one@example.net --body SPAMSPAM
sw --local-interface "$c_white" --from spammer@example.com --to one@example.net --body clean
e2e_check "a whitelisted client's refused pair is not remembered" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'

# 6. the bounce limit: more than 2 bounces to one recipient are refused, postmaster always gets them
for i in 1 2 3; do
  sw --local-interface "$c_bnc" --from '<>' --to joe@example.net --body "bounce $i"
  cp "$E2E_LAST" "$D/bounce.$i"
  sw --local-interface "$c_bnc" --from '<>' --to postmaster@example.net --body "bounce $i"
  cp "$E2E_LAST" "$D/pm.$i"
done
E2E_LAST=$D/bounce.3
e2e_check "bounce limit: two bounces pass" 'grep -q "^<-  250 OK id=" "$D/bounce.1" && grep -q "^<-  250 OK id=" "$D/bounce.2"'
e2e_check "the third is refused" 'grep -q "^<\*\* 550 5.7.1 this address gets too many bounces" "$D/bounce.3"'
e2e_check "the whitelisted recipient gets all three" '[ "$(grep -l "^<-  250 OK id=" "$D"/pm.* | wc -l)" -eq 3 ]'
sw --local-interface "$c_bnc" --from a@example.org --to joe@example.net
e2e_check "mail with a sender to that recipient still passes" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
sw --local-interface "$c_ok" --from a@example.org --to nobody@example.net
e2e_check "rcptcheck behind throttle refuses an unknown recipient" 'grep -q "^<\*\* 550" "$E2E_LAST"'

# 7. a broken store (a corrupt data.mdb, Redis down): a warning, and mail still flows
e2e_store_break state
sw --local-interface "$c_ok" --from a@example.org --to two@example.net
e2e_check "broken store: the message is still taken" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
e2e_check "and throttle warned ($E2E_STORE_BROKEN)" 'grep -q "throttle: warning: $E2E_STORE_BROKEN" "$D/tcpserver.log"'
e2e_store_mend state
e2e_stop "$E2E_TCPSERVER_PID"

# 8. the report on the log of this run, stamped and rotated as multilog t would
now=$(date +%s)
stamp=$(printf '@%016x%08x' $((4611686018427387914 + now)) 0)
mkdir "$D/log"
half=$(( $(wc -l < "$D/tcpserver.log") / 2 ))
sed "s/^/$stamp /" "$D/tcpserver.log" | head -n "$half" > "$D/log/$stamp.s"
sed "s/^/$stamp /" "$D/tcpserver.log" | tail -n +$((half + 1)) > "$D/log/current"
msgs=$(grep -l "^<-  250 OK id=" "$D"/swaks.*.out | wc -l)
sdu-report -s "$D/log" > "$D/summary" 2>&1
E2E_LAST=$D/summary
e2e_check "report: every connection made is counted ($CONNS)" 'grep -q "^connections: $CONNS from " "$D/summary"'
e2e_check "report: 5 refused (3 by rblcheck's list orbs, 2 by throttle's rate)" \
  'grep -q "^connections refused: 5 " "$D/summary" && grep -q "^    orbs  *3 " "$D/summary" && grep -q "^    throttle rate  *2 " "$D/summary"'
e2e_check "report: recipients refused by throttle, by feature" \
  'grep -q "^    throttle throttled  *2 " "$D/summary" && grep -q "^    throttle blacklisted  *1 " "$D/summary" && grep -q "^    throttle bounced  *1 " "$D/summary"'
e2e_check "report: and by rcptcheck" 'grep -q "^    rcptcheck " "$D/summary"'
e2e_check "report: messages passed as swaks saw them taken ($msgs)" 'grep -q "^messages passed: $msgs$" "$D/summary"'
sdu-report -r "$D/log" > "$D/rules.out"
E2E_LAST=$D/rules.out
e2e_check "report: the worst host first (most connections), tcprules form" '[ "$(head -n 1 "$D/rules.out")" = "$c_rate:deny" ]'
e2e_check "report: listed and refused hosts are in, those with refused recipients only are not" \
  '[ "$(sort "$D/rules.out" | tr "\n" " ")" = "$(printf "%s:deny\n" "$c_dul" "$c_rej" "$c_rate" | sort | tr "\n" " ")" ]'
sdu-report -n -m 3 "$D/log" > "$D/nft.out"
E2E_LAST=$D/nft.out
e2e_check "report: nft commands for hosts with 3 or more connections" \
  '[ "$(cat "$D/nft.out")" = "add element inet sdu blocked { $c_rate timeout 6h }
add element inet sdu blocked { $c_rej timeout 6h }" ]'
sdu-report -p 1h "$D/log" > "$D/table.out"
E2E_LAST=$D/table.out
e2e_check "report: the table names the list and the last refusal" 'grep -q " $c_rej  *orbs rblcheck:reject$" "$D/table.out"'

# 9. throttle follows the replies (issue 13): throttle, then rcptcheck (a real later link
# that refuses a malformed sender with 553 and an unknown recipient with 550), then an
# exim that refuses SPAMSPAM at the end of DATA and a message over 20 KB with 552.
# Each dialogue is sent in one go (pipelined) and one command at a time.
c_tx=$base.20 c_rr=$base.21 c_bl9=$base.22 c_big=$base.23 c_loose=$base.24
sed 's/^message_size_limit = .*/message_size_limit = 20k/' "$D/exim.conf" > "$D/exim9.conf"
state9=$(e2e_store state9)
# shellcheck disable=SC2046
e2e_tcpserver 0 env THROTTLE_RCPT=2 throttle -d "$state9" -b 3h rcptcheck -f "$D/rcpt.cdb" \
  exim4 -C "$D/exim9.conf" -odi -bs || exit 1
port9=$E2E_PORT
cat > "$D/talk.py" <<'PY'
# talk.py SRC PORT FILE MODE: the dialogue in FILE from address SRC, all in one go
# (MODE pipe) or a line at a time, each after the reply to the one before (MODE step);
# prints the reply codes, one a line (the last line of each reply)
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(20)
s.connect(("127.0.0.1", int(sys.argv[2])))
lines = open(sys.argv[3], "rb").read().split(b"\r\n")[:-1]
f = s.makefile("rb")
def reply():
    while True:
        try: l = f.readline()
        except OSError: return None
        if not l: return None
        if l[3:4] != b"-": return l.decode(errors="replace").rstrip("\r\n")
if sys.argv[4] == "pipe":
    s.sendall(b"".join(l + b"\r\n" for l in lines))
    while True:
        r = reply()
        if r is None: break
        print(r[:3])
else:
    print(reply()[:3])
    indata = False
    for l in lines:
        try: s.sendall(l + b"\r\n")
        except OSError: break
        if indata and l != b".": continue
        indata = False
        r = reply()
        if r is None: break
        print(r[:3])
        if r.startswith("354"): indata = True
PY
talk() { # SRC FILE MODE: the codes on one line
  python3 "$D/talk.py" "$1" "$port9" "$2" "$3" | tr '\n' ' ' | sed 's/ $//'
}
crlf() { sed 's/$/\r/' > "$1"; }
crlf "$D/tx.in" <<'IN'
EHLO c
MAIL FROM:<a@example.org>
MAIL FROM:<bad..addr@example.org>
RCPT TO:<one@example.net>
RCPT TO:<two@example.net>
RCPT TO:<three@example.net>
RCPT TO:<four@example.net>
QUIT
IN
for m in pipe step; do
  r=$(talk "$c_tx" "$D/tx.in" $m)
  e2e_check "a MAIL refused by rcptcheck (553) does not reset the count: 2 accepted, then 451 ($m): $r" \
    '[ "$r" = "220 250 250 553 250 250 451 451 221" ]'
done
crlf "$D/rr.in" <<'IN'
EHLO c
MAIL FROM:<a@example.org>
RCPT TO:<nobody@example.net>
RCPT TO:<one@example.net>
RCPT TO:<nobody2@example.net>
RCPT TO:<two@example.net>
RCPT TO:<three@example.net>
QUIT
IN
for m in pipe step; do
  r=$(talk "$c_rr" "$D/rr.in" $m)
  e2e_check "recipients refused by rcptcheck (550) take no place: 2 valid ones accepted, then 451 ($m): $r" \
    '[ "$r" = "220 250 250 550 250 550 250 451 221" ]'
done
crlf "$D/spam9.in" <<'IN'
EHLO c
MAIL FROM:<spam9@example.com>
RCPT TO:<one@example.net>
DATA
Subject: s

SPAMSPAM
.
QUIT
IN
crlf "$D/bl9.in" <<'IN'
EHLO c
MAIL FROM:<spam9@example.com>
MAIL FROM:<bad..addr@example.com>
RCPT TO:<one@example.net>
QUIT
IN
r=$(talk "$c_bl9" "$D/spam9.in" step)
e2e_check "exim refuses the content at the end of DATA: $r" '[ "$r" = "220 250 250 250 354 550 221" ]'
for m in pipe step; do
  r=$(talk "$c_bl9" "$D/bl9.in" $m)
  e2e_check "the pair stays blacklisted after a MAIL refused by rcptcheck ($m): $r" '[ "$r" = "220 250 250 553 550 221" ]'
done
{ printf 'EHLO c\nMAIL FROM:<big@example.com>\nRCPT TO:<one@example.net>\nDATA\nSubject: big\n\n'
  i=0; while [ $i -lt 400 ]; do printf '%s\n' "line $i of a message over the size limit: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i + 1)); done
  printf '.\nQUIT\n'; } | crlf "$D/big.in"
sed 's/SPAMSPAM/small and clean/; s/spam9/big/' "$D/spam9.in" > "$D/small.in"
r=$(talk "$c_big" "$D/big.in" step)
e2e_check "exim refuses a message over its size limit with 552: $r" '[ "$r" = "220 250 250 250 354 552 221" ]'
r=$(talk "$c_big" "$D/small.in" step)
e2e_check "the sender's next message is taken: 552 is not remembered: $r" '[ "$r" = "220 250 250 250 354 250 221" ]'
e2e_stop "$E2E_TCPSERVER_PID"

# a MAIL that throttle cannot parse and exim takes still starts a transaction (rcptcheck
# would refuse it, so throttle talks to exim directly here)
e2e_tcpserver 0 env THROTTLE_RCPT=1 throttle -d "$state9" -b 3h exim4 -C "$D/exim9.conf" -odi -bs || exit 1
port9=$E2E_PORT
sed 's/^MAIL FROM:<spam9@example.com>/MAIL FROM:loose@example.com/' "$D/spam9.in" > "$D/loose.in"
crlf "$D/loose2.in" <<'IN'
EHLO c
MAIL FROM:<loose@example.com>
RCPT TO:<one@example.net>
QUIT
IN
crlf "$D/loose3.in" <<'IN'
EHLO c
MAIL FROM:other@example.com
RCPT TO:<one@example.net>
RCPT TO:<two@example.net>
QUIT
IN
r=$(talk "$c_loose" "$D/loose3.in" pipe)
e2e_check "MAIL FROM:other@example.com taken by exim is counted: the 2nd recipient gets 451: $r" '[ "$r" = "220 250 250 250 451 221" ]'
r=$(talk "$c_loose" "$D/loose.in" step)
e2e_check "MAIL FROM:loose@example.com: exim refuses the content: $r" '[ "$r" = "220 250 250 250 354 550 221" ]'
r=$(talk "$c_loose" "$D/loose2.in" step)
e2e_check "the pair is remembered under the address exim took: $r" '[ "$r" = "220 250 250 550 221" ]'
e2e_stop "$E2E_TCPSERVER_PID"
E2E_LAST=$D/tcpserver.log
e2e_check "throttle logged accepted recipients (rcpts=2 throttled=2 for the refused MAIL)" \
  'grep -q "throttle: ip=$c_tx lists=- action=proxy rcpts=2 throttled=2 msgs=0" "$D/tcpserver.log"'
