#!/bin/sh
# throttle.t.sh: rblcheck + throttle + rcptcheck under tcpserver, exim4 -bs at the end, swaks in
# front (recipient throttle, connection rate, sender blacklist, whitelists, bounce limit,
# a corrupt state file), then sdu-report on the log the run wrote
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init throttle
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver tcprules swaks rbldnsd exim4 ss setsid python3
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
mkdir "$D/state"

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
  throttle -d "$D/state" -b 3h -w "$D/white" -B 2/10m -h 1h -W "$D/rcptwhite" \
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
  '[ "$(tr -d "\r" < "$D/dul.out" | grep -v "^250-" | cut -c1-3 | tr "\n" " ")" = "220 250 250 250 250 451 250 250 451 221 " ]'

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

# 7. a corrupt state file: a warning, and mail still flows
head -c 20000 /dev/zero | tr '\0' 'x' > "$D/state/data.mdb"
sw --local-interface "$c_ok" --from a@example.org --to two@example.net
e2e_check "corrupt state: the message is still taken" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
e2e_check "and throttle warned" 'grep -q "throttle: warning: database corrupt" "$D/tcpserver.log"'
rm -f "$D/state/data.mdb" "$D/state/lock.mdb"
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
