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

# bare LF in the message: exim gets the lines whole, the end where we saw it
printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n' > "$E2E_DIR/lf"
printf 'Subject: lf\r\n\r\nfirst\nsecond\r\n.\nQUIT\r\n' >> "$E2E_DIR/lf"
raw "$E2E_DIR/lf" | tr -d '\r' > "$E2E_DIR/lf.out"
E2E_LAST=$E2E_DIR/lf.out
e2e_check "bare LF lines and a bare-LF end of data: exim takes the message" 'grep -q "^250 OK id=" "$E2E_DIR/lf.out" && grep -q "^221 " "$E2E_DIR/lf.out"'
e2e_wait 50 delivered
e2e_check "the message has both lines and nothing after the dot" \
  '[ "$(sed -n "/^\$/,\$p" "$mail"/* | tr -d "\r" | sed 1d | tr "\n" " ")" = "first second " ]'
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
e2e_check "nothing left running" '! pgrep -f "sdu-testproxy -r bad .*$E2E_DIR/" > /dev/null'  # this test's own: others may run side by side
