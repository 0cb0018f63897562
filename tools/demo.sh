#!/bin/sh
# tools/demo.sh: the whole sdu chain at work on this machine, for a person to watch (make demo)
# usage: sh tools/demo.sh [-k] [-d dir]
#   -k      keep the run's files (logs, mail, reports) in tests/tmp/demo.PID
#   -d dir  use dir (new or empty) as the scratch directory, and keep it
# Needs root (rbldnsd on port 53 of a loopback address, exim4 -C) and the
# packages of tools/deps.sh. Touches no mail configuration of the machine:
# every server it starts runs on 127.x addresses from files in the scratch
# directory, and is stopped by its pid at the end.

TOP=$(cd "$(dirname "$0")/.." && pwd)
SDU_TOP=$TOP
DEMO=$TOP/tools/demo
keep=
dir=
while getopts kd: opt; do
  case $opt in
    k) keep=1 ;;
    d) dir=$OPTARG; keep=1 ;;
    *) echo "usage: sh tools/demo.sh [-k] [-d dir]" >&2; exit 100 ;;
  esac
done

fatal() { c=$1; shift; echo "demo: fatal: $*" >&2; exit "$c"; }

# shellcheck source=../tests/lib/e2e.sh
. "$TOP/tests/lib/e2e.sh"

[ "$(id -u)" -eq 0 ] || fatal 100 "run me as root: rbldnsd binds port 53 of a loopback address, exim4 runs with -C"
for p in tcpserver tcprules swaks rbldnsd exim4 ss setsid; do
  command -v "$p" > /dev/null 2>&1 || fatal 111 "$p is missing: sh tools/deps.sh (or make demo) installs it"
done
for b in rblcheck/rblcheck throttle/throttle throttle/sdu-report rcptcheck/rcptcheck rcptcheck/rcptcheck-build spamgrab/spamgrab; do
  [ -x "$TOP/$b" ] || fatal 111 "$b is not built: make"
done

umask 022
[ -n "$dir" ] || dir=$TOP/tests/tmp/demo.$$
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  fatal 100 "$dir is not empty"
fi
mkdir -p "$dir" || fatal 111 "unable to create $dir"
E2E_DIR=$(cd "$dir" && pwd)
E2E_NAME=demo
D=$E2E_DIR
: > "$D/.pids"
export E2E_DIR E2E_NAME
demo_exit() {
  _rc=$?
  e2e_stop_all
  if [ -n "$keep" ] || [ "$_rc" -ne 0 ]; then
    echo "The run's files (logs, mail, reports): $D"
  else
    rm -rf "$D"
  fi
  exit "$_rc"
}
trap demo_exit EXIT
trap 'exit 143' HUP INT TERM
trap 'exec > /dev/null 2>&1; exit 141' PIPE
chmod 755 "$D"
T0=$(date +%s)

LOG=$D/tcpserver.log # every link's decision lines and tcpserver's, as multilog would get them
hr() { echo "------------------------------------------------------------------------"; }
say() { printf '%s\n' "$*"; }
# lines PROG IP: PROG's decision lines about IP in the chain's log
lines() { grep "^$1: ip=$2 " "$LOG"; }
nlines() { lines "$@" | grep -c "${3:-.}"; }
# sumkey PROG IP KEY: the sum of KEY= over PROG's lines about IP
sumkey() { lines "$1" "$2" | tr ' ' '\n' | sed -n "s/^$3=//p" | awk '{ s += $1 } END { print s + 0 }'; }
# sw IP ARGS...: one swaks session from IP; the transcript in $E2E_LAST
sw() { _ip=$1; shift; e2e_swaks --local-interface "$_ip" --helo "host-$(echo "$_ip" | tr . -).demo.test" "$@"; }
# refusal: the first refusal swaks got in the last session, cut for one line
refusal() { grep '^<\*\*  *[45]' "$E2E_LAST" | head -n 1 | sed 's/^<\*\* *//' | cut -c1-90; }
delivered() { e2e_count "$D/exim-mail/new"; }

# --- the set-up -----------------------------------------------------------
dns=$(e2e_free_addr) || fatal 111 "no free loopback address"
base=
i=0
while [ $i -lt 50 ]; do
  b=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
  if [ "$b" != "${dns%.*}" ] && [ -z "$(ss -Htuan "( src $b.0/24 or dst $b.0/24 )" 2>/dev/null)" ]; then base=$b; break; fi
  i=$((i + 1))
done
[ -n "$base" ] || fatal 111 "no free 127.x.y.0/24 for the clients"
c_clean=$base.10 c_relay=$base.11 c_dial=$base.12 c_rss=$base.13 c_xbl=$base.14 c_dict=$base.15
c_mx1=$base.16 c_mx2=$base.17 c_mx3=$base.18
cat > "$D/hosts" <<EOF
dns=$dns
clean=$c_clean
relay=$c_relay
dial=$c_dial
rss=$c_rss
xbl=$c_xbl
dict=$c_dict
mx1=$c_mx1
mx2=$c_mx2
mx3=$c_mx3
EOF

# the zones of tools/demo/zones, one file each, BASE made this run's network
mkdir "$D/zones"
zargs=
for z in $(awk '$1 == "zone" { print $2 }' "$DEMO/zones"); do
  awk -v z="$z" -v b="$base" '
    $1 == "zone" { on = ($2 == z); next }
    on && !/^#/ && NF { sub(/^BASE/, b); print }' "$DEMO/zones" > "$D/zones/$z"
  zargs="$zargs $z:ip4set:$D/zones/$z"
done
chmod 755 "$D/zones"; chmod 644 "$D/zones/"*
sed "s/^BASE/$base/" "$DEMO/tcp.smtp" > "$D/tcp.smtp"
tcprules "$D/tcp.smtp.cdb" "$D/tcp.smtp.tmp" < "$D/tcp.smtp" || fatal 111 "tcprules failed"
cp "$DEMO/rblcheck.conf" "$D/rblcheck.conf"
rblcheck -n -f "$D/rblcheck.conf" || fatal 100 "the demo policy does not check"
rcptcheck-build -v -f "$D/rcpt.cdb" "$DEMO/recipients" 2> "$D/rcptcheck-build.log" ||
  fatal 111 "rcptcheck-build failed: $(cat "$D/rcptcheck-build.log")"
mkdir "$D/state"
printf 'postmaster@example.net\n' > "$D/bouncewhite"

# shellcheck disable=SC2086
e2e_rbldnsd "$dns" $zargs || fatal 111 "rbldnsd did not start on $dns (see $D/rbldnsd.log)"

e2e_exim_conf || fatal 111 "unable to write the exim configuration"
if command -v qmail-smtpd > /dev/null 2>&1 && [ "${SDU_DEMO_SMTPD:-}" != exim ]; then
  # a real qmail-smtpd; its queue is a recorder, so nothing enters the machine's queue
  cat > "$D/queue.sh" <<EOF
#!/bin/sh
# the demo's qmail-queue: the message into a Maildir-like directory, never the real queue
f=$D/exim-mail/new/\$\$.\$(date +%s)
cat > "\$f.tmp" && cat <&1 > /dev/null; mv "\$f.tmp" "\$f"
EOF
  chmod 755 "$D/queue.sh"
  mkdir -p "$D/exim-mail/new"
  smtpd="env QMAILQUEUE=$D/queue.sh qmail-smtpd"
  smtpdname="qmail-smtpd (queue: a recorder; its control/rcpthosts must take example.net)"
else
  smtpd=$(e2e_exim_cmd)
  smtpdname="exim4 -bs (a throw-away configuration in the scratch directory)"
fi

# shellcheck disable=SC2086
e2e_tcpserver -x "$D/tcp.smtp.cdb" 0 env DNSCACHEIP="$dns" \
  rblcheck -f "$D/rblcheck.conf" -t 5 \
  throttle -d "$D/state" -b 3h -B 3/10m -h 1h -W "$D/bouncewhite" \
  rcptcheck -f "$D/rcpt.cdb" \
  $smtpd || fatal 111 "tcpserver did not start"
echo "port=$E2E_PORT" >> "$D/hosts"

hr
say "sdu demo: the chain on 127.0.0.1:$E2E_PORT"
say "  tcpserver -> rblcheck -> throttle -> rcptcheck -> $smtpdname"
say "  rbldnsd on $dns serves orbs, rss, rbl, dul and a ZEN-like zone (tools/demo/zones)"
say "  policy tools/demo/rblcheck.conf: orbs & (rss|rbl) reject, dul|pbl throttle 1,"
say "  rss alone tempfail 90%, score >= 3 reject, any other list tag"
say "  recipients (rcptcheck-build): $(cat "$D/rcptcheck-build.log" | sed 's/^rcptcheck-build: //')"
say "  clients: $base.10-18; scratch directory $D"
hr

# --- the scenes ---------------------------------------------------------------
n0=$(delivered)
sw "$c_clean" --from friend@example.org --to alice@example.net --header 'Subject: lunch?'
say "1. A clean sender ($c_clean): one message to alice"
say "   rblcheck: lists=$(lines rblcheck "$c_clean" | sed -n 's/.* lists=\([^ ]*\).*/\1/p' | head -n 1)" \
  "action=$(lines rblcheck "$c_clean" | sed -n 's/.* action=\([^ ]*\).*/\1/p' | head -n 1) (passed on untouched)"
say "   delivered: $(( $(delivered) - n0 )) message"

n0=$(delivered)
sw "$c_relay" --from bulk@spam.demo.test --to bob@example.net
say "2. An open relay on orbs and rss ($c_relay): one message to bob"
say "   rblcheck refused it: $(refusal)"
say "   delivered: $(( $(delivered) - n0 )) (rblcheck answered the client itself; no server ran)"

n0=$(delivered)
sw "$c_dial" --from user@dialup.demo.test --to alice@example.net,bob@example.net,carol@example.net,dave@example.net,erin@example.net
say "3. A dial-up host on dul and pbl ($c_dial): one message to five recipients"
say "   rblcheck: $(lines rblcheck "$c_dial" | sed -n 's/.*\(lists=[^ ]*\).*\(action=[^ ]*\).*/\1 \2/p') 1"
say "   throttle: $(sumkey throttle "$c_dial" rcpts) recipient passed, $(sumkey throttle "$c_dial" throttled) got: $(refusal)"
say "   delivered: $(( $(delivered) - n0 )) message, tagged: $(grep -h '^X-RBLCheck:' "$(ls -t "$D"/exim-mail/new/* | head -n 1)" | cut -c1-60)"

n0=$(delivered)
i=0
while [ $i -lt 20 ]; do sw "$c_rss" --from offers@rss.demo.test --to carol@example.net; i=$((i + 1)); done
say "4. A host on rss only ($c_rss): twenty connections, one message each"
say "   rblcheck: $(nlines rblcheck "$c_rss" action=tempfail) refused with 451 (tempfail 90%), $(nlines rblcheck "$c_rss" action=leak) leaked through, tagged"
say "   delivered: $(( $(delivered) - n0 )) (the leak lets a real server that retries get through in the end)"

sw "$c_xbl" --from x@infected.demo.test --to dave@example.net
say "5. An infected host on the ZEN-like zone, answer 127.0.0.4 ($c_xbl)"
say "   rblcheck: $(lines rblcheck "$c_xbl" | sed -n 's/.*\(lists=[^ ]*\).*\(action=[^ ]*\).*/\1 \2/p'); $(refusal)"

n0=$(delivered)
rc=
i=1
while [ $i -le 12 ]; do rc="$rc${rc:+,}user$i@example.net"; i=$((i + 1)); done
sw "$c_dict" --from guess@harvest.demo.test --to "$rc"
say "6. A dictionary attack ($c_dict): twelve made-up recipients in one connection"
say "   rcptcheck: $(nlines rcptcheck "$c_dict" action=reject) refused with 550 (no mailbox), the next one got 421"
say "   and the connection was closed ($(nlines rcptcheck "$c_dict" action=close) close); the rest were never tried"
say "   delivered: $(( $(delivered) - n0 )); the server never saw a made-up recipient"

n0=$(delivered)
for mx in "$c_mx1" "$c_mx2" "$c_mx3"; do
  for k in 1 2; do
    sw "$mx" --from '<>' --to joe@example.net --header "Subject: failure notice ($k)" --body 'Your message to someone@elsewhere could not be delivered.'
  done
done
sw "$c_mx1" --from '<>' --to forged@example.net --body 'bounce of forged spam'
fg=$(refusal)
say "7. A bounce storm: joe@example.net was forged as sender of spam; three"
say "   mail servers ($c_mx1-18) bounce it back, two bounces each"
say "   throttle: $(( $(delivered) - n0 )) of 6 delivered, $(( $(sumkey throttle "$c_mx1" bounced) + $(sumkey throttle "$c_mx2" bounced) + $(sumkey throttle "$c_mx3" bounced) )) refused: more than 3 in 10 minutes"
say "   a bounce to forged@ (refused in the table): $fg"
hr

# --- spamgrab -----------------------------------------------------------------
mkdir -p "$D/spamgrab-state" "$D/review/tmp" "$D/review/new" "$D/review/cur" "$D/outbox"
sed "s|DIR|$D|g" "$DEMO/spamgrab.conf" > "$D/spamgrab.conf"
cat > "$D/outbox.sh" <<EOF
#!/bin/sh
# the demo's qmail-inject: records each report (arguments, then the message); nothing leaves
f=$D/outbox/\$\$.\$(date +%s%N)
{ echo "# \$*"; cat; } > "\$f"
EOF
chmod 755 "$D/outbox.sh"
DATA=$TOP/tests/data/spamgrab
say "8. spamgrab: double-bounces from tests/data/spamgrab, as qmail-local hands them"
spamgrab -n -f "$D/spamgrab.conf" < "$DATA/db01.eml" > "$D/spamgrab-dryrun.out" 2>> "$D/spamgrab.log"
say "   dry run (-n) on db01.eml, relay spam from 198.51.100.7: would send"
grep '^=== ' "$D/spamgrab-dryrun.out" | sed 's/^=== /     /'
say "     $(grep -m 1 '^Subject:' "$D/spamgrab-dryrun.out")"
for f in db01 tag-dialup db13 db04 db01; do
  spamgrab -f "$D/spamgrab.conf" < "$DATA/$f.eml" > /dev/null 2>> "$D/spamgrab.log"
  echo "$f $?" >> "$D/spamgrab.rc"
done
say "   for real on db01, tag-dialup, db13, db04, then db01 again (exit codes: $(awk '{ printf "%s%s", s, $2; s = " " }' "$D/spamgrab.rc"))"
grep '^spamgrab: kind=' "$D/spamgrab.log" | sed -n '2,$p' |
  sed 's/^spamgrab: kind=[^ ]* \(ip=[^ ]*\).* \(decision=[^ ]*\).* \(sent=[^ ]* saved=[^ ]*\).* \(action=[^ ]*\).*/     \1 \2 \3 \4/'
say "   review Maildir: $(e2e_count "$D/review/new") operator reports waiting for a person, e.g."
rv=$(ls "$D/review/new" | head -n 1)
[ -n "$rv" ] && grep -m 2 '^To:\|^Subject:' "$D/review/new/$rv" | sed 's/^/     /'
if [ -n "$rv" ] && spamgrab -f "$D/spamgrab.conf" -s < "$D/review/new/$rv" 2>> "$D/spamgrab.log"; then
  mv "$D/review/new/$rv" "$D/review/cur/"
  say "   reviewed and sent with spamgrab -s: 1"
fi
say "   the outbox (a recorder in qmail-inject's place): $(e2e_count "$D/outbox") reports"
spamgrab -f "$D/spamgrab.conf" -z > "$D/spamgrab.zone" 2>> "$D/spamgrab.log"
say "   spamgrab -z, the zone for every MX: $(grep -c '^[0-9]' "$D/spamgrab.zone") hosts"
hr

# --- the dashboard --------------------------------------------------------------
e2e_stop "$E2E_TCPSERVER_PID"
say "The dashboard: sdu-report -s on the chain's log"
sdu-report -s "$LOG" | sed 's/^/  /'
say "The worst hosts: sdu-report -t -N 5"
sdu-report -t -N 5 "$LOG" | sed 's/^/  /'
sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' "$D/spamgrab.log" | awk '{ s += $1 } END { print s + 0 }')
sent=$((sent + $(grep -c '^spamgrab: kind=resend .*action=sent' "$D/spamgrab.log")))
say "spamgrab: $(grep '^spamgrab: kind=double' "$D/spamgrab.log" | grep -vc 'action=dryrun') double-bounces handled, $sent reports sent (the outbox), $(e2e_count "$D/review/new") waiting for review"
hr
say "demo: done in $(( $(date +%s) - T0 )) seconds"
exit 0
