#!/bin/sh
# greylist.t.sh: selective greylisting through the chain under tcpserver: rbldnsd
# serves a PBL-like zone, rblcheck's policy marks its clients with the greylist
# action, tcprules marks another client (THROTTLE_GREYLIST) and a relay client
# (RELAYCLIENT); throttle greylists whom they mark, exim4 -bs at the end, swaks in
# front. The clock moves per client through tcprules (SDU_TEST_NOW). Then
# sdu-report on the log of the run. Once with the state in LMDB, once on Redis.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_each_store "$@"
e2e_init greylist
e2e_need_root "port 53 for rbldnsd, exim4 -C"
e2e_need_prog tcpserver tcprules swaks rbldnsd exim4 setsid
e2e_store_init
for b in rblcheck/rblcheck throttle/throttle throttle/sdu-report; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - greylist: $b is not built (make)"; exit 1; }
done
D=$E2E_DIR
mail=$D/exim-mail/new

dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_pbl=$base.10 c_pbl2=$base.11 c_clean=$base.12 c_tcp=$base.13 c_relay=$base.14
printf '%s\n' "$c_pbl" "$c_pbl2" "$c_relay" > "$D/pbl"
chmod 755 "$D" && chmod 644 "$D/pbl"
cat > "$D/policy" <<'POL'
list pbl pbl.test
rule pbl greylist
POL
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" pbl.test:ip4set:"$D/pbl" || exit 1
state=$(e2e_store state)
e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }

t0=$(date +%s)
rules() { # NOW for c_pbl
  printf '%s:allow,SDU_TEST_NOW="%s"\n%s:allow,THROTTLE_GREYLIST="1"\n%s:allow,RELAYCLIENT=""\n:allow\n' \
    "$c_pbl" "$1" "$c_tcp" "$c_relay" | tcprules "$D/rules.cdb" "$D/rules.tmp"
}
rules "$t0"
# shellcheck disable=SC2046
e2e_tcpserver -x "$D/rules.cdb" 0 env DNSCACHEIP="$dns" rblcheck -f "$D/policy" \
  throttle -d "$state" $(e2e_exim_cmd) || exit 1

GREY='^<\*\* 451 4.7.1 greylisted'
OK='^<-  250 OK id='
sw() { e2e_swaks "$@" --from a@example.org --to one@example.net; }

# 1. a client on the list: first sight 451 at RCPT, too early 451, in the window it passes
n0=$(e2e_count "$mail")
sw --local-interface "$c_pbl"
e2e_check "listed client, first sight: 451 4.7.1 at RCPT" 'grep -q "$GREY" "$E2E_LAST"'
rules $((t0 + 60))
sw --local-interface "$c_pbl"
e2e_check "a retry after a minute: 451 again" 'grep -q "$GREY" "$E2E_LAST"'
e2e_check "nothing reached exim" '[ "$(e2e_count "$mail")" -eq "$n0" ]'
rules $((t0 + 400))
sw --local-interface "$c_pbl"
e2e_check "a retry after the 5 minutes: the message is taken" 'grep -q "$OK" "$E2E_LAST"'
e2e_check "and exim has it" '[ "$(e2e_count "$mail")" -eq $((n0 + 1)) ]'
rules $((t0 + 90000))
e2e_swaks --local-interface "$c_pbl" --from b@example.org --to one@example.net
e2e_check "another sender from that client: greylisted anew" 'grep -q "$GREY" "$E2E_LAST"'

# 2. whom nothing marks, and whom greylisting must leave alone
e2e_swaks --local-interface "$c_clean" --from c@example.org --to one@example.net
e2e_check "a client on no list: taken at once" 'grep -q "$OK" "$E2E_LAST"'
e2e_swaks --local-interface "$c_tcp" --from t@example.org --to one@example.net
e2e_check "a client tcprules marks (THROTTLE_GREYLIST): greylisted" 'grep -q "$GREY" "$E2E_LAST"'
e2e_swaks --local-interface "$c_relay" --from r@example.org --to one@example.net
e2e_check "a listed RELAYCLIENT: taken at once" 'grep -q "$OK" "$E2E_LAST"'
e2e_swaks --local-interface "$c_pbl2" --from a@example.org --to postmaster@example.net
e2e_check "a listed client's mail to postmaster@: taken at once" 'grep -q "$OK" "$E2E_LAST"'
e2e_swaks --local-interface "$c_pbl2" --from '<>' --to one@example.net
e2e_check "a listed client's bounce: greylisted" 'grep -q "$GREY" "$E2E_LAST"'
e2e_stop "$E2E_TCPSERVER_PID"

# 3. the log and the report
E2E_LAST=$D/tcpserver.log
e2e_check "rblcheck logs the greylist action" 'grep -q "^rblcheck: ip=$c_pbl .*action=greylist" "$D/tcpserver.log"'
e2e_check "throttle logs each decision: new, early, pass" \
  'grep -q "^throttle: ip=$c_pbl .*grey=new triplet=" "$D/tcpserver.log" && grep -q "^throttle: ip=$c_pbl .*grey=early" "$D/tcpserver.log" && grep -q "^throttle: ip=$c_pbl .*grey=pass" "$D/tcpserver.log"'
e2e_check "throttle passes RELAYCLIENT on at once, nothing looked up" \
  'grep -q "^throttle: ip=$c_relay .*reason=relayclient" "$D/tcpserver.log" && ! grep -q "^throttle: ip=$c_relay .*grey=" "$D/tcpserver.log"'
e2e_check "postmaster@ is not even looked up (one decision for that client: the bounce)" \
  '[ "$(grep -c "^throttle: ip=$c_pbl2 .*grey=" "$D/tcpserver.log")" -eq 1 ]'
sdu-report -s "$D/tcpserver.log" > "$D/summary" 2>&1
E2E_LAST=$D/summary
e2e_check "report: 4 greylisted, 1 early retry, 1 passed after retry" \
  'grep -q "^greylisting: 4 greylisted (1 early retries, 0 late), 1 passed after retry," "$D/summary"'
e2e_check "report: 3 of 4 greylisted triplets never came back" \
  'grep -q "^  greylisted triplets that never came back: 3 of 4 (75.0%)" "$D/summary"'
e2e_exit
