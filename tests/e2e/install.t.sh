#!/bin/sh
# tests/e2e/install.t.sh: INSTALL's files (tools/examples/) and commands, run against a scratch directory
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init install
e2e_need_prog tcprules tcprulescheck cdb
X=$E2E_TOP/tools/examples
S=$E2E_DIR
mkdir -p "$S/etc" "$S/state" "$S/log" "$S/qlog" "$S/rbldnsd" "$S/state/relays/tmp" "$S/state/relays/new" "$S/state/relays/cur"
# the users INSTALL names: qmaild runs the chain, alias spamgrab, qmaill
# multilog. Made here when missing (as root), removed at the end; without
# them the steps run as root and the checks of who may open what are skipped.
MADE_USERS=
MADE_GROUP=
NS_MADE=
inst_cleanup() {
  [ -z "$NS_MADE" ] || ip netns del "$NS" 2> /dev/null
  for _u in $MADE_USERS; do userdel "$_u" 2> /dev/null; done
  [ -z "$MADE_GROUP" ] || groupdel "$MADE_GROUP" 2> /dev/null
}
trap '_i_rc=$?; inst_cleanup; (exit "$_i_rc"); e2e_exit' EXIT
USERS=
if [ "$(id -u)" -eq 0 ] && command -v useradd > /dev/null 2>&1 && command -v setpriv > /dev/null 2>&1; then
  USERS=1
  # qmail's users have the login group nofiles (qmail's INSTALL.ids)
  if ! getent group nofiles > /dev/null 2>&1; then
    groupadd -r nofiles 2>> "$S/useradd.err" && MADE_GROUP=nofiles
  fi
  for u in qmaild alias qmaill; do
    id "$u" > /dev/null 2>&1 && continue
    if useradd -r -M -g nofiles -d /nonexistent -s /usr/sbin/nologin "$u" 2>> "$S/useradd.err"; then
      MADE_USERS="$MADE_USERS $u"
    else
      USERS=
    fi
  done
fi
# as USER CMD...: CMD as USER (its uid and login group, no other groups), in a clean environment as qmail's
as() {
  _u=$1; shift
  setpriv --reuid="$_u" --regid="$(id -g "$_u")" --clear-groups env - PATH="$PATH" "$@"
}

# sub: INSTALL's paths made the scratch directory's
sub() {
  sed -e "s|/etc/tcp.smtp|$S/tcp.smtp|g" -e "s|/etc/sdu|$S/etc|g" -e "s|/var/lib/sdu|$S/state|g" \
    -e "s|/var/lib/rbldnsd|$S/rbldnsd|g" -e "s|/var/log/smtpd|$S/log|g" -e "s|/var/log/qmail|$S/qlog|g" -e "s|/var/qmail/control/concurrencyincoming|$S/none|g" \
    -e "s|/usr/local/bin/||g" -e "s|/var/qmail|$S/qmail|g" -e "s|~alias/|$S/qmail/alias/|g" "$@"
}

# make install, twice (the second over the first, as an upgrade): the links of
# the chain are hard links to sdu-chain, the other programs files of their own
for i in 1 2; do
  e2e_ok "make install into a scratch root ($i)" make -s -C "$E2E_TOP" install DESTDIR="$S/root" PREFIX=/usr/local
done
B=$S/root/usr/local/bin
e2e_check "installed: rblcheck, throttle and rcptcheck are hard links to sdu-chain" \
  '[ "$(ls -i "$B/sdu-chain" "$B/rblcheck" "$B/throttle" "$B/rcptcheck" | awk "{ print \$1 }" | sort -u | wc -l)" -eq 1 ] && [ "$(stat -c %h "$B/sdu-chain")" -eq 4 ]'
e2e_check "installed: the other programs and every man page, nothing left under a temporary name" \
  'for p in spamgrab sdu-report rcptcheck-build; do [ -x "$B/$p" ] || exit 1; done; [ -r "$S/root/usr/local/share/man/man1/sdu-chain.1" ] && ! ls "$B" | grep -q "\.new\$"'

# the policies; the example is /etc/sdu/rblcheck.conf for the run script below
sub "$X/rblcheck.conf" > "$S/etc/rblcheck.conf"
for f in rblcheck.conf rblsmtpd.conf; do
  e2e_ok "rblcheck -n accepts tools/examples/$f" rblcheck -n -f "$X/$f"
done
e2e_check "INSTALL shows the check command" "grep -q '^       rblcheck -n -f /etc/sdu/rblcheck.conf\$' \"\$E2E_TOP/INSTALL\""
e2e_check "INSTALL shows the example policy's rules as they are" \
  'grep "^rule\|^list" "$X/rblcheck.conf" | while read -r l; do grep -qF "       $l" "$E2E_TOP/INSTALL" || exit 1; done'

# tcprules, as INSTALL builds it
sub "$X/tcp.smtp" > "$S/tcp.smtp"
e2e_ok "tcprules builds tools/examples/tcp.smtp" sh -c "$(grep '^       tcprules ' "$E2E_TOP/INSTALL" | sub)"
rc() { env - TCPREMOTEIP="$1" tcprulescheck "$S/tcp.smtp.cdb"; }
e2e_check "tcp.smtp: 10.1.2.3 relays" 'rc 10.1.2.3 | grep -q "^set environment variable RELAYCLIENT=$"'
e2e_check "tcp.smtp: the partner is whitelisted (RBLCHECK empty)" 'rc 198.51.100.25 | grep -q "^set environment variable RBLCHECK=$"'
e2e_check "tcp.smtp: a range gets THROTTLE_RCPT=5" 'rc 203.0.113.9 | grep -q "^set environment variable THROTTLE_RCPT=5$"'
e2e_check "tcp.smtp: one host refused permanently" 'rc 192.0.2.66 | grep -q "^set environment variable RBLCHECK=-553 "'
e2e_check "tcp.smtp: others get nothing" '[ "$(rc 198.18.0.1 | grep -c "set environment")" -eq 0 ]'

# the systemd unit: the same tcpserver line as the run script
tail_line() { sed -n '/ 0 25 \\$/,/qmail-smtpd 2>&1/p' "$1" | sed 's/.* 0 25 \\$/0 25/; s/^ *//; s/'"'"'$//'; }
e2e_check "the unit runs the run script's chain" '[ -n "$(tail_line "$X/service/run")" ] && [ "$(tail_line "$X/service/run")" = "$(tail_line "$X/sdu-smtpd.service")" ]'
if command -v systemd-analyze > /dev/null 2>&1; then
  e2e_ok "systemd-analyze verify tools/examples/sdu-smtpd.service" systemd-analyze verify "$X/sdu-smtpd.service"
else
  e2e_skip "systemd-analyze verify" "systemd-analyze not installed"
fi

# section 4 and 7: the files, the recipient table from a qmail tree
sec4=$(sed -n '/^4. Users, directories, files/,/^5. The policy/p' "$E2E_TOP/INSTALL" | grep -E '^       (mkdir|chown|chmod|touch|echo) ' | sub)
e2e_check "INSTALL section 4: a state directory for qmaild, one and the review Maildir for alias" \
  'printf "%s\n" "$sec4" | grep -q "chown qmaild: $S/state " && printf "%s\n" "$sec4" | grep -q "chown -R alias: $S/state/spamgrab $S/state/relays "'
if [ -n "$USERS" ]; then
  e2e_ok "INSTALL section 4's commands as written (root)" sh -ec "$sec4"
  e2e_check "the chain's state directory is qmaild's, spamgrab's and the review Maildir alias's" \
    '[ "$(stat -c %U "$S/state")" = qmaild ] && [ "$(stat -c %U "$S/state/spamgrab")" = alias ] && [ "$(stat -c %U "$S/state/relays/new")" = alias ]'
else
  sh -c "$(printf '%s\n' "$sec4" | grep -v '^ *ch')"
  e2e_skip "INSTALL section 4's chown and chmod" "needs root, useradd and setpriv"
fi
# section 4: the site key, its rollover; group nofiles is qmail's, this machine may have none
grp=nofiles
getent group nofiles > /dev/null 2>&1 || grp=$(id -gn)
keycmds() { sed -n "/^   $1/,/^   $2/p" "$E2E_TOP/INSTALL" | grep '^       ' | sub | sed "s/chgrp nofiles /chgrp $grp /"; }
e2e_ok "INSTALL's key commands" sh -ec "$(keycmds 'The site key, ' 'Without a key')"
k1=$(cat "$S/etc/tagkey")
e2e_check "the key: 64 hex digits, mode 0640, group $grp, no temporary file left" \
  '[ "$(grep -cx "[0-9a-f]\{64\}" "$S/etc/tagkey")" -eq 1 ] && [ "$(wc -l < "$S/etc/tagkey")" -eq 1 ] && [ "$(stat -c %a:%G "$S/etc/tagkey")" = "640:$grp" ] && [ ! -e "$S/etc/tagkey.new" ]'
e2e_ok "INSTALL's rollover: a new key in front of the old" sh -ec "$(keycmds 'Changing the key' 'rblcheck signs with the new key')"
e2e_check "the rollover: two keys, the old one second, mode 0640" \
  '[ "$(sed -n 2p "$S/etc/tagkey")" = "$k1" ] && [ "$(grep -cx "[0-9a-f]\{64\}" "$S/etc/tagkey")" -eq 2 ] && [ "$(stat -c %a "$S/etc/tagkey")" = 640 ] && rblcheck -n -f "$S/etc/rblcheck.conf" -k "$S/etc/tagkey"'
k2=$(head -n 1 "$S/etc/tagkey")
e2e_ok "INSTALL's rollover: the old key dropped" sh -ec "$(keycmds 'rblcheck signs with the new key' 'Hosts whose messages')"
e2e_check "the rollover's end: the new key alone" '[ "$(cat "$S/etc/tagkey")" = "$k2" ] && [ "$k2" != "$k1" ] && [ "$(stat -c %a:%G "$S/etc/tagkey")" = "640:$grp" ]'
Q=$S/qmail
mkdir -p "$Q/control" "$Q/alias" "$Q/users"
echo mx.example.net > "$Q/control/me"; echo example.net > "$Q/control/locals"; echo example.net > "$Q/control/rcpthosts"
for a in postmaster alice bob; do echo "&$a@elsewhere.example" > "$Q/alias/.qmail-$a"; done
sh -c "$(grep "^       echo 'forged@" "$E2E_TOP/INSTALL" | sub)"
e2e_ok "rcptcheck-build -q on a qmail tree, as INSTALL shows" sh -c "$(grep '^       rcptcheck-build -q ' "$E2E_TOP/INSTALL" | sub | sed 's/rcptcheck-build -q/rcptcheck-build -P "" -q/')"
e2e_check "the table: alice and postmaster in, forged refused, nobody out" \
  'cdb -q "$S/etc/rcpt.cdb" alice@example.net > /dev/null && cdb -q "$S/etc/rcpt.cdb" postmaster@example.net > /dev/null &&
   cdb -q "$S/etc/rcpt.cdb" forged@example.net | grep -q "^-553" && ! cdb -q "$S/etc/rcpt.cdb" nobody@example.net > /dev/null'
printf 'carol@example.net\n@example.org\n' > "$S/etc/recipients"
e2e_ok "rcptcheck-build from a plain list" sh -c "$(grep '^       rcptcheck-build -f .* /etc/sdu/recipients$' "$E2E_TOP/INSTALL" | sub | sed 's/rcpt.cdb/list.cdb/')"
e2e_ok "the crontab's rcptcheck-build line" sh -c "$(grep ' rcptcheck-build ' "$X/crontab" | cut -d' ' -f6- | sub | sed 's/rcptcheck-build -q/rcptcheck-build -P "" -q/')"

# LDAP and SQL: INSTALL's lines, with the directory's or database's answer canned (tests/data/install/)
cp "$X/ldif-mail.sed" "$S/etc/ldif-mail.sed"
for q in ldapsearch psql mysql; do
  case $q in ldapsearch) in=ldapsearch.ldif ;; *) in=$q.out ;; esac
  line=$(grep "^       $q .* | rcptcheck-build -f /etc/sdu/rcpt.cdb\$" "$E2E_TOP/INSTALL" | sed 's/^ *//' | sub | sed "s|/rcpt.cdb\$|/$q.cdb|")
  e2e_check "INSTALL shows one $q line into rcptcheck-build" '[ "$(printf "%s\n" "$line" | grep -c .)" -eq 1 ]'
  e2e_ok "INSTALL's $q line on a canned answer" sh -c "${line#* | }" < "$E2E_TOP/tests/data/install/$in"
done
has() { cdb -q "$S/etc/$1.cdb" "$2" > /dev/null; }
e2e_check "ldapsearch: every mail: value in, long ones lower-cased" \
  'has ldapsearch dave@example.net && has ldapsearch d.smith@example.net && has ldapsearch erin.very-long-name.for-the-line-that-ldapsearch-would-wrap@example.net'
e2e_check "ldapsearch: mailAlternateAddress and a mail: inside another value stay out" \
  '! has ldapsearch dave.alt@example.net && ! has ldapsearch ghost@example.net && ! has ldapsearch dave@example.com'
e2e_check "psql: the addresses and the catch-all (@example.com) in, others out" \
  'has psql frank@example.net && has psql grace@example.net && has psql @example.com && ! has psql nobody@example.net'
e2e_check "mysql: the addresses in, others out" 'has mysql heidi@example.net && has mysql ivan@example.net && ! has mysql frank@example.net'

# spamgrab: the configuration, the .qmail line, the review routine
sub "$X/spamgrab.conf" | grep -v '^contactzone' > "$S/etc/spamgrab.conf"
printf 'inject %s/inject\nptr no\n' "$S" >> "$S/etc/spamgrab.conf"
mkdir "$S/outbox"
printf '#!/bin/sh\ncat > %s/outbox/$$\n' "$S" > "$S/inject"; chmod 755 "$S/inject"
line=$(sed -n 's/^|//p' "$X/dot-qmail-doublebounce" | sub)
md=$(grep '^          mkdir -p ~alias/Maildir/' "$E2E_TOP/INSTALL" | sub)
mkdir -p "$S/qmail/alias"
# as qmail-local runs it: as alias, in ~alias, the message without qmail-local's two lines, SENDER set
sed 1,2d "$E2E_TOP/tests/data/spamgrab/db01.eml" > "$S/db01.piped"
if [ -n "$USERS" ]; then
  e2e_ok "INSTALL's ~alias/Maildir command" sh -ec "$md"
  e2e_check "~alias/Maildir is alias's" '[ "$(stat -c %U "$S/qmail/alias/Maildir/new")" = alias ] && as alias test -w "$S/qmail/alias/Maildir/tmp"'
  chown alias: "$S/outbox"
  # day one, before any double-bounce: root tries a message (section 10c)
  # and root's cron publishes the zone (section 11); neither may leave
  # alias's spamgrab a file in its state directory that it cannot open
  try=$(grep '^          spamgrab -n -f ' "$E2E_TOP/INSTALL" | sub | sed "s|/path/to/a/double-bounce|$E2E_TOP/tests/data/spamgrab/db01.eml|")
  e2e_ok "day one: INSTALL's try-a-message line as root" sh -c "$try > /dev/null 2>&1; [ \$? -eq 99 ]"
  e2e_ok "day one: the crontab's zone line as root, an empty zone" sh -c "$(grep ' spamgrab .* -z ' "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//' | sub)"
  e2e_check "day one: spamgrab's state directory holds nothing of root's" '[ -z "$(find "$S/state/spamgrab" -user root)" ]'
  # ... but a hard link to another of root's files, put there by alias, stays root's
  mkdir "$S/linked" && chown alias: "$S/linked" && : > "$S/rootfile" && ln "$S/rootfile" "$S/linked/lock.mdb"
  sed "s|^state .*|state $S/linked|" "$S/etc/spamgrab.conf" > "$S/linked.conf"
  spamgrab -f "$S/linked.conf" -z > /dev/null 2>&1
  e2e_check "root's -z leaves a hard link to a file of root's in alias's directory root's" '[ "$(stat -c %U "$S/rootfile")" = root ]'
  (cd "$S/qmail/alias" && as alias SENDER='#@[]' sh -c "$line") < "$S/db01.piped" > /dev/null 2> "$S/spamgrab.log"
  sgrc=$?
else
  sh -ec "$md"
  (cd "$S/qmail/alias" && env SENDER='#@[]' sh -c "$line") < "$S/db01.piped" > /dev/null 2> "$S/spamgrab.log"
  sgrc=$?
fi
E2E_LAST=$S/spamgrab.log
e2e_check "the .qmail line: spamgrab takes a double bounce (99), reports it, saves one for review" \
  '[ "$sgrc" -eq 99 ] && [ "$(e2e_count "$S/outbox")" -eq 1 ] && [ "$(e2e_count "$S/state/relays/new")" -eq 1 ]'
sh -c "$(sed -n '/^          for f in /,/^          done/p' "$E2E_TOP/INSTALL" | sub)" 2>> "$S/spamgrab.log"
e2e_check "the review routine sends it and files it" '[ "$(e2e_count "$S/outbox")" -eq 2 ] && [ "$(e2e_count "$S/state/relays/cur")" -eq 1 ] && [ "$(e2e_count "$S/state/relays/new")" -eq 0 ]'
# tcpserver -l0: spamgrab says by=0, and the morning summary (the crontab's
# line, reading qmail-send's log too) warns about it
sed 1,2d "$E2E_TOP/tests/data/spamgrab/sdu-db01.eml" > "$S/l0.piped"
if [ -n "$USERS" ]; then
  (cd "$S/qmail/alias" && as alias SENDER='#@[]' sh -c "$line") < "$S/l0.piped" > /dev/null 2> "$S/l0.log"
else
  (cd "$S/qmail/alias" && env SENDER='#@[]' sh -c "$line") < "$S/l0.piped" > /dev/null 2> "$S/l0.log"
fi
l0rc=$?
e2e_check "a double-bounce of a chain run with tcpserver -l0: exit 0, by=0 in spamgrab's line" \
  '[ "$l0rc" -eq 0 ] && grep -q "reason=no-trusted-received by=0" "$S/l0.log"'
# qmail-send logs qmail-local's report with _ for blanks and / for line ends
printf '@400000006a2e5c3a00000000 delivery 4: success: %s/did_1+0+0/\n' "$(grep '^spamgrab: ' "$S/l0.log" | tr ' ' _)" > "$S/qlog/current"
cmd=$(grep ' sdu-report -s ' "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//; s/ | .*//' | sub)
e2e_check "the crontab's summary reads qmail-send's log: spamgrab's message counted, the by=0 warning" \
  '[ -n "$cmd" ] && sh -c "$(printf "%s" "$cmd" | sed "s/^sdu-report /sdu-report -a /")" > "$S/l0.sum" && grep -q "^spamgrab: 1 messages" "$S/l0.sum" && grep -q "WARNING: Received lines \"by\" a name" "$S/l0.sum" && grep -q "^    0  " "$S/l0.sum"'
e2e_ok "the crontab's zone line" sh -c "$(grep ' spamgrab .* -z ' "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//' | sub)"
e2e_check "the zone names the reported host" 'grep -qx 198.51.100.7 "$S/rbldnsd/spamgrab"'

# log/run's multilog (without setuidgid: no qmaill here) on a scratch directory, then sdu-report reads it
ml=$(sed -n 's/^exec setuidgid qmaill \(multilog .*\)/\1/p' "$X/service/log/run" | sub | sed "s|$S/log\$|$S/mlog|")
{ i=0; while [ $i -lt 31 ]; do
    echo "rblcheck: ip=192.0.2.7 lists=dul action=reject rule=1"
    echo "rblcheck: ip=2001:db8::5 lists=dul action=reject rule=1"
    echo "rblcheck: ip=198.51.100.2 lists=- action=pass"
    i=$((i + 1))
  done
  echo "throttle: ip=192.0.2.8 lists=- action=tempfail reason=rate conn=31"; } > "$S/mlog.in"
if ! command -v multilog > /dev/null 2>&1; then
  e2e_skip "log/run's multilog" "multilog not installed (daemontools; sh tools/deps.sh)"
else
  if [ -n "$USERS" ]; then
    # as log/run runs it: setuidgid qmaill, into the directory INSTALL makes for it
    mld=$(grep '^       mkdir -p /var/log/smtpd ' "$E2E_TOP/INSTALL" | sub | sed "s|$S/log |$S/mlog |g; s|$S/log\$|$S/mlog|")
    e2e_ok "INSTALL's command for multilog's directory" sh -ec "$mld"
    e2e_ok "log/run's multilog command, as qmaill, takes lines on stdin" sh -c "[ -n \"\$1\" ] && exec setuidgid qmaill \$1" ml "$ml" < "$S/mlog.in"
  else
    e2e_ok "log/run's multilog command takes lines on stdin" sh -c "[ -n \"\$1\" ] && exec \$1" ml "$ml" < "$S/mlog.in"
  fi
  e2e_check "multilog's current has every line, each with a @tai64n stamp" \
    '[ "$(grep -c "^@4[0-9a-f]\{23\} [a-z]*: ip=" "$S/mlog/current")" -eq "$(wc -l < "$S/mlog.in")" ] && [ "$(wc -l < "$S/mlog/current")" -eq 94 ]'
  e2e_check "sdu-report -s reads multilog's directory" \
    'sdu-report -p 1h -s "$S/mlog" > "$S/mlog.sum" && grep -q "^connections: 94 from 4 hosts" "$S/mlog.sum"'
  # section 11: the crontab's metrics line (into a textfile directory of our own) and its mail line
  for w in ' sdu-report -P ' ' sdu-report -M '; do
    cron=$(grep -F "$w" "$X/crontab")
    e2e_check "INSTALL shows the crontab's${w}line" '[ -n "$cron" ] && grep -qxF "       $cron" "$E2E_TOP/INSTALL"'
  done
  mkdir -p "$S/textfile"
  cmd=$(grep ' sdu-report -P ' "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//' | sub |
    sed "s|/var/lib/prometheus/node-exporter|$S/textfile|; s|$S/log |$S/mlog |")
  e2e_check "the crontab's metrics line: node_exporter's file, every connection counted" \
    '[ -n "$cmd" ] && sh -c "$cmd" && grep -qx "sdu_connections_total{link=\"rblcheck\",action=\"reject\"} 62" "$S/textfile/sdu.prom"'
  e2e_check "  ... run again, it counts nothing twice" \
    'sh -c "$cmd" && grep -qx "sdu_connections_total{link=\"rblcheck\",action=\"reject\"} 62" "$S/textfile/sdu.prom"'
  cmd=$(grep ' sdu-report -M ' "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//; s/ | .*//' | sub | sed "s|$S/log |$S/mlog |")
  e2e_check "the crontab's morning mail: to postmaster, the page inline" \
    '[ -n "$cmd" ] && sh -c "$cmd" > "$S/morning.mail" && grep -q "^To: postmaster\$" "$S/morning.mail" && grep -q "^Content-Type: text/html" "$S/morning.mail" && grep -q "<svg " "$S/morning.mail"'
fi

# the firewall, section 11: INSTALL's nft set, then the crontab's sdu-report -n line into it, in a namespace of our own
NS=sdu-inst-$$
cron=$(grep ' sdu-report -n ' "$X/crontab")
e2e_check "INSTALL shows the crontab's sdu-report -n line" '[ -n "$cron" ] && grep -qxF "       $cron" "$E2E_TOP/INSTALL"'
if ! command -v nft > /dev/null 2>&1; then
  e2e_skip "INSTALL's nft set" "nft not installed (nftables; sh tools/deps.sh)"
elif ! command -v multilog > /dev/null 2>&1; then
  e2e_skip "INSTALL's nft set" "no multilog directory to report on"
elif ! ip netns add "$NS" 2> "$S/netns.err"; then
  e2e_skip "INSTALL's nft set" "ip netns add failed: $(head -n 1 "$S/netns.err")"
  e2e_skip "the crontab's sdu-report -n | nft -f - line" "no network namespace"
else
  NS_MADE=1
  nfts=$(sed -n '/^   Once, the nft set/,/^   Then root/p' "$E2E_TOP/INSTALL" | sed -n "s/^       nft /ip netns exec $NS nft /p")
  e2e_check "INSTALL shows six nft commands" '[ "$(printf "%s\n" "$nfts" | grep -c .)" -eq 6 ]'
  e2e_ok "INSTALL's nft set, in namespace $NS" sh -ec "$nfts"
  e2e_check "the rules drop port 25 from both sets" \
    'ip netns exec "$NS" nft list chain inet sdu input > "$S/nft.chain" && grep -q "tcp dport 25 ip saddr @blocked drop" "$S/nft.chain" && grep -q "tcp dport 25 ip6 saddr @blocked6 drop" "$S/nft.chain"'
  line=$(printf '%s\n' "$cron" | cut -d' ' -f6- | sed 's/^ *//' | sub | sed "s|$S/log |$S/mlog |; s/| nft -f -\$/| ip netns exec $NS nft -f -/")
  e2e_ok "the crontab's sdu-report -n | nft -f - line" sh -ec "case \$1 in *mlog' | ip netns exec '*) eval \"\$1\" ;; *) exit 1 ;; esac" nl "$line"
  ip netns exec "$NS" nft list set inet sdu blocked > "$S/nft.blocked" 2>&1
  ip netns exec "$NS" nft list set inet sdu blocked6 > "$S/nft.blocked6" 2>&1
  E2E_LAST=$S/nft.blocked
  e2e_check "nft: the refused host is in the set with a 6h timeout" 'grep -q "192\.0\.2\.7 timeout 6h" "$S/nft.blocked"'
  e2e_check "nft: the host refused once and the one passed are not" '! grep -q "192\.0\.2\.8\|198\.51\.100\.2" "$S/nft.blocked"'
  E2E_LAST=$S/nft.blocked6
  e2e_check "nft: the IPv6 host is in blocked6 with a 6h timeout" 'grep -q "2001:db8::5 timeout 6h" "$S/nft.blocked6"'
fi

# the run script against the scratch directory: rbldnsd for the lists,
# smtpsink in qmail-smtpd's place, the chain as qmaild (tcpserver -u, -g)
if [ "$(id -u)" -ne 0 ]; then e2e_skip "the run script" "needs root (port 53)"; exit 0; fi
e2e_need_prog tcpserver rbldnsd swaks ss setsid
dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
# .14: Spamhaus' "you may not query" answer, for section 13's message
printf ':127.0.0.2:sbl\n%s.11\n%s.12 :127.0.0.10:pbl\n%s.14 :127.255.255.254:refused\n' "$base" "$base" "$base" > "$S/rbldnsd/zen"
printf '%s.13\n' "$base" > "$S/rbldnsd/spamcop"
chmod 755 "$S" "$S/rbldnsd"; chmod 644 "$S/rbldnsd/"*
e2e_ok "rbldnsd with ZEN, SpamCop and spamgrab's zone" e2e_rbldnsd "$dns" zen.spamhaus.org:ip4set:"$S/rbldnsd/zen" \
  bl.spamcop.net:ip4set:"$S/rbldnsd/spamcop" spamgrab.example.net:ip4set:"$S/rbldnsd/spamgrab" || exit 1
# section 13: every message INSTALL quotes, provoked here and compared with
# what the program printed ("..." in INSTALL stands for what varies)
if [ -z "$USERS" ]; then
  e2e_skip "INSTALL section 13's messages" "needs root and the users qmaild and alias"
else
  M=$S/msgs
  : > "$M"
  n13=0
  # r13: a fresh root for one case, $R/etc/sdu, $R/var/lib/sdu, $R/var/qmail; keep: its output with $R taken off
  r13() {
    n13=$((n13 + 1)); R=$S/r$n13
    mkdir -p "$R/etc/sdu" "$R/var/lib/sdu" "$R/var/qmail/control" "$R/var/qmail/users"
  }
  keep() { sed "s|$S/r[0-9]*||g" >> "$M"; }
  sgconf() { printf 'me mx.example.net\nstate %s\nreview %s\ninject /bin/true\nptr no\noperator sbl sbl@lists.test\n' "$1" "$2" > "$R/etc/sdu/spamgrab.conf"; }
  r13; printf 'list sbl zen.spamhaus.org =127.0.0.2-127.0.0.3\nrule bogus\n' > "$R/etc/sdu/rblcheck.conf"
  rblcheck -n -f "$R/etc/sdu/rblcheck.conf" 2>&1 | keep
  r13; printf 'list sbl zen.spamhaus.org =127.0.0.2-127.0.0.3\nrule sbl reject\nrule any tag\n' > "$R/etc/sdu/rblcheck.conf"
  env DNSCACHEIP="$dns" TCPREMOTEIP="$base.14" rblcheck -f "$R/etc/sdu/rblcheck.conf" true < /dev/null 2>&1 | keep
  env DNSCACHEIP="$(e2e_free_addr)" TCPREMOTEIP=192.0.2.9 rblcheck -t 1 -f "$R/etc/sdu/rblcheck.conf" true < /dev/null 2>&1 | keep
  env RBLCHECK= TCPREMOTEIP=192.0.2.9 rblcheck -f "$R/etc/sdu/rblcheck.conf" "$R/var/qmail/bin/qmail-smtpd" < /dev/null 2>&1 | keep
  # the chain's directory holding files that alias made (the old shared directory)
  r13; chown alias: "$R/var/lib/sdu"
  as alias TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null > /dev/null 2>&1
  chown qmaild: "$R/var/lib/sdu"
  as qmaild TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null 2>&1 | keep
  r13; rmdir "$R/var/lib/sdu"
  env TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null 2>&1 | keep
  r13; echo garbage > "$R/var/lib/sdu/data.mdb"
  env TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null 2>&1 | keep
  env TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=abc throttle -d "$R/var/lib/sdu" true < /dev/null 2>&1 | keep
  env TCPREMOTEIP=192.0.2.9 rcptcheck -f "$R/etc/sdu/rcpt.cdb" true < /dev/null 2>&1 | keep
  # counted addresses (-e -d) with a state directory that is not there
  echo alice@example.net | rcptcheck-build -f "$R/etc/sdu/rcpt.cdb" 2> /dev/null
  env TCPREMOTEIP=192.0.2.9 rcptcheck -f "$R/etc/sdu/rcpt.cdb" -e -d "$R/var/lib/sdu/none" true < /dev/null 2>&1 | keep
  # SDU_BARELF=reject and a message with a bare LF
  mkdir -p "$R/sink"
  printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\nbody\nmore\r\n.\r\nQUIT\r\n' |
    env SDU_BARELF=reject TCPREMOTEIP=192.0.2.9 rcptcheck -f "$R/etc/sdu/rcpt.cdb" "$E2E_TOP/tests/smtpsink" -d "$R/sink" 2>&1 > /dev/null | keep
  # HTTP to port 25: through the proxy, and to rblcheck's responder (a listed client)
  r13; printf 'list sbl zen.spamhaus.org =127.0.0.2-127.0.0.3\nrule sbl reject\n' > "$R/etc/sdu/rblcheck.conf"
  printf 'GET / HTTP/1.1\r\nHost: mx.example.net\r\n\r\n' |
    env TCPREMOTEIP=192.0.2.9 rcptcheck -f "$R/etc/sdu/rcpt.cdb" "$E2E_TOP/tests/smtpsink" 2>&1 | keep
  printf 'GET / HTTP/1.1\r\nHost: mx.example.net\r\n\r\n' |
    env DNSCACHEIP="$dns" TCPREMOTEIP="$base.11" rblcheck -f "$R/etc/sdu/rblcheck.conf" true 2>&1 | keep
  # the state directory on a full file system (a 64 KiB tmpfs filled up)
  r13
  if mount -t tmpfs -o size=64k sdu-install "$R/var/lib/sdu" 2> /dev/null; then
    dd if=/dev/zero of="$R/var/lib/sdu/fill" bs=4k 2> /dev/null
    env TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null 2>&1 | keep
    umount "$R/var/lib/sdu"
  fi
  # a damaged table: a valid header over garbage records
  echo alice@example.net | rcptcheck-build -f "$R/etc/sdu/rcpt.cdb" 2> /dev/null
  head -c 64 /dev/zero | tr '\000' '\377' | dd of="$R/etc/sdu/rcpt.cdb" bs=1 seek=2048 conv=notrunc 2> /dev/null
  env TCPREMOTEIP=192.0.2.9 rcptcheck -f "$R/etc/sdu/rcpt.cdb" true < /dev/null 2>&1 | keep
  r13; echo example.net > "$R/var/qmail/control/locals"; echo example.net > "$R/var/qmail/control/rcpthosts"
  printf 'bogus line\n.\n' > "$R/var/qmail/users/assign"
  rcptcheck-build -P "" -q -f "$R/etc/sdu/rcpt.cdb" "$R/var/qmail" 2>&1 | keep
  # spamgrab pointed at the chain's state directory, whose files are qmaild's
  r13; chown qmaild: "$R/var/lib/sdu"
  as qmaild TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=30/60 throttle -d "$R/var/lib/sdu" true < /dev/null > /dev/null 2>&1
  sgconf "$R/var/lib/sdu" "$R/var/lib/sdu/relays"
  (cd / && as alias SENDER='#@[]' spamgrab -f "$R/etc/sdu/spamgrab.conf") < "$S/db01.piped" 2>&1 | keep
  # the review Maildir left to root
  r13; mkdir -p "$R/var/lib/sdu/spamgrab" "$R/var/lib/sdu/relays/tmp" "$R/var/lib/sdu/relays/new" "$R/var/lib/sdu/relays/cur"
  chown alias: "$R/var/lib/sdu/spamgrab"
  sgconf "$R/var/lib/sdu/spamgrab" "$R/var/lib/sdu/relays"
  (cd / && as alias SENDER='#@[]' spamgrab -f "$R/etc/sdu/spamgrab.conf") < "$S/db01.piped" 2>&1 | keep
  (cd / && as alias SENDER='#@[]' spamgrab -f "$R/etc/sdu/spamgrab.conf") < "$S/l0.piped" 2>&1 | keep
  sed 1,2d "$E2E_TOP/tests/data/spamgrab/single-01.eml" | (cd / && as alias SENDER= spamgrab -f "$R/etc/sdu/spamgrab.conf") 2>&1 | keep
  # a malformed key file; a tag without a MAC under a key
  r13; echo nothex > "$R/etc/sdu/tagkey"; printf 'list sbl zen.spamhaus.org =127.0.0.2-127.0.0.3\nrule sbl reject\n' > "$R/etc/sdu/rblcheck.conf"
  rblcheck -n -f "$R/etc/sdu/rblcheck.conf" -k "$R/etc/sdu/tagkey" 2>&1 | keep
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$R/etc/sdu/tagkey"; echo >> "$R/etc/sdu/tagkey"
  mkdir -p "$R/var/lib/sdu/spamgrab" "$R/var/lib/sdu/relays/tmp" "$R/var/lib/sdu/relays/new" "$R/var/lib/sdu/relays/cur"
  chown -R alias: "$R/var/lib/sdu/spamgrab" "$R/var/lib/sdu/relays"; chown alias: "$R/etc/sdu/tagkey"
  sgconf "$R/var/lib/sdu/spamgrab" "$R/var/lib/sdu/relays"; echo "tagkey $R/etc/sdu/tagkey" >> "$R/etc/sdu/spamgrab.conf"
  sed 1,2d "$E2E_TOP/tests/data/spamgrab/sdu-db06.eml" | (cd / && as alias SENDER='#@[]' spamgrab -f "$R/etc/sdu/spamgrab.conf") 2>&1 | keep
  sed -n '/^13. Troubleshooting/,$p' "$E2E_TOP/INSTALL" | grep -E '^   [a-z-]+: ' | sed 's/^   //' > "$S/m13"
  e2e_check "INSTALL section 13 quotes the messages of every program ($(wc -l < "$S/m13"))" \
    'for p in rblcheck throttle rcptcheck rcptcheck-build spamgrab; do grep -q "^$p: " "$S/m13" || exit 1; done'
  bad13=
  while IFS= read -r m; do
    awk -v m="$m" 'BEGIN { n = split(m, p, /\.\.\./) }
      { s = $0; ok = 1
        for (i = 1; i <= n; ++i) {
          if (p[i] == "") continue
          k = index(s, p[i])
          if (!k || (i == 1 && k != 1)) { ok = 0; break }
          s = substr(s, k + length(p[i]))
        }
        if (ok) { f = 1; exit } }
      END { exit !f }' "$M" || bad13="$bad13
#   $m"
  done < "$S/m13"
  E2E_LAST=$M
  e2e_check "every message INSTALL section 13 quotes is what a program printed" '[ -z "$bad13" ] || { echo "# not printed:$bad13"; false; }'
fi

mkdir -p "$S/sink"
if [ -n "$USERS" ]; then chown qmaild: "$S/sink"; asroot=; else asroot='s/id -\([ug]\) qmaild/id -\1/'; fi
port=$(e2e_free_port) || exit 1
sub "$X/service/run" | sed -e "${asroot:-s/^//}" -e "s| 0 25 | 127.0.0.1 $port |" \
  -e "s|^#DNSCACHEIP=127.0.0.1; export DNSCACHEIP|DNSCACHEIP=$dns; export DNSCACHEIP|" -e "s|$S/qmail/bin/qmail-smtpd|smtpsink -d $S/sink|" > "$S/run"
e2e_check "the run script names its resolver in the line INSTALL shows" 'grep -q "^DNSCACHEIP=$dns; export DNSCACHEIP$" "$S/run"' 
setsid sh "$S/run" >> "$S/smtpd.log" 2>&1 < /dev/null &
pid=$!
e2e_remember "$pid" run
e2e_ok "the run script's tcpserver listens" e2e_wait 100 e2e_listening "$pid" "$port" || exit 1
E2E_PORT=$port
e2e_swaks --local-interface "$base.10" --from a@example.org --to alice@example.net
e2e_check "a clean client's message is taken" 'grep -q "^<-  250 ok queued as" "$E2E_LAST"'
e2e_swaks --local-interface "$base.10" --from a@example.org --to nobody@example.net
e2e_check "rcptcheck refuses an unknown recipient" 'grep -q "^<\*\* 550 5.1.1" "$E2E_LAST"'
e2e_swaks --local-interface "$base.11" --from a@example.org --to alice@example.net
e2e_check "an SBL client (127.0.0.2) is refused with 553" 'grep -q "^<\*\* 553 sorry, $base.11 is listed in sbl" "$E2E_LAST"'
e2e_swaks --local-interface "$base.12" --from a@example.org --to alice@example.net,bob@example.net
e2e_check "a PBL client (127.0.0.10) gets one recipient" 'grep -q "^<\*\* 451 4.7.1 too many recipients" "$E2E_LAST" && grep -q "^<-  250 ok queued as" "$E2E_LAST"'
e2e_check "the PBL client's message carries our tag, signed with the key (python3 hmac)" \
  't=$(grep -h "^X-RBLCheck: ip=$base.12 " "$S"/sink/* | head -n 1 | tr -d "\r"); f=${t#X-RBLCheck: }; f=${f% mac=*}; [ -n "$t" ] &&
   [ "${t##* mac=}" = "$(python3 -c "import hmac, hashlib, sys; print(hmac.new(bytes.fromhex(sys.argv[2]), sys.argv[1].encode(), hashlib.sha256).hexdigest())" "$f" "$(head -n 1 "$S/etc/tagkey")")" ]'
# throttle writes its line when the session is over, after the client's 221
throttled() { grep -q "^throttle: ip=$base.12 " "$S/smtpd.log"; }
e2e_wait 50 throttled
e2e_check "the log has every link's decision lines" \
  'grep -q "^rblcheck: ip=$base.12 lists=pbl " "$S/smtpd.log" && grep -q "^throttle: ip=$base.12 " "$S/smtpd.log" && grep -q "^rcptcheck: ip=$base.10 " "$S/smtpd.log"'
e2e_check "tcpserver names us as control/me does (-l): qmail-smtpd would write \"by mx.example.net\"" \
  'grep -q "^tcpserver: ok [0-9]* mx.example.net:[:f]*127.0.0.1:$port " "$S/smtpd.log"'
if [ -n "$USERS" ]; then
  e2e_check "the chain ran as qmaild: its state files are qmaild's" '[ "$(stat -c %U "$S/state/data.mdb")" = qmaild ] && [ "$(stat -c %U "$S/state/lock.mdb")" = qmaild ]'
else
  e2e_skip "the chain as qmaild" "needs root, useradd and setpriv"
fi
e2e_stop "$pid"
cp "$S/smtpd.log" "$S/log/current"
for c in "sdu-report -n -p 1h -m 30" "sdu-report -s"; do
  cmd=$(grep " $c " "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//; s/ | .*//' | sub)
  e2e_check "the crontab's $c line on the run's log" '[ -n "$cmd" ] && sh -c "$cmd" > "$S/report.out" && { [ "$c" != "sdu-report -s" ] || grep -q "^connections: 4 from 3 hosts" "$S/report.out"; }'
done
