#!/bin/sh
# pregreet.t.sh: rblcheck's pregreet watch under tcpserver: bots that talk at once or after the
# greeting's first line, a polite client (swaks), one that pipelines after the whole greeting;
# lists that answer fast (rbldnsd) and slow (rblcheck_dnsdelay); early bytes handed on in order;
# refusals after "220-" by rblcheck, throttle (in one process) and a downstream behind the proxy;
# greetwait; exim4 -bs and smtpsink (a qmail-smtpd-style greeting) downstream
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init pregreet
e2e_need_root "port 53 for rbldnsd"
e2e_need_prog tcpserver swaks rbldnsd ss setsid python3
for b in rblcheck/rblcheck throttle/throttle throttle/sdu-report tests/smtpsink bench/rblcheck_dnsdelay; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - pregreet: $b is not built (make)"; exit 1; }
done
PATH="$E2E_TOP/rblcheck:$E2E_TOP/throttle:$E2E_TOP/tests:$E2E_TOP/bench:$PATH"
D=$E2E_DIR
HOST=mx.pregreet.test

fast=$(e2e_free_addr) && slow=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_clean=$base.10 c_list=$base.11
printf '%s\n' "$c_list" > "$D/bl"
chmod 755 "$D" && chmod 644 "$D/bl"
e2e_ok "rbldnsd on $fast" e2e_rbldnsd "$fast" bl.test:ip4set:"$D/bl" || exit 1
setsid rblcheck_dnsdelay -d 400 -l "$c_list" "$slow" > "$D/slow.log" 2>&1 < /dev/null &
e2e_remember $! dnsdelay
e2e_wait 50 sh -c "[ -n \"\$(ss -Hluan 'src $slow:53')\" ]" || echo "# slow DNS server did not start"

cat > "$D/refuse" <<'EOF2'
list bl bl.test
rule pregreet & bl  tempfail 100%  "451 4.7.1 listed, and talked before the greeting"
rule pregreet       reject         "554 5.7.1 talked before the greeting"
rule bl             tag
EOF2
cat > "$D/observe" <<'EOF2'
list bl bl.test
rule bl tag
EOF2
cat > "$D/wait" <<'EOF2'
list bl bl.test
rule bl        greetwait 1
rule pregreet  reject "554 5.7.1 talked before the greeting"
rule any       tag
EOF2

# a whole dialogue in one write; the message's subject names the client's manner
dialogue() {
  printf 'EHLO bot.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: %s\r\n\r\nhello\r\n.\r\nQUIT\r\n' "$1" > "$D/dialogue.$1"
}
for w in now firstline greeted; do dialogue $w; done
client() { # NAME ADDR WHEN: rawsmtp.py against $E2E_PORT, writing now, after the first line, or once greeted; NAME.out
  python3 "$E2E_TOP/tests/lib/rawsmtp.py" 127.0.0.1 "$E2E_PORT" "$D/dialogue.$3" --wait "$3" --bind "$2" > "$D/$1.out" 2> "$D/$1.err"
  tr -d '\r' < "$D/$1.out" > "$D/$1.txt"
  E2E_LAST=$D/$1.txt
}
# the greeting as the client saw it is one valid reply: "220-HOST ESMTP"
# then "220 ..." (never "220-" followed by a refusal)
greeting_ok() {
  [ "$(sed -n 1p "$1")" = "220-$HOST ESMTP" ] && case "$(sed -n 2p "$1")" in "220 "*) true ;; *) false ;; esac
}
# the last decision line of rblcheck about ADDR
logof() { grep "^rblcheck: ip=$1 " "$E2E_TCPLOG" | tail -n 1; }
msgs() { e2e_count "$1" 'msg.*'; }
sink_has() { grep -l -F -e "$2" "$1"/msg.* > /dev/null 2>&1; }

# --- a policy that refuses, lists fast and slow -------------------------------
# fast lists with -g 0: the first line at once, as slow lists get it after
# the default 5 ms
for speed in fast slow; do
  eval dns=\$$speed
  sink=$D/sink-$speed
  mkdir -p "$sink"
  g=; [ "$speed" = fast ] && g="-g 0"
  e2e_ok "tcpserver: rblcheck $g($speed lists) then smtpsink" \
    e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$dns" rblcheck $g -f "$D/refuse" smtpsink -d "$sink" || exit 1

  # lists that answer in 400 ms: the bot's bytes always come during the
  # wait; lists that answer at once may beat a bot the machine is slow to
  # run: then it is passed on, whole. Either way the log says which.
  for when in now firstline; do
    n0=$(msgs "$sink")
    client $when-clean-$speed "$c_clean" $when
    l=$(logof "$c_clean")
    if [ "$speed" = slow ]; then
      e2e_check "slow: a bot that talks $when is refused (554), after a complete 220" \
        'greeting_ok "$E2E_LAST" && grep -q "^554 5.7.1 talked before the greeting" "$E2E_LAST" && [ "$(msgs "$sink")" -eq "$n0" ]'
      e2e_check "slow: logged pregreet=1, the bytes and reason=pregreet ($when)" \
        'case "$l" in *"action=reject rule=3 reason=pregreet "*"pregreet=1 bytes="[1-9]*) true ;; *) false ;; esac'
    else
      e2e_check "fast: a bot that talks $when: refused when seen, else delivered whole ($l)" \
        'greeting_ok "$E2E_LAST" && case "$l" in
           *"action=reject rule=3 reason=pregreet "*"pregreet=1 bytes="[1-9]*)
             grep -q "^554 5.7.1 talked before" "$E2E_LAST" && [ "$(msgs "$sink")" -eq "$n0" ] ;;
           *"action=pass ms="*) ! case "$l" in *pregreet*) true ;; *) false ;; esac && grep -q "^250 ok queued" "$E2E_LAST" && sink_has "$sink" "Subject: $when" ;;
           *) false ;; esac'
    fi
  done

  n0=$(msgs "$sink")
  client now-list-$speed "$c_list" now
  l=$(logof "$c_list")
  if [ "$speed" = slow ]; then
    e2e_check "slow: listed and talking at once: pregreet & bl gives 451" \
      'greeting_ok "$E2E_LAST" && grep -q "^451 4.7.1 listed, and talked" "$E2E_LAST" && [ "$(msgs "$sink")" -eq "$n0" ]'
  else
    e2e_check "fast: listed and talking at once: 451 when seen, else tagged ($l)" \
      'greeting_ok "$E2E_LAST" && case "$l" in
         *pregreet=1*) grep -q "^451 4.7.1 listed, and talked" "$E2E_LAST" && [ "$(msgs "$sink")" -eq "$n0" ] ;;
         *"action=tag "*) grep -q "^250 ok queued" "$E2E_LAST" ;;
         *) false ;; esac'
  fi
  n0=$(msgs "$sink")
  client piped-$speed "$c_clean" greeted
  e2e_check "$speed: pipelining after the complete greeting is allowed: delivered" \
    'greeting_ok "$E2E_LAST" && grep -q "^250 ok queued" "$E2E_LAST" && [ "$(msgs "$sink")" -eq $((n0 + 1)) ]'
  e2e_check "$speed: no pregreet logged for it" '! logof "$c_clean" | grep -q pregreet'
  e2e_swaks --local-interface "$c_clean" --from a@example.com --to b@example.net
  e2e_check "$speed: swaks (polite) delivered, no pregreet" '[ $? -eq 0 ] && ! logof "$c_clean" | grep -q pregreet'
  e2e_swaks --local-interface "$c_list" --from a@example.com --to b@example.net --header "Subject: swaks-list-$speed"
  e2e_check "$speed: swaks from a listed client: tagged through the proxy" \
    '[ $? -eq 0 ] && grep -l "swaks-list-$speed" "$sink"/msg.* | xargs grep -q "^X-RBLCheck: ip=$c_list lists=bl "'
  e2e_stop "$E2E_TCPSERVER_PID"
done

# --- early bytes passed on: the next program reads them first, as they came --
sink=$D/sink-observe
mkdir -p "$sink"
e2e_ok "tcpserver: rblcheck (observe, slow lists) then smtpsink" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" rblcheck -f "$D/observe" smtpsink -d "$sink" || exit 1
client pass-clean "$c_clean" now
e2e_check "no pregreet rule, a clean bot: one exec, its bytes reach the server in order" \
  'greeting_ok "$E2E_LAST" && grep -q "^250 ok queued" "$E2E_LAST" && [ "$(grep -c "^250 " "$E2E_LAST")" -eq 4 ] && sink_has "$sink" "Subject: now"'
e2e_check "no pregreet rule: action=pass, still logged pregreet=1 and the bytes (a line at least)" \
  'logof "$c_clean" | grep -Eq "action=pass .*pregreet=1 bytes=[1-9][0-9]+"'
client pass-list "$c_list" now
f=$(grep -l "Subject: now" "$sink"/msg.* | xargs grep -l "X-RBLCheck: ip=$c_list")
e2e_check "no pregreet rule, a listed bot: through the proxy, bytes in order, tagged" \
  'greeting_ok "$E2E_LAST" && grep -q "^250 ok queued" "$E2E_LAST" && [ -n "$f" ] && grep -q "^helo: bot.test" $f'
e2e_stop "$E2E_TCPSERVER_PID"

# --- the default -g 5, lists that answer at once: no "220-" is said --------
e2e_ok "tcpserver: rblcheck (fast lists, the default -g) then smtpsink" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -f "$D/refuse" smtpsink -d "$sink" || exit 1
for who in clean list; do
  eval addr=\$c_$who
  n0=$(msgs "$sink")
  client lazy-$who "$addr" greeted
  e2e_check "fast lists, default -g ($who): the next program's 220 is the whole greeting, delivered" \
    '[ "$(sed -n 1p "$E2E_LAST")" = "220 smtpsink ESMTP" ] && ! grep -q "^220-" "$E2E_LAST" && grep -q "^250 ok queued" "$E2E_LAST" && [ "$(msgs "$sink")" -eq $((n0 + 1)) ]'
done
client lazy-bot "$c_clean" now
l=$(logof "$c_clean")
e2e_check "fast lists, default -g: a bot that talks at once is still refused when seen, else delivered whole ($l)" \
  '! grep -q "^220-" "$E2E_LAST" && case "$l" in
     *"reason=pregreet "*"pregreet=1 bytes="[1-9]*) grep -q "^554 5.7.1 talked before" "$E2E_LAST" ;;
     *"action=pass ms="*) grep -q "^250 ok queued" "$E2E_LAST" ;;
     *) false ;; esac'
e2e_stop "$E2E_TCPSERVER_PID"
e2e_ok "tcpserver: rblcheck -g 300 (lists answering in 400 ms)" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" rblcheck -g 300 -f "$D/refuse" smtpsink -d "$sink" || exit 1
client late-bot "$c_clean" firstline
e2e_check "-g 300, answers in 400 ms: 220- said in the wait, a bot that talks after it is refused" \
  'greeting_ok "$E2E_LAST" && grep -q "^554 5.7.1 talked before" "$E2E_LAST"'
e2e_stop "$E2E_TCPSERVER_PID"
e2e_ok "tcpserver: rblcheck -g 1000 (lists answering in 400 ms)" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" rblcheck -g 1000 -f "$D/refuse" smtpsink -d "$sink" || exit 1
n0=$(msgs "$sink")
client early-polite "$c_clean" greeted
e2e_check "-g 1000, answers in 400 ms: no 220- said, the client delivers" \
  '[ "$(sed -n 1p "$E2E_LAST")" = "220 smtpsink ESMTP" ] && grep -q "^250 ok queued" "$E2E_LAST" && [ "$(msgs "$sink")" -eq $((n0 + 1)) ]'
e2e_stop "$E2E_TCPSERVER_PID"

# --- the watch off -----------------------------------------------------------
e2e_ok "tcpserver: rblcheck -P" e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -P -f "$D/refuse" smtpsink -d "$sink" || exit 1
client off "$c_clean" now
e2e_check "-P: no 220- line, the bot is not seen, delivered" \
  '[ "$(sed -n 1p "$E2E_LAST")" = "220 smtpsink ESMTP" ] && grep -q "^250 ok queued" "$E2E_LAST" && ! logof "$c_clean" | grep -q pregreet'
e2e_stop "$E2E_TCPSERVER_PID"

# --- refusals after "220-" -----------------------------------------------------
# a downstream that refuses at its greeting, behind the proxy (a listed client)
e2e_ok "tcpserver: rblcheck then a server that greets with 421" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -g 0 -f "$D/observe" smtpsink -x "greeting=421 4.3.0 go away" || exit 1
client g421 "$c_list" greeted
e2e_check "downstream's 421 behind the proxy: 220 completes the greeting, the 421 answers the next command" \
  'greeting_ok "$E2E_LAST" && [ "$(sed -n 3p "$E2E_LAST")" = "421 4.3.0 go away" ] && [ "$(wc -l < "$E2E_LAST")" -eq 3 ]'
e2e_stop "$E2E_TCPSERVER_PID"
e2e_ok "tcpserver: rblcheck then a server that greets with 554" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -g 0 -f "$D/observe" smtpsink -x "greeting=554 5.7.1 not you" || exit 1
client g554 "$c_list" greeted
e2e_check "downstream's 554 behind the proxy: every command gets it, QUIT 221" \
  'greeting_ok "$E2E_LAST" && [ "$(grep -c "^554 5.7.1 not you" "$E2E_LAST")" -ge 4 ] && ! grep -q "^250 ok queued" "$E2E_LAST" && [ "$(tail -n 1 "$E2E_LAST" | cut -c1-4)" = "221 " ]'
e2e_stop "$E2E_TCPSERVER_PID"
# a broken downstream whose greeting is neither 220 nor a refusal (250): not an
# answer to every command (DATA, the lines and the dot would all get 250, and
# the client would take its message for delivered), but 421
e2e_ok "tcpserver: rblcheck then a server that greets with 250" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -g 0 -f "$D/observe" smtpsink -d "$sink" -x "greeting=250 hello" || exit 1
n0=$(msgs "$sink")
client g250 "$c_list" greeted
e2e_check "downstream's 250 at the greeting behind the proxy: 220 completes it, 421 answers EHLO, nothing taken for delivered" \
  'greeting_ok "$E2E_LAST" && case "$(sed -n 3p "$E2E_LAST")" in "421 "*) true ;; *) false ;; esac && [ "$(wc -l < "$E2E_LAST")" -eq 3 ] && [ "$(msgs "$sink")" -eq "$n0" ]'
e2e_stop "$E2E_TCPSERVER_PID"

# throttle in the same process refuses at the greeting (rate), after "220-"
mkdir -p "$D/state"
e2e_ok "tcpserver: rblcheck, throttle (one process), smtpsink; 1 connection an hour" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" THROTTLE_CONN=1/3600 rblcheck -f "$D/observe" throttle -d "$D/state" smtpsink -d "$sink" || exit 1
for who in clean list; do
  eval addr=\$c_$who
  client chain1-$who "$addr" greeted
  e2e_check "in one process ($who): the first connection passes" 'greeting_ok "$E2E_LAST" && grep -q "^250 ok queued" "$E2E_LAST"'
  client chain2-$who "$addr" now
  e2e_check "in one process ($who): throttle's 421 after 220-: 220 completes the greeting, the 421 answers EHLO" \
    'greeting_ok "$E2E_LAST" && [ "$(sed -n 2p "$E2E_LAST")" = "220 $HOST ESMTP" ] && case "$(sed -n 3p "$E2E_LAST")" in "421 4.7.0 too many connections"*) true ;; *) false ;; esac && ! grep -q "^250" "$E2E_LAST"'
done
e2e_stop "$E2E_TCPSERVER_PID"

# a link in the same process that fails at once (a usage error) behind the
# proxy (a listed client): the greeting completed, the 421 answers EHLO
e2e_ok "tcpserver: rblcheck, then a throttle that cannot start" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -g 0 -f "$D/observe" throttle -Z smtpsink -d "$sink" || exit 1
client dead "$c_list" greeted
e2e_check "a link that dies before greeting, behind the proxy: 220 completes the greeting, 421 to EHLO" \
  'greeting_ok "$E2E_LAST" && [ "$(sed -n 3p "$E2E_LAST")" = "421 4.3.0 the mail server is not available, closing connection" ] && [ "$(wc -l < "$E2E_LAST")" -eq 3 ]'
e2e_stop "$E2E_TCPSERVER_PID"

# the same with throttle in a process of its own (env execs it): the exec case
mkdir -p "$D/state2"
e2e_ok "tcpserver: rblcheck, then env execs throttle, smtpsink" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" THROTTLE_CONN=1/3600 rblcheck -f "$D/observe" env throttle -d "$D/state2" smtpsink -d "$sink" || exit 1
client exec1 "$c_clean" greeted
client exec2 "$c_clean" now
e2e_check "throttle exec'd: its 421 after 220-: 220 completes the greeting, the 421 answers EHLO" \
  'greeting_ok "$E2E_LAST" && [ "$(sed -n 2p "$E2E_LAST")" = "220 $HOST ESMTP" ] && case "$(sed -n 3p "$E2E_LAST")" in "421 4.7.0 too many connections"*) true ;; *) false ;; esac && [ "$(wc -l < "$E2E_LAST")" -eq 3 ]'
e2e_stop "$E2E_TCPSERVER_PID"

# --- greetwait: the suspicious only ------------------------------------------
e2e_ok "tcpserver: rblcheck (greetwait 1 for listed clients)" \
  e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$fast" rblcheck -f "$D/wait" smtpsink -d "$sink" || exit 1
t0=$(date +%s%N); client w-clean "$c_clean" greeted; t1=$(date +%s%N)
el=$(( (t1 - t0) / 1000000 ))
e2e_check "greetwait: a clean client does not wait (${el} ms)" '[ $el -lt 700 ] && grep -q "^250 ok queued" "$E2E_LAST" && ! logof "$c_clean" | grep -q greetwait'
t0=$(date +%s%N); client w-list "$c_list" greeted; t1=$(date +%s%N)
el=$(( (t1 - t0) / 1000000 ))
e2e_check "greetwait: a listed polite client waits 1 s (${el} ms), then is tagged" \
  '[ $el -ge 950 ] && grep -q "^250 ok queued" "$E2E_LAST" && logof "$c_list" | grep -q "action=tag .*greetwait=[0-9]"'
client w-bot "$c_list" firstline
e2e_check "greetwait: a listed bot that talks after the first line is caught in the wait" \
  'greeting_ok "$E2E_LAST" && grep -q "^554 5.7.1 talked before" "$E2E_LAST" && logof "$c_list" | grep -q "reason=pregreet .*pregreet=1"'
e2e_stop "$E2E_TCPSERVER_PID"

# --- exim4 -bs downstream ------------------------------------------------------
if command -v exim4 > /dev/null 2>&1 && e2e_exim_conf; then
  e2e_ok "tcpserver: rblcheck (slow lists) then exim4 -bs" \
    e2e_tcpserver -l "$HOST" 0 env DNSCACHEIP="$slow" rblcheck -f "$D/refuse" $(e2e_exim_cmd) || exit 1
  e2e_swaks --local-interface "$c_clean" --from a@example.com --to b@example.net
  e2e_check "exim: swaks delivered through the two-part greeting" '[ $? -eq 0 ] && grep -q "<-  220-$HOST ESMTP" "$E2E_LAST"'
  client exim-piped "$c_list" greeted
  e2e_check "exim: pipelining after exim's 220, listed: tagged through the proxy, accepted" \
    'greeting_ok "$E2E_LAST" && [ "$(grep -c "^250 " "$E2E_LAST")" -ge 3 ] && grep -q "^221 " "$E2E_LAST"'
  client exim-bot "$c_clean" now
  e2e_check "exim: the bot refused by rblcheck, exim never started for it" \
    'greeting_ok "$E2E_LAST" && grep -q "^554 5.7.1 talked before" "$E2E_LAST"'
  e2e_stop "$E2E_TCPSERVER_PID"
else
  e2e_skip "exim4 -bs downstream" "no exim4"
fi

# --- sdu-report ----------------------------------------------------------------
sdu-report -s -a "$E2E_TCPLOG" > "$D/report" 2>&1
e2e_check "sdu-report counts the pregreet refusals by reason" 'sed -n "/by reason:/,/^[a-z]/p" "$D/report" | grep -q "^ *rblcheck pregreet  *[1-9]"'
E2E_LAST=$D/report
