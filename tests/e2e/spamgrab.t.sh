#!/bin/sh
# tests/e2e/spamgrab.t.sh: spamgrab as qmail-local runs it: exit codes, cache over time, cap, review Maildir, resend, failures, zone
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init spamgrab
SG="$E2E_TOP/spamgrab/spamgrab"
DATA="$E2E_TOP/tests/data/spamgrab"
[ -x "$SG" ] || { echo "not ok - spamgrab is not built"; exit 1; }
D=$E2E_DIR
T0=1795400000

# the recorder in qmail-inject's place: its arguments and input, one pair a call
cat > "$D/inject" <<'EOF'
#!/bin/sh
d=$REC_DIR
n=$(ls "$d" | wc -l)
printf '%s\n' "$@" > "$d/$n.args"
cat > "$d/$n.msg"
[ -z "$REC_RMDIR" ] || rmdir "$REC_RMDIR"
exit ${REC_EXIT:-0}
EOF
chmod 755 "$D/inject"
REC_DIR="$D/rec"; export REC_DIR

# setup NAME [extra config lines]: a fresh state, review Maildir and recorder dir
setup() {
  C="$D/$1"
  rm -rf "$C"
  mkdir -p "$C/state" "$C/review/tmp" "$C/review/new" "$C/review/cur" "$C/rec"
  REC_DIR="$C/rec"
  {
    echo "me mx.example.net"
    echo "state $C/state"
    echo "review $C/review"
    echo "from abuse-desk@example.net"
    echo "inject $D/inject"
    echo "ptr no"
    echo "dialup ${DIALUP:-dul pbl}"
    echo "operator pbl pbl-submit@lists.test"
    echo "operator orbs orbs@lists.test"
    shift
    for l in "$@"; do echo "$l"; done
  } > "$C/conf"
}
# sg TIME FILE [options]: run spamgrab at simulated time T0+TIME on a sample; status in RC
sg() {
  _t=$1; _f=$2; shift 2
  SDU_TEST_NOW=$((T0 + _t)) "$SG" -f "$C/conf" "$@" < "$_f" > "$C/out" 2> "$C/log"
  RC=$?
}
count() { e2e_count "$1"; }

# every sample: 99 for each double-bounce, 0 for the single bounces
setup samples
bad=
for f in "$DATA"/db*.eml; do
  sg 0 "$f"
  [ "$RC" = 99 ] || bad="$bad $(basename "$f"):$RC"
  ip=$(awk -F'\t' -v f="$(basename "$f")" '$1 == f { print $2 }' "$DATA/INDEX.tsv")
  grep -q "ip=$ip " "$C/log" || bad="$bad $(basename "$f"):ip"
done
e2e_check "every double-bounce sample: exit 99, the INDEX.tsv client in the log" '[ -z "$bad" ] || { echo "#$bad"; false; }'
# as qmail-local hands them to a |program: without its Return-Path and
# Delivered-To lines, the envelope sender in SENDER (INDEX.tsv, INDEX-sdu.tsv)
setup piped
bad=
for f in "$DATA"/db*.eml; do
  sed 1,2d "$f" > "$C/in"
  SENDER='#@[]' sg 0 "$C/in"
  ip=$(awk -F'\t' -v f="$(basename "$f")" '$1 == f { print $2 }' "$DATA/INDEX.tsv")
  [ "$RC" = 99 ] && grep -q "ip=$ip " "$C/log" || bad="$bad $(basename "$f"):$RC"
done
e2e_check "every double-bounce as qmail-local pipes it (SENDER=#@[]): exit 99, the INDEX.tsv client" '[ -z "$bad" ] || { echo "#$bad"; false; }'
for f in sdu-db06 sdu-db10 sdu-db21; do
  sed 1,2d "$DATA/$f.eml" > "$C/in"
  SENDER='#@[]' sg 0 "$C/in"
  ip=$(awk -F'\t' -v f="$f.eml" '$1 == f { print $2 }' "$DATA/INDEX-sdu.tsv")
  e2e_check "$f made behind the chain, piped: exit 99, client $ip" '[ "$RC" = 99 ] && grep -q "ip=$ip " "$C/log"'
  [ "$f" != sdu-db06 ] || e2e_check "sdu-db06: its dial-up tag makes a dial-up complaint" 'grep -q "lists=dul tag=trusted .*decision=dialup" "$C/log"'
  [ "$f" != sdu-db21 ] || e2e_check "sdu-db21 (observe mode, the old chain's X-Rcptcheck line above the tag): a dial-up complaint, no forged tag" \
    'grep -q "lists=dul tag=trusted .*decision=dialup" "$C/log" && ! grep -q "forgedtags=[1-9]" "$C/log"'
done
sed 1,2d "$DATA/sdu-db01.eml" > "$C/in"
SENDER='#@[]' sg 0 "$C/in"
e2e_check "sdu-db01 (tcpserver -l0): exit 0, no trusted Received line, by=0 in the log" \
  '[ "$RC" = 0 ] && grep -q "reason=no-trusted-received by=0" "$C/log"'
for f in single-01 single-03; do
  sed 1,2d "$DATA/$f.eml" > "$C/in"
  SENDER= sg 0 "$C/in"
  e2e_check "$f piped with SENDER empty: left to a person (0, not-local)" '[ "$RC" = 0 ] && grep -q "reason=not-local check=sender" "$C/log"'
done
sed 1,2d "$DATA/db01.eml" > "$C/in"
SENDER='someone@example.org' sg 0 "$C/in"
e2e_check "a double-bounce's text with another envelope sender: not-local (0)" '[ "$RC" = 0 ] && grep -q "reason=not-local check=sender" "$C/log"'
env -u SENDER "$SG" -f "$C/conf" < "$C/in" > /dev/null 2> "$C/log"
RC=$?
e2e_check "no SENDER and no Return-Path line of qmail-local: not-local (0)" '[ "$RC" = 0 ] && grep -q "reason=not-local check=sender" "$C/log"'

# a forged double-bounce sent over SMTP to the doublebounce address: a
# genuine one's text (sdu-db06, naming 127.0.10.12 behind our Received line)
# with and without a forged Return-Path and qmail-queue line, envelope
# sender #@[] or another. It reaches spamgrab as qmail would hand it over:
# qmail-queue's "invoked from network" line, qmail-smtpd's Received line
# (tcpserver -l mx.example.net: "by mx.example.net with SMTP"), the data.
if ! command -v tcpserver > /dev/null 2>&1 || ! command -v swaks > /dev/null 2>&1; then
  e2e_skip "forged double-bounces over SMTP" "needs tcpserver and swaks"
else
  setup forgedsmtp
  mkdir "$C/sink"
  e2e_tcpserver -l mx.example.net 0 smtpsink -d "$C/sink" || echo "# smtpsink under tcpserver did not start"
  sed 1,3d "$DATA/sdu-db06.eml" > "$C/body"
  { echo 'Return-Path: <#@[]>'; echo 'Received: (qmail 4242 invoked for bounce); 2 Dec 2026 10:04:30 -0000'; cat "$C/body"; } > "$C/body.rp"
  # qmail: what qmail-local hands a |program for the message in smtpsink's file $1
  asqmail() {
    _ip=$(sed -n 's/^env: TCPREMOTEIP=//p' "$1")
    _helo=$(sed -n 's/^helo: //p' "$1")
    echo "Received: (qmail 5151 invoked from network); 2 Dec 2026 11:00:00 -0000"
    echo "Received: from unknown (HELO $_helo) ($_ip)"
    echo "  by mx.example.net with SMTP; 2 Dec 2026 11:00:00 -0000"
    sed '1,/^\r\{0,1\}$/d' "$1" | tr -d '\r'
  }
  n=0
  for from in '#@[]' 'forger@spam.test'; do
    for b in body body.rp; do
      n=$((n + 1))
      e2e_swaks --server "127.0.0.1:$E2E_PORT" --from "$from" --to doublebounce@mx.example.net --data "$C/$b"
      m=$(ls -t "$C/sink"/msg.* 2> /dev/null | head -n 1)
      [ -n "$m" ] || echo "# smtpsink kept no message"
      asqmail "$m" > "$C/forged.$n"
      sender=$(sed -n 's/^mail: <\(.*\)>$/\1/p' "$m")
      SENDER=$sender sg 0 "$C/forged.$n"
      case $from in '#@[]') want=queue ;; *) want=sender ;; esac
      e2e_check "forged over SMTP (MAIL FROM:<$from>, $b): exit 0, not-local ($want), nothing sent" \
        '[ "$sender" = "$from" ] && [ "$RC" = 0 ] && grep -q "action=pass reason=not-local check=$want" "$C/log" && [ "$(count "$C/rec")" = 0 ]'
      { echo 'Return-Path: <#@[]>'; echo 'Delivered-To: doublebounce@mx.example.net'; cat "$C/forged.$n"; } > "$C/forged.$n.maildir"
      env -u SENDER "$SG" -f "$C/conf" < "$C/forged.$n.maildir" > /dev/null 2> "$C/log"
      RC=$?
      e2e_check "the same as a Maildir file with qmail-local's Return-Path <#@[]>: exit 0, not-local" \
        '[ "$RC" = 0 ] && grep -q "reason=not-local check=queue" "$C/log" && [ "$(count "$C/rec")" = 0 ]'
    done
  done
  # a stranger's MAIL FROM:<> message to an unknown local user: qmail-send
  # cannot bounce it, so it makes a genuine double-bounce with the stranger's
  # message as "the original bounce" -- whose text may hold a "copy of the
  # message" naming a victim behind a forged line "by mx.example.net"
  {
    printf 'Date: 2 Dec 2026 10:04:30 -0000\nFrom: MAILER-DAEMON@mx.example.net\nTo: forged@spam.test\nSubject: failure notice\n\n'
    printf 'Hi. This is the qmail-send program at mx.example.net.\n\n<nobody@mx.example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n'
    printf -- '--- Below this line is a copy of the message.\n\nReturn-Path: <forged@spam.test>\n'
    printf 'Received: (qmail 4243 invoked from network); 2 Dec 2026 10:04:29 -0000\n'
    printf 'Received: from victim.test (HELO victim.test) (127.0.10.77)\n  by mx.example.net with SMTP; 2 Dec 2026 10:04:29 -0000\n'
    printf 'Subject: cheap pills\n\nspam\n'
  } > "$C/nullsender"
  e2e_swaks --server "127.0.0.1:$E2E_PORT" --from '<>' --to nobody@mx.example.net --data "$C/nullsender"
  m=$(ls -t "$C/sink"/msg.* 2> /dev/null | head -n 1)
  {
    printf 'Received: (qmail 5152 invoked for bounce); 2 Dec 2026 11:00:01 -0000\nDate: 2 Dec 2026 11:00:01 -0000\n'
    printf 'From: MAILER-DAEMON@mx.example.net\nTo: doublebounce@mx.example.net\nSubject: failure notice\n\n'
    printf 'Hi. This is the qmail-send program at mx.example.net.\nI tried to deliver a bounce message to this address, but the bounce bounced!\n\n'
    printf '<nobody@mx.example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is the original bounce.\n\nReturn-Path: <>\n'
    asqmail "$m"
  } > "$C/nullsender.db"
  SENDER='#@[]' sg 0 "$C/nullsender.db"
  e2e_check "a stranger's MAIL FROM:<> message as qmail-send's original bounce (MAIL FROM:$(sed -n 's/^mail: //p' "$m")): exit 0, not-local (bounce), nothing sent" \
    'grep -qx "mail: <>" "$m" && [ "$RC" = 0 ] && grep -q "action=pass reason=not-local check=bounce" "$C/log" && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ]'
  SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -z > "$C/zone" 2> "$C/log"
  e2e_check "the victim 127.0.10.77 of the MAIL FROM:<> message is not in the zone" '! grep -q "127\.0\.10\.77" "$C/zone"'
  e2e_check "the forged victim 127.0.10.12 is not in the zone" '! grep -q "127\.0\.10\.12" "$C/zone"'
  # a person pipes the same message in with -r: the spam itself, our line on top
  SENDER=forger@spam.test sg 0 "$C/forged.4" -r
  e2e_check "-r on a message that came in over SMTP: reported (0), the client of our Received line" \
    '[ "$RC" = 0 ] && grep -q "kind=manual ip=127.0.0.1 .*sent=" "$C/log"'
  e2e_stop "$E2E_TCPSERVER_PID"
fi

setup pass
for f in single-01 single-03 truncated truncated2 norecv forged-top; do
  sg 0 "$DATA/$f.eml"
  e2e_check "$f: left to a person (exit 0), nothing written" '[ "$RC" = 0 ] && [ "$(count "$C/rec")" = 0 ] && grep -q "action=pass" "$C/log"'
done
printf 'hello world\n' > "$D/garbage"
sg 0 "$D/garbage"
e2e_check "garbage: exit 0" '[ "$RC" = 0 ]'
: > "$D/empty"
sg 0 "$D/empty"
e2e_check "empty input: exit 0" '[ "$RC" = 0 ]'

# db13: the forged Received line and tag change nothing
setup forged
sg 0 "$DATA/db13.eml"
e2e_check "db13: reported as relay spam of 203.0.113.190, forged tag noticed" \
  'grep -q "ip=203.0.113.190 lists=- tag=none forgedtags=1 known=0 decision=relay" "$C/log" && grep -q "^abuse@example-hosting.test$" "$C/rec/0.args"'
e2e_check "db13: operator reports saved for review" '[ "$(count "$C/review/new")" = 2 ] && [ "$(count "$C/review/tmp")" = 0 ]'

# a trusted dial-up tag: one complaint with the original only, no operator reports
setup dialup
sg 0 "$DATA/tag-dialup.eml"
e2e_check "dial-up: exit 99, decision dialup" '[ "$RC" = 99 ] && grep -q "lists=dul,pbl tag=trusted known=0 decision=dialup" "$C/log"'
e2e_check "dial-up: one complaint to abuse@ the registered domain" '[ "$(count "$C/rec")" = 2 ] && grep -q "^abuse@example-isp.test$" "$C/rec/0.args"'
e2e_check "dial-up: the original attached, not the double-bounce" \
  '! grep -q "bounce bounced" "$C/rec/0.msg" && grep -q "^Subject: cheap stuff" "$C/rec/0.msg" && [ "$(count "$C/review/new")" = 0 ]'
# only the tag's first physical line counts: a continuation line below it
# (the sender's first line, folded into it) does not make it a forgery
setup tagfold
sed 's/^X-RBLCheck: ip=198.51.100.77 lists=dul,pbl action=throttle$/&\n Subject: folded by the sender/' "$DATA/tag-dialup.eml" > "$D/tag-fold.eml"
sg 0 "$D/tag-fold.eml"
e2e_check "a continuation line below the tag: still trusted, decision dialup" \
  'grep -q "^ Subject: folded by the sender" "$D/tag-fold.eml" && [ "$RC" = 99 ] && grep -q "lists=dul,pbl tag=trusted known=0 decision=dialup" "$C/log"'
# on one operator's list but not the other's: only the other gets a report


DIALUP=dul setup listed
sg 0 "$DATA/ipv6.eml"
e2e_check "IPv6 client on pbl (not dial-up here): relay, reported to orbs only" \
  'grep -q "ip=2001:db8::25 lists=pbl tag=trusted known=0 decision=relay" "$C/log" && [ "$(count "$C/review/new")" = 1 ] && grep -q "^To: orbs@lists.test" "$C/review/new/"* && grep -q "listed=1" "$C/log"'

# the cache over simulated time
setup cache
sg 0 "$DATA/db01.eml"
e2e_check "first double-bounce: reported" '[ "$RC" = 99 ] && grep -q "known=0.*sent=1 saved=2 action=report" "$C/log"'
sg 3600 "$DATA/db19.eml"
sg 3600 "$DATA/db01.eml"
e2e_check "same host an hour later: discarded, nothing sent" '[ "$RC" = 99 ] && grep -q "known=1 decision=relay sent=0 saved=0 action=discard" "$C/log" && [ "$(count "$C/rec")" = 4 ]'
sg 86399 "$DATA/db01.eml"
e2e_check "just under 24 hours: still no second report" 'grep -q "sent=0 saved=0 action=discard" "$C/log"'
sg 86400 "$DATA/db01.eml"
e2e_check "after 24 hours: a second report, still discarded as known" 'grep -q "known=1 .*sent=1 saved=2 action=discard" "$C/log"'
sg $((86400 + 7 * 86400 - 1)) "$DATA/db01.eml"
e2e_check "seen again within 7 days: known" 'grep -q "known=1" "$C/log"'
sg $((86400 + 14 * 86400)) "$DATA/db01.eml"
e2e_check "7 days after it was last seen: forgotten, reported anew" 'grep -q "known=0 .*action=report" "$C/log"'
# a hold and an interval of the end of time (the duration parser takes up to
# ULONG_MAX seconds): remembered and reported once for ever, not wrapped to a
# time long past (a report for every double-bounce, a host forgotten at once)
setup forever "hold 18446744073709551615" "interval 18446744073709551615"
sg 0 "$DATA/db01.eml"
e2e_check "hold and interval of ULONG_MAX s: the first double-bounce reported" 'grep -q "known=0.*sent=1 saved=2 action=report" "$C/log"'
sg 3600 "$DATA/db01.eml"
e2e_check "hold and interval of ULONG_MAX s: an hour later known, nothing sent" 'grep -q "known=1 decision=relay sent=0 saved=0 action=discard" "$C/log"'

# eight double-bounces of one new host at the same moment, as qmail-local runs
# them side by side: one process reports, the others only count the host
setup claim
pids=
i=0
while [ $i -lt 8 ]; do
  SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" < "$DATA/db01.eml" > /dev/null 2> "$C/log.$i" &
  pids="$pids $!"
  i=$((i + 1))
done
rcs=
for p in $pids; do wait "$p"; rcs="$rcs $?"; done
sent=$(cat "$C"/log.* | grep -c " sent=1 ")
E2E_LAST=$C/log.0
e2e_check "eight at once from one new host: all exit 99 ($rcs), one report ($sent), its two review files" \
  '[ "$rcs" = " 99 99 99 99 99 99 99 99" ] && [ "$sent" = 1 ] && [ "$(count "$C/review/new")" = 2 ]'

# the zone before any double-bounce came: an empty zone, exit 0
setup zonefresh
SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -z > "$C/zone" 2> "$C/log"
RC=$?
e2e_check "-z on an empty state directory: an empty zone, exit 0" \
  '[ "$RC" = 0 ] && [ ! -s "$C/log" ] && grep -q "^:127.0.0.2:" "$C/zone" && ! grep -q "^[0-9]" "$C/zone"'
TCPREMOTEIP=192.0.2.1 THROTTLE_CONN=30/60 "$E2E_TOP/throttle/throttle" -d "$C/state" true < /dev/null > /dev/null 2>&1
SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -Z > "$C/zone" 2> "$C/log"
RC=$?
e2e_check "-Z on a state directory the chain made (no table of spamgrab's yet): an empty zone, exit 0" \
  '[ -f "$C/state/data.mdb" ] && [ "$RC" = 0 ] && grep -q "^:127.0.0.2:" "$C/zone"'
rm -rf "$C/state"
SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -z > "$C/zone" 2> "$C/log"
RC=$?
e2e_check "-z without the state directory: 111 and the directory named" '[ "$RC" = 111 ] && grep -q "$C/state" "$C/log"'

# the zone: the known hosts, read by a real rbldnsd
setup zone
sg 0 "$DATA/db01.eml"; sg 0 "$DATA/db13.eml"; sg 0 "$DATA/ipv6.eml"
SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -z > "$C/zone" 2> "$C/log"
e2e_check "-z: an ip4set zone with the IPv4 hosts" \
  'grep -qx "198.51.100.7" "$C/zone" && grep -qx "203.0.113.190" "$C/zone" && ! grep -q "2001:db8" "$C/zone" && grep -q "^:127.0.0.2:" "$C/zone"'
SDU_TEST_NOW=$T0 "$SG" -f "$C/conf" -Z > "$C/zone6" 2> "$C/log"
RC=$?
e2e_check "-Z: an ip6trie zone with the IPv6 hosts only" \
  '[ "$RC" = 0 ] && grep -qx "2001:db8::25" "$C/zone6" && ! grep -q "^198\.51" "$C/zone6" && grep -q "^:127.0.0.2:" "$C/zone6"'
SDU_TEST_NOW=$((T0 + 8 * 86400)) "$SG" -f "$C/conf" -z > "$C/zone8" 2> "$C/log"
e2e_check "-z: after 8 days no host is left" '! grep -q "^[0-9]" "$C/zone8"'
if [ "$(id -u)" -ne 0 ] || ! command -v rbldnsd > /dev/null 2>&1 || ! command -v dig > /dev/null 2>&1; then
  e2e_skip "zone served by rbldnsd" "needs root, rbldnsd and dig"
else
  chmod 755 "$C"; chmod 644 "$C/zone"
  a=$(e2e_free_addr)
  if e2e_rbldnsd "$a" "spamhosts.test:ip4set:$C/zone"; then
    e2e_check "rbldnsd serves the zone: a listed host" '[ "$(e2e_dig "$a" 7.100.51.198.spamhosts.test)" = 127.0.0.2 ]'
    e2e_check "rbldnsd serves the zone: its TXT names it" 'e2e_dig "$a" 7.100.51.198.spamhosts.test TXT | grep -q "see 198.51.100.7"'
    e2e_check "rbldnsd serves the zone: an unknown host is not listed" '[ -z "$(e2e_dig "$a" 8.100.51.198.spamhosts.test)" ]'
    e2e_stop "$E2E_RBLDNSD_PID"
  else
    e2e_fail "rbldnsd loads the zone" "did not start" "$D/rbldnsd.log"
  fi
  chmod 644 "$C/zone6"
  a=$(e2e_free_addr)
  if e2e_rbldnsd "$a" "spamhosts6.test:ip6trie:$C/zone6"; then
    # 2001:db8::25, nibbles reversed
    q6=5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.spamhosts6.test
    e2e_check "rbldnsd serves the -Z zone: the IPv6 host is listed" '[ "$(e2e_dig "$a" "$q6")" = 127.0.0.2 ]'
    e2e_check "rbldnsd serves the -Z zone: its TXT names it" 'e2e_dig "$a" "$q6" TXT | grep -q "see 2001:db8::25"'
    e2e_check "rbldnsd serves the -Z zone: a neighbour is not listed" '[ -z "$(e2e_dig "$a" "6${q6#5}")" ]'
    e2e_stop "$E2E_RBLDNSD_PID"
  else
    e2e_fail "rbldnsd loads the -Z zone" "did not start" "$D/rbldnsd.log"
  fi
fi

# the daily cap per recipient: 2 a day to the same abuse desk
setup cap "cap 2"
sg 0 "$DATA/db04.eml"     # 198.51.100.66 -> abuse@example-isp.test
sg 10 "$DATA/tag-dialup.eml" # 198.51.100.77 -> abuse@example-isp.test
sg 20 "$DATA/db21.eml"    # 198.51.100.177 -> abuse@example-isp.test: over the cap
e2e_check "cap: the third report to one address in a day is not sent" \
  '[ "$RC" = 99 ] && grep -q "sent=0 saved=2 capped=1" "$C/log" && [ "$(grep -lx abuse@example-isp.test "$C/rec/"*.args | wc -l)" = 2 ]'
sg 86420 "$DATA/db21.eml"
e2e_check "cap: a day later it is sent" 'grep -q "sent=1" "$C/log"'

# the review Maildir and the resend mode
setup review
sg 0 "$DATA/db01.eml"
f=$(ls "$C/review/new" | head -n 1)
e2e_check "review: the file is a complete report" 'tail -n 1 "$C/review/new/$f" | grep -q "^--=_spamgrab_.*--$"'
n=$(count "$C/rec")
"$SG" -f "$C/conf" -s < "$C/review/new/$f" 2> "$C/log"
RC=$?
e2e_check "-s: sent to the operator (exit 0)" '[ "$RC" = 0 ] && [ "$(count "$C/rec")" = $((n + 2)) ] && tail -n 1 "$C/rec/$n.args" | grep -q "@lists.test$"'
e2e_check "-s: the report went out unchanged" 'cmp -s "$C/review/new/$f" "$C/rec/$n.msg"'
"$SG" -f "$C/conf" -s < "$DATA/db01.eml" 2> "$C/log"
RC=$?
e2e_check "-s: refuses what is not a report (100)" '[ "$RC" = 100 ] && [ "$(count "$C/rec")" = $((n + 2)) ]'
REC_EXIT=111 "$SG" -f "$C/conf" -s < "$C/review/new/$f" 2> "$C/log"
RC=$?
e2e_check "-s: injector failure is temporary (111)" '[ "$RC" = 111 ]'

# the manual mode: the spam itself
setup manual
sed -n '/copy of the message/,$p' "$DATA/tag-dialup.eml" | sed 1,2d > "$C/spam"
sg 0 "$C/spam" -r
e2e_check "-r: the spam itself reported as relay spam despite the dial-up tag" \
  '[ "$RC" = 0 ] && grep -q "kind=manual ip=198.51.100.77 .*decision=relay .*sent=1 saved=1" "$C/log"'
sg 10 "$C/spam" -r
e2e_check "-r: reports again even within 24 hours" 'grep -q "sent=1" "$C/log"'
sg 0 "$DATA/single-01.eml" -r
e2e_check "-r: without a Received line of ours the input is refused (100)" '[ "$RC" = 100 ]'

# the dry run: prints, changes nothing
setup dry
sg 0 "$DATA/db01.eml" -n
e2e_check "-n: prints the reports, sends and saves nothing" \
  '[ "$RC" = 99 ] && grep -q "^=== send abuse@newsletter-blast.test" "$C/out" && [ "$(grep -c "^=== save" "$C/out")" = 2 ] && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ] && grep -q "action=dryrun" "$C/log"'
sg 1 "$DATA/db01.eml"
e2e_check "-n: the cache was not touched" 'grep -q "known=0" "$C/log"'

# every temporary failure: 111, and nothing written
setup failinject
REC_EXIT=1; export REC_EXIT
sg 0 "$DATA/db01.eml"
unset REC_EXIT
e2e_check "injector fails: 111, no review file, no tmp file" \
  '[ "$RC" = 111 ] && grep -q "action=tempfail reason=inject" "$C/log" && [ "$(count "$C/review/new")" = 0 ] && [ "$(count "$C/review/tmp")" = 0 ]'
sg 1 "$DATA/db01.eml"
e2e_check "injector fails: the cache was not updated (the retry reports)" '[ "$RC" = 99 ] && grep -q "known=0.*action=report" "$C/log"'
# a retry never sends twice: the cache entry is written (report made, cap
# counted) before the mail goes out, put back when no mail went out
setup retry
sg 0 "$DATA/db01.eml"
REC_EXIT=1 sg 86400 "$DATA/db01.eml"
e2e_check "retry: a due report whose injector fails: 111" '[ "$RC" = 111 ] && grep -q "reason=inject" "$C/log"'
sg 86401 "$DATA/db01.eml"
e2e_check "retry: the entry was put back, the retry reports" '[ "$RC" = 99 ] && grep -q "known=1 .*sent=1 saved=2 action=discard" "$C/log"'
setup retrysent
REC_RMDIR="$C/review/new" sg 0 "$DATA/db01.eml"
e2e_check "retry: the mail went out, then the review file could not be moved: 111" \
  '[ "$RC" = 111 ] && grep -q "reason=review" "$C/log" && [ "$(count "$C/rec")" = 2 ] && [ "$(count "$C/review/tmp")" = 0 ]'
mkdir "$C/review/new"
sg 120 "$DATA/db01.eml"
e2e_check "retry: qmail's retry does not send the mail again" \
  '[ "$RC" = 99 ] && grep -q "known=1 decision=relay sent=0 saved=0 action=discard" "$C/log" && [ "$(count "$C/rec")" = 2 ]'
setup failreview
rm -rf "$C/review/tmp"
sg 0 "$DATA/db01.eml"
e2e_check "review Maildir broken: 111, nothing sent" '[ "$RC" = 111 ] && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ]'
setup failstate
rm -rf "$C/state"
sg 0 "$DATA/db01.eml"
e2e_check "state directory missing: 111, nothing sent" '[ "$RC" = 111 ] && grep -q "reason=state" "$C/log" && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ]'
sg 0 "$DATA/single-01.eml"
e2e_check "state directory missing: a single bounce still passes (0)" '[ "$RC" = 0 ]'
setup failnoinject "inject $D/no-such-injector"
sg 0 "$DATA/db01.eml"
e2e_check "injector missing: 111, no review file" '[ "$RC" = 111 ] && [ "$(count "$C/review/new")" = 0 ] && [ "$(count "$C/review/tmp")" = 0 ]'
setup faildns "contactzone contacts.sdu.test ip"
a=$(e2e_free_addr)
DNSCACHEIP=$a; export DNSCACHEIP
sg 0 "$DATA/db01.eml"
unset DNSCACHEIP
e2e_check "contact zone unreachable: 111, nothing written" \
  '[ "$RC" = 111 ] && grep -q "reason=contact" "$C/log" && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ]'

# the reverse name asked anew from a DNS server that never answers: when the
# contact needs it, a temporary failure as for a contact zone; when it does
# not (ptr no: the name in our Received line), no DNS is asked at all
DNSDELAY="$E2E_TOP/bench/rblcheck_dnsdelay"
if [ "$(id -u)" -ne 0 ] || [ ! -x "$DNSDELAY" ]; then
  e2e_skip "reverse DNS timeout is temporary" "needs root and bench/rblcheck_dnsdelay"
else
  silent=$(e2e_free_addr)
  setsid "$DNSDELAY" -x "$silent" > "$D/silent.log" 2>&1 < /dev/null &
  e2e_remember $! dnsdelay
  e2e_wait 50 sh -c "[ -n \"\$(ss -Hluan 'src $silent:53')\" ]" || echo "# silent DNS server did not start"
  DNSCACHEIP=$silent; export DNSCACHEIP
  setup ptrtimeout "ptr yes" "dnstimeout 1"
  sg 0 "$DATA/db01.eml"
  e2e_check "reverse DNS times out when the contact needs it: 111, nothing written" \
    '[ "$RC" = 111 ] && grep -q "action=tempfail reason=contact" "$C/log" && grep -q "no answer for 7.100.51.198.in-addr.arpa" "$C/log" && [ "$(count "$C/rec")" = 0 ] && [ "$(count "$C/review/new")" = 0 ] && [ "$(count "$C/review/tmp")" = 0 ]'
  sg 1 "$DATA/db01.eml"
  e2e_check "reverse DNS timeout: the cache was not updated" '[ "$RC" = 111 ] && grep -q "known=0" "$C/log"'
  setup ptrtimeout6 "ptr yes" "dnstimeout 1"
  DIALUP=dul sg 0 "$DATA/ipv6.eml"
  e2e_check "reverse DNS of an IPv6 client times out: 111" '[ "$RC" = 111 ] && grep -q "no answer for .*ip6.arpa" "$C/log" && [ "$(count "$C/rec")" = 0 ]'
  setup ptrno "ptr no" "dnstimeout 1"
  sg 0 "$DATA/db01.eml"
  e2e_check "ptr no, same dead server: the Received line's name serves (99, reported)" \
    '[ "$RC" = 99 ] && grep -q "contact=rfc2142 sent=1" "$C/log" && grep -q "^abuse@newsletter-blast.test$" "$C/rec/0.args"'
  echo "ptr yes" >> "$C/conf"
  sg 3600 "$DATA/db01.eml"
  e2e_check "ptr yes, same dead server, no report due (known host): 99 without asking" \
    '[ "$RC" = 99 ] && grep -q "known=1 decision=relay sent=0 saved=0 action=discard" "$C/log"'
  # qmail retries until queuelifetime, then throws the double-bounce away:
  # one made more than "giveup" (2 days) ago is handled without the contact
  setup ptrgiveup "ptr yes" "dnstimeout 1"
  sg $((2 * 86400)) "$DATA/db01.eml"
  e2e_check "reverse DNS times out, the double-bounce 2 days old: handled without the contact (99), the operator reports saved" \
    '[ "$RC" = 99 ] && grep -q "warning: contact lookup given up: no answer for 7.100.51.198.in-addr.arpa" "$C/log" && grep -q "isp=- contact=gave-up sent=0 saved=2 action=report" "$C/log"'
  setup ptrgiveup2 "ptr yes" "dnstimeout 1" "giveup 3d"
  sg $((2 * 86400)) "$DATA/db01.eml"
  e2e_check "giveup 3d: at 2 days still a temporary failure (111)" '[ "$RC" = 111 ] && grep -q "reason=contact" "$C/log"'
  unset DNSCACHEIP
  # a resolver that answers REFUSED or SERVFAIL: a final answer, "no reverse name"
  for rc in 5:REFUSED 2:SERVFAIL; do
    no=$(e2e_free_addr)
    setsid "$DNSDELAY" -r "${rc%%:*}" "$no" > "$D/no.log" 2>&1 < /dev/null &
    nopid=$!
    e2e_remember $nopid dnsdelay
    e2e_wait 50 sh -c "[ -n \"\$(ss -Hluan 'src $no:53')\" ]" || echo "# ${rc#*:} DNS server did not start"
    DNSCACHEIP=$no; export DNSCACHEIP
    setup "ptr${rc#*:}" "ptr yes"
    sg 0 "$DATA/db01.eml"
    e2e_check "reverse DNS answers ${rc#*:}: no reverse name, the Received line's name serves (99, reported)" \
      '[ "$RC" = 99 ] && grep -q "contact=rfc2142 sent=1" "$C/log" && grep -q "^abuse@newsletter-blast.test$" "$C/rec/0.args"'
    sg 0 "$DATA/db03.eml"
    e2e_check "reverse DNS answers ${rc#*:}, no name in the Received line: no contact, handled (99)" \
      '[ "$RC" = 99 ] && grep -q "isp=- contact=no-reverse-dns" "$C/log"'
    unset DNSCACHEIP
    e2e_stop $nopid
  done
fi

setup failconf
echo "bogus keyword" >> "$C/conf"
sg 0 "$DATA/db01.eml"
e2e_check "configuration error: 111 for a double-bounce (never 100)" '[ "$RC" = 111 ]'
"$SG" -f "$C/conf" -z > /dev/null 2>&1
RC=$?
e2e_check "configuration error: 100 for -z" '[ "$RC" = 100 ]'
