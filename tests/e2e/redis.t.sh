#!/bin/sh
# redis.t.sh: the state store on Redis. throttle's store cases on a Redis store; two MX
# hosts (two tcpservers, one redis-server) share the connection rate, the sender blacklist
# the bounce limit and greylisting, while THROTTLE_CONC stays per host; Redis stopped in the middle
# (sessions pass, logged) and started again (limits apply); a known session's commands
# (round trips); servers that hang, never accept, answer errors, garbage, endless or
# half answers (tests/lib/badredis.py: fail open within the deadline, memory bounded),
# or NOSCRIPT late (one deadline for the EVALSHA and the EVAL after it);
# two spamgrab processes given double-bounces of one host at once: one report
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init redis
e2e_need_root "exim4 -C"
e2e_need_prog tcpserver swaks exim4 ss setsid python3 redis-server redis-cli
for b in throttle/throttle spamgrab/spamgrab; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - redis: $b is not built (make)"; exit 1; }
done
D=$E2E_DIR
sock=$D/redis.sock
e2e_ok "redis-server on $sock" e2e_redis "$sock" || exit 1
rcli() { redis-cli -s "$sock" "$@"; }
# keys matching a pattern, and how many of them have no expiry (keys are binary: counted on the server)
nkeys() { rcli eval "return #redis.call('keys', ARGV[1])" 0 "$1"; }
nopx() { rcli eval "local n = 0 for _, k in ipairs(redis.call('keys', ARGV[1])) do if redis.call('pttl', k) < 0 then n = n + 1 end end return n" 0 "$1"; }

e2e_exim_conf || { e2e_fail "exim config" "e2e_exim_conf failed"; exit 1; }
mail=$D/exim-mail/new
# this exim refuses at the end of DATA what contains SPAMSPAM
sed -i 's/^acl_smtp_rcpt = acl_rcpt/acl_smtp_rcpt = acl_rcpt\nacl_smtp_data = acl_data/' "$D/exim.conf"
sed -i 's/^begin acl/begin acl\nacl_data:\n  deny message = 5.7.1 content refused\n    condition = ${if match{$message_body}{SPAMSPAM}}\n  accept\n/' "$D/exim.conf"

base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_rate=$base.12 c_bl=$base.14 c_bnc=$base.16 c_ok=$base.17 c_rate2=$base.18 c_conc=$base.19 c_bnc2=$base.20 c_grey=$base.21

# two MX hosts: each its own tcpserver and its own local directory (the slots of
# THROTTLE_CONC), one Redis for both
mkdir "$D/a" "$D/b"
mx() { # LOCALDIR: start one host, its port in E2E_PORT
  # shellcheck disable=SC2046
  e2e_tcpserver 0 env THROTTLE_CONN=3/60 throttle -d "unix:$sock?timeout=1s&local=$1" -b 3h -B 2/10m -h 1h \
    $(e2e_exim_cmd)
}
mx "$D/a" || exit 1; pa=$E2E_PORT; ta=$E2E_TCPSERVER_PID
mx "$D/b" || exit 1; pb=$E2E_PORT
sw() { _p=$1; shift; e2e_swaks --server "127.0.0.1:$_p" "$@"; }

# 1. the connection rate, 3 a minute, counted over both hosts
for p in $pa $pb $pa $pb; do sw "$p" --local-interface "$c_rate" --quit-after EHLO; done
E2E_LAST=$D/swaks.$E2E_N.out
e2e_check "rate over two hosts: 3 pass (a, b, a), the 4th (on b) gets 421" \
  '[ "$(grep -l "421 4.7.0 too many connections from your address" "$D"/swaks.*.out | wc -l)" -eq 1 ] && grep -q "421 4.7.0 too many" "$E2E_LAST"'
e2e_check "the counters are in Redis, with an expiry" '[ "$(nkeys "throttle:r*")" -ge 1 ] && [ "$(nopx "throttle:r*")" -eq 0 ]'
sw "$pa" --local-interface "$c_rate2" --quit-after EHLO
e2e_check "another client has its own count" 'grep -q "^<-  220 exim.sdu.test" "$E2E_LAST"'

# 2. the sender blacklist: learnt on a, applied on b
n0=$(e2e_count "$mail")
sw "$pa" --local-interface "$c_bl" --from spammer@example.com --to one@example.net --body SPAMSPAM
e2e_check "host a: exim refuses the message at the end of DATA" 'grep -q "^<\*\* 550 5.7.1 content refused" "$E2E_LAST"'
sw "$pb" --local-interface "$c_bl" --from spammer@example.com --to one@example.net --body clean
e2e_check "host b refuses the same (client, sender) at RCPT" 'grep -q "^<\*\* 550 5.7.1 a message from this sender was refused" "$E2E_LAST"'
e2e_check "and nothing reached exim" '[ "$(e2e_count "$mail")" -eq "$n0" ]'
sw "$pb" --local-interface "$c_bl" --from other@example.com --to one@example.net --body clean
e2e_check "another sender from that client passes" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'

# 3. the bounce limit, 2 in 10 minutes to one recipient, over both hosts (from two
# clients, each under the connection rate)
sw "$pa" --local-interface "$c_bnc" --from '<>' --to joe@example.net --body "bounce 1"; cp "$E2E_LAST" "$D/bounce.1"
sw "$pb" --local-interface "$c_bnc2" --from '<>' --to joe@example.net --body "bounce 2"; cp "$E2E_LAST" "$D/bounce.2"
sw "$pa" --local-interface "$c_bnc" --from '<>' --to joe@example.net --body "bounce 3"; cp "$E2E_LAST" "$D/bounce.3"
sw "$pb" --local-interface "$c_bnc2" --from '<>' --to joe@example.net --body "bounce 4"; cp "$E2E_LAST" "$D/bounce.4"
e2e_check "bounce limit over two hosts: two pass" 'grep -q "^<-  250 OK id=" "$D/bounce.1" && grep -q "^<-  250 OK id=" "$D/bounce.2"'
e2e_check "the third (on a) and the fourth (on b, held) are refused" \
  'grep -q "^<\*\* 550 5.7.1 this address gets too many bounces" "$D/bounce.3" && grep -q "^<\*\* 550 5.7.1 this address gets too many bounces" "$D/bounce.4"'
e2e_check "no key without an expiry in Redis" '[ "$(nkeys "*")" -ge 3 ] && [ "$(nopx "*")" -eq 0 ]'

# 3a. round trips: the commands a known session sends Redis, as MONITOR shows
# them (those the scripts run are marked "lua" there, and not ours; SELECT and
# AUTH go out in one write with the first command)
nmon=0
mon_start() { nmon=$((nmon + 1)); redis-cli -s "$sock" monitor > "$D/monitor.$nmon" & monpid=$!
  e2e_wait 50 grep -q . "$D/monitor.$nmon" 2> /dev/null; }
mon_stop() { sleep 0.3; kill "$monpid"; wait "$monpid" 2>/dev/null
  grep -E '^[0-9.]+ \[[0-9]+ unix:' "$D/monitor.$nmon" | grep -cvE '\] "(SELECT|AUTH)"'; }
c_rt=$base.22
mon_start
sw "$pb" --local-interface "$c_rt" --from '<>' --to rt@example.net --body "bounce rt"
n=$(mon_stop)
e2e_check "a bounce's session: 2 commands, 2 round trips (the connection's rate, the bounce count with its hold): $n" \
  'grep -q "^<-  250 OK id=" "$E2E_LAST" && [ "$n" -eq 2 ]'
mon_start
sw "$pb" --local-interface "$c_rt" --from rt@example.org --to one@example.net,two@example.net --body "sender rt"
n=$(mon_stop)
e2e_check "a sender's session, two recipients: 2 commands (the rate, the blacklist at MAIL): $n" \
  'grep -q "^<-  250 OK id=" "$E2E_LAST" && [ "$n" -eq 2 ]'
e2e_stop "$ta"

# 3b. greylisting: a triplet first seen on a passes on b after the delay (the clock of
# each host moved: b's is 10 minutes later)
T=$(date +%s)
# shellcheck disable=SC2046
e2e_tcpserver 0 env THROTTLE_GREYLIST=1 SDU_TEST_NOW=$T throttle -d "unix:$sock?timeout=1s&local=$D/a" $(e2e_exim_cmd) || exit 1
pga=$E2E_PORT; tga=$E2E_TCPSERVER_PID
# shellcheck disable=SC2046
e2e_tcpserver 0 env THROTTLE_GREYLIST=1 SDU_TEST_NOW=$((T + 600)) throttle -d "unix:$sock?timeout=1s&local=$D/b" $(e2e_exim_cmd) || exit 1
pgb=$E2E_PORT; tgb=$E2E_TCPSERVER_PID
mon_start
sw "$pga" --local-interface "$c_grey" --from grey@example.com --to one@example.net --body "grey 1"
n=$(mon_stop)
e2e_check "greylisting: the first attempt, on host a, gets 451" 'grep -q "^<\*\* 451 4.7.1 greylisted" "$E2E_LAST"'
e2e_check "its RCPT: 2 commands (one read of the network and the triplet, one write): $n" '[ "$n" -eq 2 ]'
mon_start
sw "$pgb" --local-interface "$c_grey" --from grey@example.com --to one@example.net --body "grey 2"
n=$(mon_stop)
e2e_check "the retry 10 minutes later on host b passes: the triplet is shared" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
e2e_check "its RCPT: 2 commands (the triplet passed and the network counted in one write): $n" '[ "$n" -eq 2 ]'
sw "$pgb" --local-interface "$c_grey" --from grey@example.com --to two@example.net --body "grey 3"
e2e_check "a new triplet on host b is greylisted there" 'grep -q "^<\*\* 451 4.7.1 greylisted" "$E2E_LAST"'
e2e_stop "$tga"; e2e_stop "$tgb"

# 4. THROTTLE_CONC is per host: its slots are in the host's own directory
e2e_tcpserver 0 env THROTTLE_CONC=1 throttle -d "unix:$sock?timeout=1s&local=$D/a" -b 3h sh -c 'sleep 3; exec "$@"' sh $(e2e_exim_cmd) || exit 1
pc=$E2E_PORT; tc=$E2E_TCPSERVER_PID
sw "$pc" --local-interface "$c_conc" --quit-after EHLO &
sp=$!
sleep 1
sw "$pb" --local-interface "$c_conc" --quit-after EHLO
e2e_check "one connection at a time on host c does not count on host b" 'grep -q "^<-  220 exim.sdu.test" "$E2E_LAST"'
sw "$pc" --local-interface "$c_conc" --quit-after EHLO
e2e_check "a second one at once on host c gets 421" 'grep -q "421 4.7.0 too many connections at once" "$E2E_LAST"'
wait "$sp"
e2e_check "the slots are not in Redis" '[ "$(nkeys "throttle:c*")" -eq 0 ] && [ -f "$D/a/data.mdb" ]'
e2e_stop "$tc"

# 5. Redis stopped in the middle: every session passes, each logs a warning naming the server
e2e_stop "$E2E_REDIS_PID"
: > "$D/tcpserver.log"
bad=
for i in 1 2 3 4 5; do
  sw "$pb" --local-interface "$c_rate2" --from a@example.org --to one@example.net --body "while down $i"
  grep -q "^<-  250 OK id=" "$E2E_LAST" || bad="$bad $i"
done
e2e_check "Redis down: five sessions from one client all taken (fail open)" '[ -z "$bad" ]'
E2E_LAST=$D/tcpserver.log
e2e_check "and each warned, naming the server" \
  '[ "$(grep -c "throttle: warning: .*redis.sock.*passing on" "$D/tcpserver.log")" -ge 5 ]'
e2e_ok "redis-server started again" e2e_redis "$sock" || exit 1
for i in 1 2 3 4; do sw "$pb" --local-interface "$c_ok" --quit-after EHLO; done
e2e_check "Redis back: the next connections are counted again, the 4th gets 421" 'grep -q "421 4.7.0 too many connections from your address" "$E2E_LAST"'

# 6. a Redis that misbehaves (tests/lib/badredis.py): every session is taken (fail open)
# within the deadline, with a warning naming the server and saying what went wrong in
# one printable line; an endless answer does not take the process's memory
bad_ip=$(e2e_free_addr) || exit 1
maxkib=16384
nm "$E2E_TOP/throttle/throttle" 2>/dev/null | grep -q __asan_init && maxkib=65536
bad_port=$(e2e_free_port) || exit 1
for mode in hang error oom wrongtype huge array close inject noaccept; do
  case $mode in
    noaccept) where=tcp:$bad_ip:$bad_port; store=redis://$bad_ip:$bad_port ;;
    *) where=$D/badredis-$mode.sock; store=unix:$where ;;
  esac
  alt=
  case $mode in
    hang|noaccept) why="no answer within 50 ms" ;;
    error) why="server says: READONLY" ;;
    oom) why="server says: OOM command not allowed" ;;
    wrongtype) why="answer of an unexpected type" ;;
    huge) why="answer longer than" ;;
    # refused at its length, or at the call's byte limit when the first
    # read already holds more than the call's answer can be
    array) why="bad answer: an array of 100000000 elements"; alt="answer longer than" ;;
    close) why="Server closed the connection" ;;
    inject) why="server says: ERR bad?throttle: ip=6.6.6.6 lists=- action=forged" ;;
  esac
  setsid python3 "$E2E_TOP/tests/lib/badredis.py" "$where" "$mode" < /dev/null > /dev/null 2>&1 &
  e2e_remember $! badredis
  case $mode in
    noaccept) e2e_wait 50 sh -c "ss -Hltn 'src $bad_ip:$bad_port' | grep -q ." ;;
    *) e2e_wait 50 test -S "$where" ;;
  esac
  # the length limit, not the deadline, must stop an endless answer: 2 s for
  # those (under ASan a 50 ms deadline could come first), 50 ms for the rest
  case $mode in huge|array) tmo=2s ;; *) tmo=50ms ;; esac
  e2e_tcpserver 0 env THROTTLE_CONN=1/60 SDU_REDIS_TIMEOUT=$tmo throttle -d "$store" -b 3h \
    $(e2e_exim_cmd) || exit 1
  ps=$E2E_PORT
  : > "$D/tcpserver.log"
  t0=$(date +%s%N)
  sw "$ps" --local-interface "$c_ok" --from a@example.org --to two@example.net --body "badredis $mode"
  t1=$(date +%s%N)
  e2e_check "a Redis that answers $mode: the message is taken" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
  E2E_LAST=$D/tcpserver.log
  e2e_check "a Redis that answers $mode: a warning naming it: $why${alt:+ (or: $alt)}" \
    'grep -F "throttle: warning: " "$D/tcpserver.log" | grep -F "${where#tcp:}" | grep -F -e "$why" -e "${alt:-$why}" | grep -q "passing on"'
  echo "# a session against a Redis that answers $mode: $(( (t1 - t0) / 1000000 )) ms"
  e2e_stop "$E2E_TCPSERVER_PID"
  case $mode in
    inject) e2e_check "the server's newline forges no log line" '! grep -q "^throttle: ip=6.6.6.6" "$D/tcpserver.log"' ;;
    huge|array)
      TCPREMOTEIP=192.0.2.99 THROTTLE_CONN=1/60 SDU_REDIS_TIMEOUT=2s sdu-maxrss throttle -d "$store" true < /dev/null > /dev/null 2> "$D/maxrss.$mode"
      kib=$(sed -n 's/^maxrss_kib=//p' "$D/maxrss.$mode")
      E2E_LAST=$D/maxrss.$mode
      e2e_check "an endless answer ($mode) for 2 s: throttle's memory stays under 16 MiB, 64 with the sanitizers ($kib KiB)" \
        '[ -n "$kib" ] && [ "$kib" -lt "$maxkib" ]' ;;
  esac
done

# 6a. a server slow to say NOSCRIPT, then as slow to answer the EVAL (0.8 s each): one
# call to the store has one deadline (1 s), the EVAL only what the EVALSHA left of it
where=$D/badredis-noscript.sock
setsid python3 "$E2E_TOP/tests/lib/badredis.py" "$where" noscript 0.8 < /dev/null > /dev/null 2>&1 &
e2e_remember $! badredis
e2e_wait 50 test -S "$where"
t0=$(date +%s%N)
TCPREMOTEIP=192.0.2.98 THROTTLE_CONN=1/60 SDU_REDIS_TIMEOUT=1s throttle -d "unix:$where" true < /dev/null > /dev/null 2> "$D/noscript.log"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
E2E_LAST=$D/noscript.log
e2e_check "NOSCRIPT after 0.8 s, the EVAL's answer 0.8 s later: the call fails at its one 1 s deadline ($ms ms, not 1600)" \
  'grep -q "throttle: warning: .*badredis-noscript.sock: no answer within 1000 ms; passing on" "$D/noscript.log" && [ "$ms" -lt 1500 ]'

# 7. two spamgrab processes (two MX hosts) with double-bounces of one host at once: one report
cat > "$D/inject" <<'EOF'
#!/bin/sh
n=$(ls "$REC_DIR" | wc -l)
cat > "$REC_DIR/$$.$n.msg"
EOF
chmod 755 "$D/inject"
for h in 1 2; do
  mkdir -p "$D/sg$h/review/tmp" "$D/sg$h/review/new" "$D/sg$h/review/cur" "$D/sg$h/rec"
  printf '%s\n' "me mx.example.net" "state unix:$sock?timeout=1s" "review $D/sg$h/review" "from abuse-desk@example.net" \
    "inject $D/inject" "ptr no" "dialup dul pbl" "operator pbl pbl-submit@lists.test" "operator orbs orbs@lists.test" \
    > "$D/sg$h/conf"
done
pids=
for i in 1 2 3 4; do
  for h in 1 2; do
    REC_DIR=$D/sg$h/rec SDU_TEST_NOW=1795400000 spamgrab -f "$D/sg$h/conf" < "$E2E_TOP/tests/data/spamgrab/db01.eml" \
      > /dev/null 2> "$D/sg$h/log.$i" &
    pids="$pids $!"
  done
done
rcs=
for p in $pids; do wait "$p"; rcs="$rcs $?"; done
sent=$(cat "$D"/sg1/log.* "$D"/sg2/log.* | grep -c " sent=1 ")
E2E_LAST=$D/sg1/log.1
e2e_check "eight double-bounces of one host on two MX hosts at once: all 99 ($rcs), one report ($sent)" \
  '[ "$rcs" = " 99 99 99 99 99 99 99 99" ] && [ "$sent" = 1 ]'
e2e_check "the host is in Redis with an expiry" '[ "$(rcli pttl "spamgrab_hosts:198.51.100.7")" -gt 0 ]'

# 8. sdu-state-copy: a host's LMDB store moved into Redis keeps its counts
mkdir "$D/lmdb"
for i in 1 2; do
  TCPREMOTEIP=192.0.2.77 THROTTLE_CONN=2/3600 throttle -d "$D/lmdb" true < /dev/null > /dev/null 2>> "$D/copy.log"
done
sdu-state-copy "$D/lmdb" "unix:$sock" 2> "$D/copy.out"
rc=$?
E2E_LAST=$D/copy.out
e2e_check "sdu-state-copy: exit 0, the throttle table copied, the tables never made skipped" \
  '[ $rc -eq 0 ] && grep -q "^sdu-state-copy: table=throttle copied=1 result=ok$" "$D/copy.out" && [ "$(wc -l < "$D/copy.out")" -eq 1 ]'
TCPREMOTEIP=192.0.2.77 THROTTLE_CONN=2/3600 throttle -d "unix:$sock?timeout=1s" true < /dev/null > "$D/copy.smtp" 2>> "$D/copy.log"
E2E_LAST=$D/copy.smtp
e2e_check "the third connection, counted on Redis, is over the rate counted in LMDB" 'grep -q "^421 4.7.0 too many connections" "$D/copy.smtp"'
e2e_check "the copied counter has an expiry in Redis, as every key" '[ "$(nopx "*")" -eq 0 ]'
# a greylisted triplet in LMDB's hash table: copied, its retry passes on Redis
grey() { printf 'HELO x\r\nMAIL FROM:<copy@example.com>\r\nRCPT TO:<one@example.net>\r\nQUIT\r\n' |
  TCPREMOTEIP=192.0.2.78 THROTTLE_GREYLIST=1 SDU_TEST_NOW=$1 throttle -d "$2" "$E2E_TOP/tests/smtpsink" -x nodir 2>> "$D/copy.log"; }
T=$(date +%s)
grey "$T" "$D/lmdb" > "$D/copy.g1"
E2E_LAST=$D/copy.g1
e2e_check "LMDB: a new triplet is greylisted (451)" 'grep -q "^451 4.7.1 greylisted" "$D/copy.g1"'
sdu-state-copy "$D/lmdb" "unix:$sock" 2> "$D/copy.out"
rc=$?
E2E_LAST=$D/copy.out
e2e_check "sdu-state-copy: the greylisting table copied triplet by triplet (1) into Redis" \
  '[ $rc -eq 0 ] && grep -q "^sdu-state-copy: table=throttle_grey copied=1 result=ok$" "$D/copy.out"'
grey "$((T + 600))" "unix:$sock?timeout=1s&local=$D/a" > "$D/copy.g2"
E2E_LAST=$D/copy.g2
e2e_check "the retry 10 minutes later, on Redis, passes: the triplet was copied" '! grep -q "^451" "$D/copy.g2" && grep -q "^250" "$D/copy.g2"'
mkdir "$D/lmdb2"
sdu-state-copy "$D/lmdb" "$D/lmdb2" 2> "$D/copy.out"
grey "$((T + 600))" "$D/lmdb2" > "$D/copy.g3"
E2E_LAST=$D/copy.g3
e2e_check "copied into another LMDB directory, the retry passes there too" \
  'grep -q "table=throttle_grey copied=1 result=ok" "$D/copy.out" && ! grep -q "^451" "$D/copy.g3"'
sdu-state-copy "$D/lmdb" "unix:$D/nothing.sock" 2> "$D/copy.out"
rc=$?
e2e_check "sdu-state-copy to a Redis that is not there: 111, the server named" '[ $rc -eq 111 ] && grep -q "nothing.sock" "$D/copy.out"'
