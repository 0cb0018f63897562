#!/bin/sh
# tls.t.sh: STARTTLS in the chain's proxy, end to end: tcpserver, rblcheck +
# throttle + rcptcheck in one process (sdu-chain), tests/smtpsink or exim4 -bs
# behind; swaks --tls, openssl s_client -starttls smtp and tests/lib/tlssmtp.py
# in front. The certificates are made here with openssl req and thrown away.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init tls
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver swaks rbldnsd exim4 openssl python3
T=$E2E_TOP
D=$E2E_DIR
for b in chain/sdu-chain rblcheck/rblcheck throttle/throttle rcptcheck/rcptcheck tests/smtpsink rcptcheck/rcptcheck-build; do
  [ -x "$T/$b" ] || { echo "not ok - tls: $b is not built (make)"; exit 1; }
done

# throw-away keys: ECDSA P-256 and RSA-2048
e2e_ok "openssl req: an ECDSA P-256 certificate" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$D/ec.key" -out "$D/ec.crt" -days 2 -subj /CN=mx.sdu.test || exit 1
e2e_ok "openssl req: an RSA-2048 certificate" openssl req -x509 -newkey rsa:2048 -nodes \
  -keyout "$D/rsa.key" -out "$D/rsa.crt" -days 2 -subj /CN=mx.sdu.test || exit 1

dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_clean=$base.10 c_dul=$base.11 c_tag=$base.13
printf '%s\n' "$c_dul" > "$D/dul"
printf '%s\n' "$c_tag" > "$D/rbl"
chmod 755 "$D" && chmod 644 "$D/dul" "$D/rbl"
cat > "$D/policy" <<'EOF'
list dul  dialups.test
list rbl  rbl.test
rule dul        throttle 1
rule any        tag
EOF
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" dialups.test:ip4set:"$D/dul" rbl.test:ip4set:"$D/rbl" || exit 1
printf 'one@example.net\ntwo@example.net\n' > "$D/valid"
"$T/rcptcheck/rcptcheck-build" -f "$D/rcpt.cdb" "$D/valid" || exit 1
DNSCACHEIP=$dns; export DNSCACHEIP
mkdir -p "$D/sink" "$D/state"

# listen CLIENTIP [VAR=VALUE...] -- DOWNSTREAM...: the chain under tcpserver,
# the client seen as CLIENTIP (rblcheck's lists hold it or not)
listen() {
  _ip=$1; shift
  _env=
  while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
  shift
  [ -n "${E2E_TCPSERVER_PID:-}" ] && e2e_stop "$E2E_TCPSERVER_PID"
  : > "$D/tcpserver.log"
  # shellcheck disable=SC2086
  e2e_tcpserver ${LISTEN_OPTS:-} 0 env TCPREMOTEIP="$_ip" $_env "$T/rblcheck/rblcheck" -f "$D/policy" \
    "$T/throttle/throttle" -d "${STATE:-$D/state}" -b 3h "$T/rcptcheck/rcptcheck" -f "$D/rcpt.cdb" "$@"
}
client() { python3 "$T/tests/lib/tlssmtp.py" "${CLIENT_HOST:-127.0.0.1}" "$E2E_PORT" "$@"; }
msgs() { ls "$D/sink" | grep -c '^msg\.'; }
lastmsg() { ls -t "$D"/sink/msg.* | head -n 1; }

# --- swaks --tls, ECDSA, a tagged client, smtpsink behind
listen "$c_tag" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" -- "$T/tests/smtpsink" -d "$D/sink" || exit 1
printf 'Subject: over TLS\r\nX-Test: 1\r\n\r\nline one\r\n..dot line\r\nline three\r\n' > "$D/body"
e2e_swaks --tls --to one@example.net --from a@example.org --data "$D/body"
e2e_check "swaks --tls through the chain: TLS started, the message taken" \
  'grep -q "TLS started with cipher TLSv1.3" "$E2E_LAST" && grep -q "^<~  250 ok queued" "$E2E_LAST" && [ "$(msgs)" -eq 1 ]'
m=$(lastmsg)
E2E_LAST=$m
e2e_check "  ... rblcheck's tag the first injected line, ours right below it" \
  'sed -n "/^\$/,\$p" "$m" | sed -n "2p" | grep -q "^X-RBLCheck: " && sed -n "/^\$/,\$p" "$m" | sed -n "3p" | grep -q "^X-Sdu-TLS: version=TLSv1.3 cipher=TLS_"'
# (swaks ends the data with an empty line of its own)
e2e_check "  ... and below them the client's data byte for byte" \
  '[ "$(sed -n "/^\$/,\$p" "$m" | sed "1,/^X-Sdu-TLS:/d" | od -c)" = "$(printf "\r\n" | cat "$D/body" - | od -c)" ]'
E2E_LAST=$D/tcpserver.log
e2e_check "  ... rcptcheck's log line names the protocol and cipher" \
  'grep -q "^rcptcheck: ip=$c_tag .*rcpt=one@example.net action=accept.* tls=TLSv1.3 cipher=TLS_" "$D/tcpserver.log"'
e2e_swaks --tls --to nobody@example.net --from a@example.org
e2e_check "rcptcheck refuses an unknown recipient inside TLS" 'grep -q "^<~\* 550 " "$E2E_LAST"'

# --- the injection (CVE-2011-0411): a MAIL in the same packet as STARTTLS
client '>EHLO x\r\n' '<' '>STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n' '<' tls '>EHLO y\r\n' '<' \
  '>RCPT TO:<one@example.net>\r\n' '<' '>STARTTLS\r\n' '<' '>QUIT\r\n' '<' > "$D/inject.out" 2>&1
E2E_LAST=$D/inject.out
e2e_check "a MAIL pipelined with STARTTLS is never executed: RCPT after the handshake gets 503" \
  'grep -q "^220 2.0.0 Ready to start TLS" "$D/inject.out" && grep -q "^TLS TLSv1.3" "$D/inject.out" && grep -q "^503 MAIL first" "$D/inject.out"'
e2e_check "after the handshake: no STARTTLS offered, a second one refused (RFC 3207)" \
  '[ "$(grep -c "STARTTLS" "$D/inject.out")" -eq 1 ] && grep -q "^503 5.5.1 TLS already active" "$D/inject.out"'
E2E_LAST=$D/tcpserver.log
e2e_check "  ... and the dropped bytes logged" 'grep -q "warning: dropped 30 bytes sent after STARTTLS" "$D/tcpserver.log"'

# --- a 20 MB message under TLS, byte for byte
python3 - "$D/big" <<'PY'
import sys, hashlib
line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+:;,./?!*\r\n"
body = b"Subject: big\r\n\r\n" + line * (20 * 1024 * 1024 // len(line))
open(sys.argv[1] + ".data", "wb").write(body)
open(sys.argv[1] + ".session", "wb").write(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<two@example.net>\r\nDATA\r\n")
open(sys.argv[1] + ".end", "wb").write(b".\r\nQUIT\r\n")
PY
before=$(msgs)
client '>EHLO x\r\n' '<' '>STARTTLS\r\n' '<' tls '>EHLO y\r\n' '<' "file=$D/big.session" '<' '<' '<' \
  "file=$D/big.data" "file=$D/big.end" '<' '<' > "$D/big.out" 2>&1
E2E_LAST=$D/big.out
e2e_check "20 MB under TLS: taken" 'grep -q "^250 ok queued" "$D/big.out" && [ "$(msgs)" -eq $((before + 1)) ]'
m=$(lastmsg)
e2e_check "  ... and stored byte for byte" \
  '[ "$(tail -c "$(wc -c < "$D/big.data")" "$m" | cksum)" = "$(cksum < "$D/big.data")" ]'
rm -f "$D/big.data" "$m"

# --- close_notify in the middle of DATA: the message is cut, never delivered
# (TLS's end is no end of data: only the client's "." is)
before=$(msgs)
client '>EHLO x\r\n' '<' '>STARTTLS\r\n' '<' tls '>EHLO y\r\n' '<' \
  '>MAIL FROM:<a@example.org>\r\nRCPT TO:<two@example.net>\r\nDATA\r\n' '<' '<' '<' \
  '>Subject: cut\r\n\r\nthe first half\r\n' close > "$D/cut.out" 2>&1
E2E_LAST=$D/cut.out
e2e_check "close_notify in the middle of DATA: the session ends, no message" \
  'grep -q "^354 " "$D/cut.out" && grep -q "^CLOSED" "$D/cut.out" && ! grep -q "^250 ok queued" "$D/cut.out" && sleep 0.5 && [ "$(msgs)" -eq "$before" ]'

# --- STARTTLS pipelined behind MAIL: in a transaction, refused; STARTTLS before EHLO
client '>STARTTLS\r\n' '<' '>EHLO x\r\nMAIL FROM:<a@example.org>\r\nSTARTTLS\r\n' '<' '<' '<' '>QUIT\r\n' '<' > "$D/order.out" 2>&1
E2E_LAST=$D/order.out
e2e_check "STARTTLS before EHLO and inside a transaction: 503" \
  '[ "$(grep -c "^503 5.5.1" "$D/order.out")" -eq 2 ] && grep -q "^503 5.5.1 not inside a mail transaction" "$D/order.out"'

# --- openssl s_client, RSA, exim4 -bs behind (offering STARTTLS itself)
e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }
sed -i 's/^tls_advertise_hosts =.*/tls_advertise_hosts = */' "$D/exim.conf"
mail=$D/exim-mail/new
# shellcheck disable=SC2046
listen "$c_clean" SDU_TLS_CERT="$D/rsa.crt" SDU_TLS_KEY="$D/rsa.key" SDU_TLS_PROTOCOLS=TLSv1.2 -- $(e2e_exim_cmd) || exit 1
{ printf 'EHLO client.sdu.test\nMAIL FROM:<a@example.org>\nRCPT TO:<one@example.net>\nDATA\nSubject: s_client\n\nhello\n.\n'
  sleep 3; printf 'QUIT\n'; sleep 1; } |
  timeout 20 openssl s_client -connect "127.0.0.1:$E2E_PORT" -starttls smtp -crlf -quiet -ign_eof > "$D/sclient.out" 2> "$D/sclient.err"
E2E_LAST=$D/sclient.out
e2e_check "openssl s_client -starttls smtp to exim behind the chain: the message taken" 'grep -q "^250 OK id=" "$D/sclient.out"'
delivered() { [ "$(e2e_count "$mail")" -ge 1 ]; }
e2e_wait 50 delivered
f=$(ls "$mail"/* 2>/dev/null | head -n 1)
E2E_LAST=$f
e2e_check "  ... exim's message has our line right below exim's Received, naming TLSv1.2 and an RSA suite" \
  '[ -n "$f" ] && sed -n "/^Received:/,/^X-Sdu-TLS:/p" "$f" | grep -q "^X-Sdu-TLS: version=TLSv1.2 cipher=ECDHE-RSA-"'
e2e_check "  ... exim's own STARTTLS was never offered twice" \
  '[ "$(grep -c "STARTTLS" "$D/sclient.out")" -eq 0 ]'
{ sleep 2; printf 'QUIT\n'; } | timeout 10 openssl s_client -connect "127.0.0.1:$E2E_PORT" -starttls smtp -crlf -quiet \
  -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' > "$D/old.out" 2> "$D/old.err"
E2E_LAST=$D/tcpserver.log
e2e_check "a TLS 1.1 client is refused" '! grep -q "^221" "$D/old.out" && grep -q "TLS handshake failed: .*unsupported protocol\|TLS handshake failed: .*version" "$D/tcpserver.log"'

# --- throttle's limit inside TLS (the dial-up client: one recipient)
listen "$c_dul" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" -- "$T/tests/smtpsink" -d "$D/sink" || exit 1
e2e_swaks --tls --to one@example.net,two@example.net --from a@example.org
e2e_check "throttle's limit still applies after the handshake: the second recipient gets 451" \
  'grep -q "TLS started" "$E2E_LAST" && grep -q "^<~\* 451 " "$E2E_LAST" && grep -q "^<~  250 ok queued" "$E2E_LAST"'

# --- the handshake timeout
listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" SDU_TLS_TIMEOUT=1 -- "$T/tests/smtpsink" -d "$D/sink" || exit 1
client '>EHLO x\r\n' '<' '>STARTTLS\r\n' '<' eof > "$D/timeout.out" 2>&1
E2E_LAST=$D/timeout.out
e2e_check "a client that never starts the handshake is cut after SDU_TLS_TIMEOUT (1 s)" \
  'grep -q "^220 2.0.0" "$D/timeout.out" && awk "/^EOF after/ { exit !(\$3 >= 0.8 && \$3 < 5) }" "$D/timeout.out"'
E2E_LAST=$D/tcpserver.log
e2e_check "  ... with a warning" 'grep -q "warning: TLS handshake timed out" "$D/tcpserver.log"'

# --- a key that cannot be read: no STARTTLS, the mail still flows, and the
# warning names the file, the user and the uid (so that the operator sees
# whose permission is missing)
# nokey WHAT FILE USER UID WHY: one session through the chain listening
nokey() {
  e2e_swaks --to one@example.net --from a@example.org
  e2e_check "$1: no STARTTLS offered, the message taken" \
    '! grep -q "STARTTLS" "$E2E_LAST" && grep -q "^<-  250 ok queued" "$E2E_LAST"'
  E2E_LAST=$D/tcpserver.log
  e2e_check "  ... and the warning names the file, the user and the uid" \
    "grep -q 'warning: STARTTLS not offered: unable to read key file $2 as user $3 (uid $4): $5' \"\$D/tcpserver.log\""
}
listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/missing.key" -- "$T/tests/smtpsink" -x nodir || exit 1
nokey "a key that is not there" "$D/missing.key" root 0 "No such file or directory"
# a key only root can read, the chain run as nobody (as qmaild would be)
nuid=$(id -u nobody) ngid=$(id -g nobody)
cp "$D/ec.key" "$D/root.key" && chmod 600 "$D/root.key"
mkdir -p "$D/nstate" && chown "$nuid:$ngid" "$D/nstate"
chmod 644 "$D/ec.crt" "$D/policy" "$D/rcpt.cdb"
LISTEN_OPTS="-u $nuid -g $ngid" STATE=$D/nstate listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/root.key" -- \
  "$T/tests/smtpsink" -x nodir || exit 1
nokey "a key only root can read, the chain run as nobody" "$D/root.key" nobody "$nuid" "Permission denied"

# --- SNI: SDU_TLS_DIR holds NAME.pem (chain and key) per name a client asks for
mkdir -p "$D/sni"
e2e_ok "openssl req: a certificate for mx2.sdu.test" openssl req -x509 -newkey rsa:2048 -nodes \
  -keyout "$D/mx2.key" -out "$D/mx2.crt" -days 2 -subj /CN=mx2.sdu.test || exit 1
cat "$D/mx2.crt" "$D/mx2.key" > "$D/sni/mx2.sdu.test.pem"
listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" SDU_TLS_DIR="$D/sni" -- "$T/tests/smtpsink" -d "$D/sink" || exit 1
# subject: the certificate the server sent, as s_client prints it
subject() {
  { sleep 2; printf 'QUIT\n'; } | timeout 10 openssl s_client -connect "127.0.0.1:$E2E_PORT" -starttls smtp -crlf \
    -ign_eof "$@" 2> /dev/null | sed -n 's/^subject=//p'
}
subject -servername mx2.sdu.test > "$D/sni.out"
subject -servername MX2.SDU.TEST > "$D/sni-upper.out"
subject -servername other.sdu.test > "$D/sni-other.out"
subject -noservername > "$D/sni-none.out"
E2E_LAST=$D/sni.out
e2e_check "SNI: mx2.sdu.test gets its own certificate from SDU_TLS_DIR" 'grep -q "CN *= *mx2.sdu.test" "$D/sni.out"'
e2e_check "  ... in capitals too" 'grep -q "CN *= *mx2.sdu.test" "$D/sni-upper.out"'
e2e_check "  ... a name without a file gets SDU_TLS_CERT's" 'grep -q "CN *= *mx.sdu.test" "$D/sni-other.out"'
e2e_check "  ... and so does a client that names none" 'grep -q "CN *= *mx.sdu.test" "$D/sni-none.out"'

# --- IPv6
LISTEN_OPTS="-6 -a ::1" listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" -- "$T/tests/smtpsink" -d "$D/sink" || exit 1
before=$(msgs)
CLIENT_HOST=::1 client '>EHLO x\r\n' '<' '>STARTTLS\r\n' '<' tls '>EHLO y\r\n' '<' \
  '>MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n' '<' '<' '<' '>Subject: v6\r\n\r\nx\r\n.\r\nQUIT\r\n' '<' '<' > "$D/v6.out" 2>&1
E2E_LAST=$D/v6.out
e2e_check "IPv6 (::1): STARTTLS, the message taken" \
  'grep -q "^TLS TLSv1.3" "$D/v6.out" && grep -q "^250 ok queued" "$D/v6.out" && [ "$(msgs)" -eq $((before + 1)) ]'

# --- the client's first command after the handshake is not held 40 ms: TLS
# 1.3 ends with the client's Finished, which we answer with nothing; a client
# with Nagle's algorithm on (Python's, as here) holds its EHLO until that
# Finished is acknowledged, and the kernel would delay the acknowledgement
# (sdu_tls_handshake asks for it at once). The fastest of 5 sessions: each
# one is held >= 40 ms without it, ~1 ms with it
listen "$c_clean" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" -- "$T/tests/smtpsink" -x nodir || exit 1
: > "$D/nagle.out"
for i in 1 2 3 4 5; do
  client '>EHLO x\r\n' '<' '>STARTTLS\r\n' '<' tls '>EHLO y\r\n' '<@' '>QUIT\r\n' '<' >> "$D/nagle.out" 2>&1
done
E2E_LAST=$D/nagle.out
e2e_check "the EHLO right after the handshake is answered at once, not after a delayed ACK (fastest of 5 < 30 ms)" \
  '[ "$(grep -c "^REPLY after" "$D/nagle.out")" -eq 5 ] && awk "/^REPLY after/ { if (m == \"\" || \$3 < m) m = \$3 } END { exit !(m < 30) }" "$D/nagle.out"'

e2e_stop "$E2E_TCPSERVER_PID"
