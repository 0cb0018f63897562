#!/bin/sh
# rblcheck.t.sh: rblcheck against rbldnsd, a silent and a closed DNS server; directly and under tcpserver with swaks, smtpsink and exim4 -bs
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init rblcheck
e2e_need_root "port 53 for rbldnsd"
e2e_need_prog tcpserver swaks rbldnsd ss setsid
for b in rblcheck/rblcheck tests/smtpsink bench/rblcheck_dnsdelay; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - rblcheck: $b is not built (make)"; exit 1; }
done
PATH="$E2E_TOP/bench:$PATH"
D=$E2E_DIR

dns=$(e2e_free_addr) && silent=$(e2e_free_addr) && closed=$(e2e_free_addr) || exit 1
# clients: one block of addresses, distinct last bytes
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_clean=$base.10 c_rej=$base.11 c_thr=$base.12 c_tag=$base.13 c_sbl=$base.14
c_pbl=$base.15 c_bad=$base.16 c_rss=$base.17

long=$(i=0; while [ $i -lt 9 ]; do printf 'x\001y\033abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij'; i=$((i + 1)); done)
printf ':127.0.0.2:Listed by orbs: %s\n%s\n' "$long" "$c_rej" > "$D/orbs"
printf '%s\n%s\n' "$c_rej" "$c_rss" > "$D/rss"
printf '%s\n' "$c_tag" > "$D/rbl"
printf '%s\n' "$c_thr" > "$D/dul"
printf '%s :127.0.0.2:sbl\n%s :127.0.0.10:pbl\n%s :127.255.255.254:you may not query\n' "$c_sbl" "$c_pbl" "$c_bad" > "$D/zen"
printf ':127.0.0.2:v6 listed\n::1\n2001:db8::7\n' > "$D/v6"
chmod 755 "$D" && chmod 644 "$D/orbs" "$D/rss" "$D/rbl" "$D/dul" "$D/zen" "$D/v6"
cat > "$D/policy" <<'EOF'
# the policy of issue 3, on .test zones, and one IPv6 list
list orbs  relays.orbs.test
list rss   relays.rss.test
list rbl   rbl.test
list dul   dialups.test
list sbl   zen.test   =127.0.0.2-127.0.0.3   weight 3
list pbl   zen.test   =127.0.0.10-127.0.0.11
list six   v6.test

rule orbs & (rss | rbl)   reject   "553 sorry, %ip is listed in %lists (%txt)"
rule dul | pbl            throttle 1
rule rss                  tempfail 90%
rule score >= 3           reject
rule rdns ~ *.example.sa  reject   "553 no mail from this network"
rule six                  reject   "554 5.7.1 v6 %ip"
rule any                  tag
EOF

e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" relays.orbs.test:ip4set:"$D/orbs" relays.rss.test:ip4set:"$D/rss" \
  rbl.test:ip4set:"$D/rbl" dialups.test:ip4set:"$D/dul" zen.test:ip4set:"$D/zen" v6.test:ip6trie:"$D/v6" || exit 1
setsid rblcheck_dnsdelay -x "$silent" > "$D/silent.log" 2>&1 < /dev/null &
e2e_remember $! dnsdelay
e2e_wait 50 sh -c "[ -n \"\$(ss -Hluan 'src $silent:53')\" ]" || echo "# silent DNS server did not start"

# --- directly, a scripted session on a pipe --------------------------------
session='EHLO c.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: direct\r\n\r\nhello\r\n.\r\nQUIT\r\n'
N=0
# run NAME VAR=VALUE... -- [options]: rblcheck on the session; NAME.out, NAME.err, sink NAME/
run() {
  _n=$1; shift
  mkdir -p "$D/$_n"
  _env=
  while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
  shift
  # shellcheck disable=SC2086
  printf "$session" | env DNSCACHEIP="$dns" $_env rblcheck -f "$D/policy" "$@" smtpsink -d "$D/$_n" > "$D/$_n.out" 2> "$D/$_n.err"
  echo $? > "$D/$_n.rc"
  E2E_LAST="$D/$_n.out"
}
msg() { for _m in "$D/$1"/msg.*; do [ -f "$_m" ] && echo "$_m"; done | head -n 1; }
delivered() { [ -n "$(msg "$1")" ]; }
hasline() { grep -q -x -F -e "$2" "$1"; }
firstdata() { # the first line of the message data in the sink file
  awk 'p { print; exit } /^\r?$/ { p = 1 }' "$(msg "$1")" | tr -d '\r'
}

run clean TCPREMOTEIP="$c_clean" --
m=$(msg clean)
e2e_check "clean client: delivered" '[ -n "$m" ]'
e2e_check "clean client: RBLCHECK_LISTS set and empty" 'hasline "$m" "env: RBLCHECK_LISTS="'
e2e_check "clean client: no header" '! grep -q "X-RBLCheck" "$m"'
e2e_check "clean client: one exec, no proxy (smtpsink's STARTTLS not stripped)" 'grep -q "^250-STARTTLS" "$D/clean.out"'
e2e_check "clean client: log line" 'grep -q "^rblcheck: ip=$c_clean lists=- score=0 action=pass ms=[0-9]*\$" "$D/clean.err"'

run rej TCPREMOTEIP="$c_rej" --
line=$(grep '^553 ' "$D/rej.out" | head -n 1 | tr -d '\r')
e2e_check "orbs & rss: 553 with %ip, %lists and %txt" \
  'case "$line" in "553 sorry, $c_rej is listed in orbs,rss (Listed by orbs: x_y_abcdefghij"*) true ;; *) false ;; esac'
txt=${line#*(}
txt=${txt%)}
e2e_check "TXT of 500 bytes with control bytes: 200 printable bytes" \
  '[ ${#txt} -eq 200 ] && ! printf "%s" "$line" | LC_ALL=C grep -q "[^ -~]"'
e2e_check "reject: prog never started" '! delivered rej && [ "$(grep -c "^553 " "$D/rej.out")" -ge 2 ] && grep -q "^221 " "$D/rej.out"'
e2e_check "reject: log line" 'grep -q "^rblcheck: ip=$c_rej lists=orbs,rss score=2 action=reject rule=10 ms=" "$D/rej.err"'

run thr TCPREMOTEIP="$c_thr" --
m=$(msg thr)
e2e_check "dul: throttle 1, delivered with THROTTLE_RCPT=1" '[ -n "$m" ] && hasline "$m" "env: THROTTLE_RCPT=1" && hasline "$m" "env: RBLCHECK_LISTS=dul"'
h=$(firstdata thr)
e2e_check "dul: the header is the first line of the message" \
  'case "$h" in "X-RBLCheck: ip=$c_thr lists=dul score=1 action=throttle date=20"*Z) true ;; *) false ;; esac'
run thr2 TCPREMOTEIP="$c_thr" THROTTLE_RCPT=0 --
e2e_check "throttle keeps a lower THROTTLE_RCPT from tcprules" 'hasline "$(msg thr2)" "env: THROTTLE_RCPT=0"'

run tag TCPREMOTEIP="$c_tag" --
e2e_check "rbl only: tagged" 'case "$(firstdata tag)" in "X-RBLCheck: ip=$c_tag lists=rbl score=1 action=tag "*) true ;; *) false ;; esac'
e2e_check "rbl only: RBLCHECK_LISTS=rbl" 'hasline "$(msg tag)" "env: RBLCHECK_LISTS=rbl"'

run sbl TCPREMOTEIP="$c_sbl" --
e2e_check "sbl (weight 3): score >= 3 rejects" 'grep -q "^553 5.7.1 $c_sbl is listed in sbl" "$D/sbl.out" && ! delivered sbl'
run pbl TCPREMOTEIP="$c_pbl" --
e2e_check "pbl on the shared zen zone: throttle" 'hasline "$(msg pbl)" "env: RBLCHECK_LISTS=pbl" && hasline "$(msg pbl)" "env: THROTTLE_RCPT=1"'
run bad TCPREMOTEIP="$c_bad" --
e2e_check "127.255.255.254: never a listing, passed on" 'delivered bad && hasline "$(msg bad)" "env: RBLCHECK_LISTS="'
e2e_check "127.255.255.254: a warning and bad= in the log" \
  'grep -q "warning: list sbl answered 127.255.255.254" "$D/bad.err" && grep -q "action=pass .*bad=sbl,pbl" "$D/bad.err"'

run rdns TCPREMOTEIP="$c_clean" TCPREMOTEHOST=mx1.Example.SA --
e2e_check "rdns ~ *.example.sa: rejected" 'grep -q "^553 no mail from this network" "$D/rdns.out" && ! delivered rdns'
run v6listed TCPREMOTEIP=2001:db8::7 --
e2e_check "IPv6 client listed by nibbles: 554" 'grep -q "^554 5.7.1 v6 2001:db8::7" "$D/v6listed.out"'
run v6clean TCPREMOTEIP=2001:db8::8 --
e2e_check "IPv6 client not listed: delivered" 'delivered v6clean'
run mapped TCPREMOTEIP="::ffff:$c_tag" --
e2e_check "::ffff:a.b.c.d is the IPv4 client" 'case "$(firstdata mapped)" in "X-RBLCheck: ip=$c_tag lists=rbl "*) true ;; *) false ;; esac'

run relay TCPREMOTEIP="$c_rej" RELAYCLIENT= --
e2e_check "RELAYCLIENT: passed on at once" 'delivered relay && grep -q "action=accept reason=relayclient" "$D/relay.err" && ! grep -q X-RBLCheck "$(msg relay)"'
run white TCPREMOTEIP="$c_rej" RBLCHECK= --
e2e_check "RBLCHECK empty: no lookups, passed on" 'delivered white && grep -q "action=accept reason=rblcheck" "$D/white.err"'
run perm TCPREMOTEIP="$c_clean" RBLCHECK=-go_away --
e2e_check "RBLCHECK=-text: 553 text" 'grep -q "^553 go_away" "$D/perm.out" && ! delivered perm'
run temp TCPREMOTEIP="$c_clean" RBLCHECK=slow_down --
e2e_check "RBLCHECK=text: 451 text" 'grep -q "^451 slow_down" "$D/temp.out" && ! delivered temp'

run harvest TCPREMOTEIP="$c_sbl" SDU_HARVEST= --
e2e_check "harvest: nothing refused, the header says what would have been" \
  'case "$(firstdata harvest)" in "X-RBLCheck: ip=$c_sbl lists=sbl score=3 action=harvest would=reject "*) true ;; *) false ;; esac'
e2e_check "harvest: log" 'grep -q "action=harvest would=reject" "$D/harvest.err"'

# --- DNS that never answers, DNS that is down -------------------------------
t0=$(date +%s%N)
run silent TCPREMOTEIP="$c_rej" DNSCACHEIP="$silent" -- -t 0.5
t1=$(date +%s%N)
el=$(( (t1 - t0) / 1000000 ))
e2e_check "silent DNS, -t 0.5: gave up after ${el} ms (0.5 s .. 2 s)" '[ $el -ge 450 ] && [ $el -lt 2000 ]'
e2e_check "silent DNS, -C: not listed, passed on, logged" 'delivered silent && grep -q "action=pass .*failed=orbs,rss,rbl,dul,sbl,pbl,six" "$D/silent.err"'
run silentc TCPREMOTEIP="$c_clean" DNSCACHEIP="$silent" -- -t 0.3 -c
e2e_check "silent DNS, -c: 451" 'grep -q "^451 4.4.3 " "$D/silentc.out" && ! delivered silentc && grep -q "action=failclosed" "$D/silentc.err"'
t0=$(date +%s%N)
run closed TCPREMOTEIP="$c_clean" DNSCACHEIP="$closed" -- -t 5
t1=$(date +%s%N)
el=$(( (t1 - t0) / 1000000 ))
e2e_check "DNS port closed: failed at once (${el} ms), passed on" '[ $el -lt 2000 ] && delivered closed && grep -q "failed=orbs" "$D/closed.err"'
run closedc TCPREMOTEIP="$c_clean" DNSCACHEIP="$closed" -- -t 5 -c
e2e_check "DNS port closed, -c: 451" 'grep -q "^451 4.4.3 " "$D/closedc.out" && ! delivered closedc'

# --- tempfail 90%: 1,000 connections ----------------------------------------
i=0
: > "$D/leaky.err"
while [ $i -lt 1000 ]; do
  TCPREMOTEIP=$c_rss DNSCACHEIP=$dns rblcheck -f "$D/policy" true < /dev/null > /dev/null 2>> "$D/leaky.err"
  i=$((i + 1))
done
tf=$(grep -c "action=tempfail" "$D/leaky.err")
lk=$(grep -c "action=leak" "$D/leaky.err")
# n=1000, p=0.9: 900 +- 5 * sqrt(90) (five standard deviations: a false
# failure once in ~1.7 million runs; 3.29 failed once in the runs of one day,
# as it will once in a thousand); 80% or 100% still fall far outside
e2e_check "tempfail 90%: $tf of 1000 refused, inside [853, 947]; $lk leaked" '[ $tf -ge 853 ] && [ $tf -le 947 ] && [ $((tf + lk)) -eq 1000 ]'

# --- policy mistakes ----------------------------------------------------------
printf 'list orbs relays.orbs.test\nrule orbz tag\n' > "$D/badpolicy"
rblcheck -n -f "$D/badpolicy" > "$D/n.out" 2>&1
rc=$?
E2E_LAST=$D/n.out
e2e_check "-n: a mistake exits 100 with file and line" '[ $rc -eq 100 ] && grep -q "^rblcheck: fatal: $D/badpolicy line 2: unknown list orbz\$" "$D/n.out"'
rblcheck -n -f "$D/policy" > "$D/n.out" 2>&1
e2e_check "-n: the good policy exits 0" '[ $? -eq 0 ] && [ ! -s "$D/n.out" ]'
printf "$session" | TCPREMOTEIP=$c_rej rblcheck -f "$D/badpolicy" smtpsink -d "$D" > "$D/n.out" 2>&1
e2e_check "a mistake stops every connection before anything is said" '[ $? -eq 100 ] && ! grep -q "^[0-9][0-9][0-9]" "$D/n.out"'
rblcheck -n -f "$D/nonexistent" > "$D/n.out" 2>&1
e2e_check "an unreadable policy: 111" '[ $? -eq 111 ] && grep -q "unable to read" "$D/n.out"'

# --- under tcpserver: swaks and exim4 -bs, forged headers -------------------
e2e_need_prog exim4
e2e_exim_conf || { echo "not ok - exim configuration"; exit 1; }
mail=$D/exim-mail/new
e2e_ok "tcpserver with rblcheck and exim4 -bs" e2e_tcpserver 0 env DNSCACHEIP="$dns" rblcheck -f "$D/policy" $(e2e_exim_cmd) || exit 1
forged='X-RBLCheck: ip=192.0.2.99 lists=sbl score=3 action=tag date=2026-01-01T00:00:00Z\nSubject: forged FORGEDID\n\nbody\n'
# the header block of the message whose subject has ID: one field a line, folds joined
fields() { f=$(grep -l "forged $1" "$mail"/* 2>/dev/null | head -n 1); [ -n "$f" ] && awk '/^\r?$/ { exit } /^[ \t]/ { sub(/\r$/, ""); cur = cur " " $0; next } { if (cur != "") print cur; sub(/\r$/, ""); cur = $0 } END { if (cur != "") print cur }' "$f"; }

e2e_swaks --local-interface "$c_clean" --from a@example.com --to b@example.net --data "$(echo "$forged" | sed s/FORGEDID/clean1/)"
e2e_check "exim: clean client delivered" '[ $? -eq 0 ]'
fields clean1 > "$D/clean1.h"
below=$(awk '/^Received:/ { getline; print; exit }' "$D/clean1.h")
e2e_check "clean client: no tag of ours; its forged one names another address than our Received line" \
  '[ "$(grep -c "^X-RBLCheck:" "$D/clean1.h")" -eq 1 ] && case "$below" in "X-RBLCheck: ip=192.0.2.99 "*) true ;; *) false ;; esac && ! grep "^Received:" "$D/clean1.h" | head -n 1 | grep -q "192.0.2.99"'

e2e_swaks --local-interface "$c_tag" --from a@example.com --to b@example.net --data "$(echo "$forged" | sed s/FORGEDID/listed1/)"
e2e_check "exim: listed client (tag) delivered" '[ $? -eq 0 ]'
fields listed1 > "$D/listed1.h"
below=$(awk '/^Received:/ { getline; print; exit }' "$D/listed1.h")
e2e_check "listed client: our tag right below the topmost Received line" \
  'case "$below" in "X-RBLCheck: ip=$c_tag lists=rbl score=1 action=tag date="*) true ;; *) false ;; esac'
e2e_check "listed client: the forged tag comes after ours, not adjacent to Received" \
  '[ "$(grep "^X-RBLCheck:" "$D/listed1.h" | sed -n 2p | cut -c1-29)" = "X-RBLCheck: ip=192.0.2.99 lis" ] &&
   [ "$(awk "/^Received:/ { n = NR } /X-RBLCheck: ip=192.0.2.99/ { f = NR } END { print f - n }" "$D/listed1.h")" -gt 1 ]'

e2e_swaks --local-interface "$c_rej" --from a@example.com --to b@example.net
rc=$?
e2e_check "swaks from a listed client: refused at RCPT with 553 (swaks $rc)" '[ $rc -ne 0 ] && grep -q "<\*\* 553 sorry, $c_rej is listed in orbs,rss" "$E2E_LAST"'
e2e_check "exim saw nothing of the refused client" '! grep -l "$c_rej" "$D"/exim-log/* > /dev/null 2>&1 || ! grep -q "$c_rej" "$D"/exim-log/mainlog'
e2e_stop "$E2E_TCPSERVER_PID"

# IPv6 through tcpserver -6
if ip -6 addr show lo 2>/dev/null | grep -q "::1"; then
  e2e_ok "tcpserver -6 on ::1" e2e_tcpserver -6 -a ::1 0 env DNSCACHEIP="$dns" rblcheck -f "$D/policy" smtpsink -d "$D/sink6" || exit 1
  mkdir -p "$D/sink6"
  e2e_swaks --server "[::1]:$E2E_PORT" -6 --from a@example.com --to b@example.net
  e2e_check "IPv6 client ::1 (listed in v6.test): 554" 'grep -q "<\*\* 554 5.7.1 v6 ::1" "$E2E_LAST"'
  e2e_stop "$E2E_TCPSERVER_PID"
  e2e_ok "tcpserver -6 on 0 (IPv4-mapped clients)" e2e_tcpserver -6 -a 0 0 env DNSCACHEIP="$dns" rblcheck -f "$D/policy" smtpsink -d "$D/sink6" || exit 1
  e2e_swaks --server "127.0.0.1:$E2E_PORT" --local-interface "$c_tag" --from a@example.com --to b@example.net
  m=$(for f in "$D/sink6"/msg.*; do [ -f "$f" ] && echo "$f"; done | tail -n 1)
  e2e_check "tcpserver -6 gives ::ffff:$c_tag: looked up and tagged as $c_tag" \
    '[ -n "$m" ] && grep -q "^X-RBLCheck: ip=$c_tag lists=rbl " "$m" && grep -q "^env: TCPREMOTEIP=::ffff:$c_tag" "$m"'
else
  e2e_skip "IPv6 through tcpserver" "no ::1 on lo"
fi

# the next program named by a path is run with execve; a script without #!
# (ENOEXEC) still runs as execvp runs it: with /bin/sh under glibc (musl's
# execvp has no such fallback: skipped there)
case $(cat "$E2E_TOP/common/build-flags" 2> /dev/null) in
  musl-gcc*) e2e_skip "a script without #! as the next program" "musl's execvp does not run it either" ;;
  *)
    printf 'echo ran-without-shebang\n' > "$D/noshebang"
    chmod 755 "$D/noshebang"
    RELAYCLIENT= TCPREMOTEIP=192.0.2.9 "$E2E_TOP/rblcheck/rblcheck" -f "$D/policy" "$D/noshebang" < /dev/null > "$D/noshebang.out" 2> "$D/noshebang.err"
    e2e_check "a script without #! named by its path runs (execve, then execvp's /bin/sh)" \
      'grep -qx ran-without-shebang "$D/noshebang.out"'
    ;;
esac
