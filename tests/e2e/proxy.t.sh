#!/bin/sh
# proxy.t.sh: the proxy engine end to end: tcpserver, tests/sdu-testproxy,
# exim4 -bs at the end, swaks and a raw pipelining client in front
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init proxy
e2e_need_root "exim4 -C"
e2e_need_prog tcpserver swaks exim4 python3

e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }
# let this exim offer STARTTLS, so that we see the proxy take it out
sed -i 's/^tls_advertise_hosts =.*/tls_advertise_hosts = */' "$E2E_DIR/exim.conf"
mail=$E2E_DIR/exim-mail/new
raw() { python3 "$E2E_TOP/tests/lib/rawsmtp.py" 127.0.0.1 "$E2E_PORT" "$@"; }

# shellcheck disable=SC2046
e2e_tcpserver 0 sdu-testproxy -r bad -H 'X-Test: injected' $(e2e_exim_cmd) || exit 1

e2e_swaks --pipeline --to one@example.net,bad@example.net,two@example.net --from a@example.org --header 'Subject: e2e'
e2e_check "swaks through the proxy to exim: the message is taken" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
e2e_check "the refused recipient gets the hook's 550" 'grep -q "^<\*\* 550 5.1.1 no such user here" "$E2E_LAST"'
e2e_check "exim's STARTTLS is not offered through the proxy" '! grep -qi "STARTTLS" "$E2E_LAST"'
e2e_check "swaks saw PIPELINING" 'grep -q "250-PIPELINING" "$E2E_LAST"'
delivered() { [ "$(e2e_count "$mail")" -ge 1 ]; }
e2e_wait 50 delivered
f=$(ls "$mail"/* 2>/dev/null | head -n 1)
e2e_check "delivered once per good recipient" '[ "$(e2e_count "$mail")" -eq 2 ]'
e2e_check "the injected header is in it, right after exim's Received" 'sed -n "/^Received:/,/^X-Test:/p" "$f" | grep -q "^X-Test: injected"'
e2e_check "downstream saw only the good recipients" \
  '[ "$(cat "$mail"/* | sed -n "s/^Envelope-to: //p" | sort | tr "\n" " ")" = "one@example.net two@example.net " ]'
rm -f "$mail"/*

# 10,000 recipients in one write, every third refused by the hook
awk 'BEGIN { printf "EHLO x\r\nMAIL FROM:<a@example.org>\r\n"; for (i = 1; i <= 10000; i++) printf "RCPT TO:<%s%d@example.net>\r\n", (i % 3 ? "u" : "bad"), i; printf "RSET\r\nQUIT\r\n" }' > "$E2E_DIR/many"
raw "$E2E_DIR/many" > "$E2E_DIR/many.out"
E2E_LAST=$E2E_DIR/many.out
e2e_check "10,000 pipelined recipients: 10,000 replies in order" \
  "[ \"\$(tr -d '\r' < \"\$E2E_DIR/many.out\" | awk '/^250-/ { next } { n++ } n > 3 && n <= 10003 { w = (n - 3) % 3 ? \"250\" : \"550\"; if (substr(\$0, 1, 3) != w) bad++ } END { print n \" \" bad + 0 }')\" = '10005 0' ]"

printf 'EHLO x\r\n%05000d\r\nMAIL\0FROM:<a@example.org>\r\nNOOP\rX\r\nNOOP\r\nQUIT\r\n' 0 > "$E2E_DIR/bad"
raw "$E2E_DIR/bad" | tr -d '\r' | grep -v '^250-' > "$E2E_DIR/bad.out"
E2E_LAST=$E2E_DIR/bad.out
e2e_check "bad lines get 500, the session goes on" \
  '[ "$(cut -c1-3 "$E2E_DIR/bad.out" | tr "\n" " ")" = "220 250 500 500 500 250 221 " ]'

# a client that leaves in the middle of DATA: exim must not take the message
printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nhalf\r\n' > "$E2E_DIR/cut"
raw "$E2E_DIR/cut" --close-after 200
sleep 1
e2e_check "a client gone mid-DATA leaves no message" '[ "$(e2e_count "$mail")" -eq 0 ]'
e2e_check "no process of that session is left" '! pgrep -f "^exim4 -C $E2E_DIR/exim.conf" > /dev/null'

# exim killed in the middle of a session: the client gets 451 or 421, never 250
# killexim STAGE: "data" kills it after the 354 and some data, "mail" after MAIL
cat > "$E2E_DIR/killexim.py" <<PY
import socket, subprocess, sys, time
stage = sys.argv[1]
s = socket.create_connection(("127.0.0.1", $E2E_PORT), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-": return l
def kill():
    subprocess.run(["pkill", "-KILL", "-f", "^exim4 -C $E2E_DIR/exim.conf"])
    time.sleep(0.3)
reply()
if stage == "data":
    s.sendall(b"HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n")
    for i in range(4): reply()
    s.sendall(b"Subject: doomed\r\n\r\nline\r\n")
    time.sleep(0.3)
    kill()
    try:
        s.sendall(b".\r\n")
    except OSError:
        pass
else:
    s.sendall(b"HELO x\r\nMAIL FROM:<a@example.org>\r\n")
    reply(); reply()
    kill()
    s.sendall(b"RCPT TO:<one@example.net>\r\n")
sys.stdout.write(reply().decode())
PY
python3 "$E2E_DIR/killexim.py" data > "$E2E_DIR/kill.out" 2>&1
E2E_LAST=$E2E_DIR/kill.out
e2e_check "exim killed mid-DATA: the client gets 451" 'grep -q "^451 4.3.0" "$E2E_DIR/kill.out"'
sleep 0.5
e2e_check "and no message was delivered" '[ "$(e2e_count "$mail")" -eq 0 ]'

# exim killed after MAIL: the next command gets 421
python3 "$E2E_DIR/killexim.py" mail > "$E2E_DIR/kill2.out" 2>&1
E2E_LAST=$E2E_DIR/kill2.out
e2e_check "exim killed after MAIL: the next command gets 421" 'grep -q "^421 4.3.0" "$E2E_DIR/kill2.out"'

# bare LF in the message: exim gets the lines whole with CRLF; ".\n" is no end
printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n' > "$E2E_DIR/lf"
printf 'Subject: lf\r\n\r\nfirst\nsecond\n.\nthird\r\n.\r\nQUIT\r\n' >> "$E2E_DIR/lf"
raw "$E2E_DIR/lf" | tr -d '\r' > "$E2E_DIR/lf.out"
E2E_LAST=$E2E_DIR/lf.out
e2e_check "bare LF lines: exim takes the message at the client's CRLF.CRLF" 'grep -q "^250 OK id=" "$E2E_DIR/lf.out" && grep -q "^221 " "$E2E_DIR/lf.out"'
e2e_wait 50 delivered
e2e_check "the message has its lines, the dot after a bare LF as text" \
  '[ "$(sed -n "/^\$/,\$p" "$mail"/* | tr -d "\r" | sed 1d | tr "\n" " ")" = "first second . third " ]'
rm -f "$mail"/*

# messages around the size of a buffer's small part (640 bytes: the first
# session starts each buffer there and moves it to its 64 KB part when it
# fills) and past the 64 KB part, one connection, all in one write: exim
# stores each body as sent
body() { awk -v n="$1" 'BEGIN { while (n > 0) { l = n > 72 ? 70 : n - 2; if (l < 0) l = 0; s = ""; for (i = 0; i < l; i++) s = s sprintf("%c", 97 + (i + n) % 26); printf "%s\r\n", s; n -= l + 2 } }'; }
sizes="600 639 640 641 700 1279 1280 1281 5000 70000"  # exim queues an 11th for later
{ printf 'EHLO x\r\n'
  for n in $sizes; do
    printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\nSubject: size %s\r\n\r\n' "$n"
    body "$n"; printf '.\r\n'
  done
  printf 'QUIT\r\n'; } > "$E2E_DIR/sizes"
raw "$E2E_DIR/sizes" | tr -d '\r' > "$E2E_DIR/sizes.out"
E2E_LAST=$E2E_DIR/sizes.out
e2e_check "messages of 600 bytes to 70,000 in one write: a 250 for each" \
  '[ "$(grep -c "^250 OK id=" "$E2E_DIR/sizes.out")" -eq 10 ] && grep -q "^221 " "$E2E_DIR/sizes.out"'
ten() { [ "$(e2e_count "$mail")" -ge 10 ]; }
e2e_wait 100 ten
bad=
for n in $sizes; do
  m=$(grep -l "^Subject: size $n\$" "$mail"/* | head -n 1)
  [ -n "$m" ] && [ "$(tr -d '\r' < "$m" | sed '1,/^$/d' | cksum)" = "$(body "$n" | tr -d '\r' | cksum)" ] || bad="$bad $n"
done
e2e_check "  ... and exim stores each body as sent (wrong:${bad:- none})" '[ -z "$bad" ]'
rm -f "$mail"/*
e2e_stop "$E2E_TCPSERVER_PID"

# a silent client is dropped at the idle time, exim behind
# shellcheck disable=SC2046
e2e_tcpserver 0 sdu-testproxy -i 1 $(e2e_exim_cmd) || exit 1
printf 'HELO x\r\n' > "$E2E_DIR/idle"
python3 - "$E2E_PORT" > "$E2E_DIR/idle.out" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t = time.time(); out = b""
s.sendall(b"HELO x\r\n")
while True:
    b = s.recv(4096)
    if not b: break
    out += b
sys.stdout.write(out.decode() + "elapsed %.1f\n" % (time.time() - t))
PY
E2E_LAST=$E2E_DIR/idle.out
e2e_check "silent client through to exim: 421 timeout after about 1 s" \
  'grep -q "^421 4.4.2" "$E2E_DIR/idle.out" && awk "/^elapsed/ { exit !(\$2 >= 0.9 && \$2 < 3) }" "$E2E_DIR/idle.out"'

e2e_stop "$E2E_TCPSERVER_PID"

# the session's limit holds while message data streams in without a pause
# (the proxy reads again at once while bytes wait, without polling): a
# client that sends for 8 s is cut off at the 2 s of -s 2
e2e_tcpserver 0 sdu-testproxy -s 2 "$E2E_TOP/tests/smtpsink" -x nodir || exit 1
python3 - "$E2E_PORT" > "$E2E_DIR/stream.out" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
chunk = (b"x" * 70 + b"\r\n") * 900
t = time.time()
try:
    while time.time() - t < 8:
        s.sendall(chunk)
    cut = "not cut"
except OSError:
    cut = "cut"
out = b""
s.settimeout(2)
try:
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
except OSError:
    pass
sys.stdout.write(out.decode(errors="replace") + "%s after %.1f\n" % (cut, time.time() - t))
PY
E2E_LAST=$E2E_DIR/stream.out
e2e_check "a client streaming message data for 8 s is cut off at the session's 2 s" \
  'awk "/after/ { exit !(\$1 == \"cut\" && \$3 < 5) }" "$E2E_DIR/stream.out" && grep -q "^421 4.4.2" "$E2E_DIR/stream.out"'
e2e_stop "$E2E_TCPSERVER_PID"
e2e_check "nothing left running" '! pgrep -f "sdu-testproxy -r bad .*$E2E_DIR/" > /dev/null'  # this test's own: others may run side by side

# SMTP smuggling (issue 13) through the chain links that stand in the middle,
# rcptcheck and throttle, to exim4 -bs: after "body1" a variant of an end of
# data, then a smuggled MAIL, RCPT, DATA. exim queues one message, the client
# gets one 250 for its one DATA, and exim stores the text that
# tests/smtpsink stores through the same link (tests/transcript/proxy.t
# shows that text)
printf 'b@example.net\n' | "$E2E_TOP/rcptcheck/rcptcheck-build" -f "$E2E_DIR/rcpt.cdb" || e2e_fail "rcptcheck-build" "failed"
mkdir -p "$E2E_DIR/st"
n=0
for link in "rcptcheck/rcptcheck -f $E2E_DIR/rcpt.cdb" "throttle/throttle -d $E2E_DIR/st"; do
  # shellcheck disable=SC2046,SC2086
  THROTTLE_RCPT=5 e2e_tcpserver 0 "$E2E_TOP"/$link $(e2e_exim_cmd) || exit 1
  for v in '\n.\n' '\n.\r\n' '\r\n.\n' '\r.\r\n' '\n.\r' '\r.\r' '\r\n.\0\r\n' '\r\n\0.\r\n' '\0\n.\n'; do
    n=$((n + 1))
    {
      printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: s\r\n\r\nbody1'
      printf "$v"
      printf 'MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n'
    } > "$E2E_DIR/smug.$n"
    raw "$E2E_DIR/smug.$n" | tr -d '\r' > "$E2E_DIR/smug.$n.out"
    rm -rf "$E2E_DIR/sink.$n"; mkdir "$E2E_DIR/sink.$n"
    # shellcheck disable=SC2086
    THROTTLE_RCPT=5 TCPREMOTEIP=127.0.0.1 "$E2E_TOP"/$link "$E2E_TOP/tests/smtpsink" -d "$E2E_DIR/sink.$n" < "$E2E_DIR/smug.$n" > /dev/null 2>&1
    e2e_wait 50 delivered
    sleep 0.3
    E2E_LAST=$E2E_DIR/smug.$n.out
    e2e_check "smuggling $v through ${link%% *}: one 250, one final reply for the one DATA, 221" \
      '[ "$(grep -v "^250-" "$E2E_LAST" | cut -c1-3 | tr "\n" " ")" = "220 250 250 250 354 250 221 " ]'
    e2e_check "  ... exim queued one message, for b@example.net, none for bob" \
      '[ "$(e2e_count "$mail")" -eq 1 ] && grep -q "^Envelope-to: b@example.net" "$mail"/* && ! grep -q "^Envelope-to: bob" "$mail"/*'
    e2e_check "  ... exim stores the body smtpsink stores" \
      '[ "$(sed "1,/^\$/d" "$mail"/* | od -c)" = "$(sed "1,/^\$/d" "$E2E_DIR/sink.$n"/msg.* | tr -d "\r" | sed "1,/^\$/d" | od -c)" ] && grep -q "^Subject: s\$" "$mail"/*'
    rm -f "$mail"/*
  done
  e2e_stop "$E2E_TCPSERVER_PID"
done

# SDU_BARELF=reject: 550 at the client's end of data, exim queues nothing
# shellcheck disable=SC2046
SDU_BARELF=reject e2e_tcpserver 0 "$E2E_TOP/rcptcheck/rcptcheck" -f "$E2E_DIR/rcpt.cdb" $(e2e_exim_cmd) || exit 1
taken=$(grep -c " <= " "$E2E_DIR/exim-log/mainlog")
lost=$(grep -c "lost while reading message data" "$E2E_DIR/exim-log/mainlog")
raw "$E2E_DIR/smug.1" | tr -d '\r' > "$E2E_DIR/reject.out"
E2E_LAST=$E2E_DIR/reject.out
e2e_check "SDU_BARELF=reject: 550 5.5.2 for the message with a bare LF, then 421" \
  '[ "$(grep -v "^250-" "$E2E_LAST" | cut -c1-3 | tr "\n" " ")" = "220 250 250 250 354 550 421 " ] && grep -q "^550 5.5.2 bare LF" "$E2E_LAST"'
# exim logs the lost connection and exits in its own time (a loaded machine)
cutoff() { [ "$(grep -c "lost while reading message data" "$E2E_DIR/exim-log/mainlog")" -gt "$lost" ] && ! pgrep -f "^exim4 -C $E2E_DIR/exim.conf" > /dev/null; }
e2e_wait 100 cutoff
e2e_check "  ... and exim took nothing (it lost the connection in the data), none of it is left" \
  '[ "$(e2e_count "$mail")" -eq 0 ] && [ "$(grep -c " <= " "$E2E_DIR/exim-log/mainlog")" -eq "$taken" ] && cutoff'
e2e_stop "$E2E_TCPSERVER_PID"
