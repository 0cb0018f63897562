#!/bin/sh
# sessionfuzz.t.sh: random sessions with hostile message data (bare CR and LF
# around dots, stuffed dots, NULs, long lines, messages of hundreds of KB),
# sent in random pieces with pauses, through the proxy to tests/smtpsink:
# every message answered 250 is stored once, as the client sent it (under the
# documented changes: a bare LF a line end, a bare CR a space), below the
# injected lines and never folded into them; no bare CR or LF reaches the
# server; nothing else is stored, nor a message the client left in the middle;
# no session stalls (tests/lib/sessionfuzz.py).
# Through sdu-testproxy (bare LF normalized, and refused with SDU_BARELF=reject)
# (a third of the sessions authenticated) and through the chain (rblcheck's
# tag, throttle, rcptcheck in one process),
# half the sessions in STARTTLS. A failure prints its seed: run it again with
# SESSIONFUZZ_SEED=N. SESSIONFUZZ_SESSIONS sets the number of sessions (300).
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init sessionfuzz
e2e_need_root "port 53 for rbldnsd"
e2e_need_prog tcpserver rbldnsd openssl python3
T=$E2E_TOP
D=$E2E_DIR
n=${SESSIONFUZZ_SESSIONS:-300}
seed=${SESSIONFUZZ_SEED:+--seed $SESSIONFUZZ_SEED}
fuzz() { python3 "$T/tests/lib/sessionfuzz.py" 127.0.0.1 "$E2E_PORT" "$@"; }
mkdir -p "$D/sink" "$D/sink2" "$D/sink3" "$D/state"

# shellcheck disable=SC2086
e2e_tcpserver 0 "$T/tests/sdu-testproxy" -q -H 'X-Test: injected' -r bad "$T/tests/smtpsink" -x auth -d "$D/sink" || exit 1
# shellcheck disable=SC2086
e2e_ok "sdu-testproxy, bare LF normalized: $n sessions (a third authenticated: no injected line), every message stored as told" \
  fuzz "$D/sink" --sessions "$n" $seed --header 'X-Test: injected' --refuse bad --big --auth 0.3 --cut 0.1
e2e_stop "$E2E_TCPSERVER_PID"

# shellcheck disable=SC2086
# a server that reads 300 bytes at a time and pauses after every 64 KiB: the
# proxy's buffers fill and it stops reading the client
e2e_tcpserver 0 env SDU_BARELF=reject "$T/tests/sdu-testproxy" -q -H 'X-Test: injected' \
  "$T/tests/smtpsink" -x read=300 -x slowread=2 -d "$D/sink2" || exit 1
# shellcheck disable=SC2086
e2e_ok "sdu-testproxy, SDU_BARELF=reject, a slow server: $n sessions, a bare LF refused and nothing stored, the rest as told" \
  fuzz "$D/sink2" --sessions "$n" $seed --header 'X-Test: injected' --barelf reject --cut 0.1 --big
e2e_stop "$E2E_TCPSERVER_PID"

# the chain: the client is on a list whose rule tags, so rblcheck's tag is
# injected; rcptcheck knows two recipients and refuses the others
e2e_ok "openssl req: a certificate" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$D/ec.key" -out "$D/ec.crt" -days 2 -subj /CN=mx.sdu.test || exit 1
dns=$(e2e_free_addr) || exit 1
client=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256)).13
printf '%s\n' "$client" > "$D/rbl"
chmod 755 "$D" && chmod 644 "$D/rbl"
printf 'list rbl rbl.test\nrule any tag\n' > "$D/policy"
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" rbl.test:ip4set:"$D/rbl" || exit 1
printf 'one@example.net\ntwo@example.net\n' | "$T/rcptcheck/rcptcheck-build" -f "$D/rcpt.cdb" || exit 1
DNSCACHEIP=$dns; export DNSCACHEIP
e2e_tcpserver 0 env TCPREMOTEIP="$client" SDU_TLS_CERT="$D/ec.crt" SDU_TLS_KEY="$D/ec.key" \
  "$T/rblcheck/rblcheck" -f "$D/policy" "$T/throttle/throttle" -d "$D/state" \
  "$T/rcptcheck/rcptcheck" -f "$D/rcpt.cdb" "$T/tests/smtpsink" -d "$D/sink3" || exit 1
# shellcheck disable=SC2086
e2e_ok "the chain, half the sessions in STARTTLS: $n sessions, every message stored as told below the tag" \
  fuzz "$D/sink3" --sessions "$n" $seed --header-re '^X-RBLCheck: ip='"$client"' lists=rbl ' \
    --starttls 0.5 --tls-header-re '^X-Sdu-TLS: ' \
    --rcpt one@example.net --rcpt two@example.net --rcpt nobody@example.net --big --cut 0.1
e2e_check "the chain logged no fatal error" '! grep -q "fatal" "$D/tcpserver.log"'
