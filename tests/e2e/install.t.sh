#!/bin/sh
# tests/e2e/install.t.sh: INSTALL's files (tools/examples/) and commands, run against a scratch directory
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init install
e2e_need_prog tcprules tcprulescheck cdb
X=$E2E_TOP/tools/examples
S=$E2E_DIR
mkdir -p "$S/etc" "$S/state" "$S/log" "$S/rbldnsd" "$S/state/relays/tmp" "$S/state/relays/new" "$S/state/relays/cur"
# sub: INSTALL's paths made the scratch directory's
sub() {
  sed -e "s|/etc/tcp.smtp|$S/tcp.smtp|g" -e "s|/etc/sdu|$S/etc|g" -e "s|/var/lib/sdu|$S/state|g" \
    -e "s|/var/lib/rbldnsd|$S/rbldnsd|g" -e "s|/var/log/smtpd|$S/log|g" -e "s|/var/qmail/control/concurrencyincoming|$S/none|g" \
    -e "s|/usr/local/bin/||g" -e "s|/var/qmail|$S/qmail|g" "$@"
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
sh -c "$(sed -n '/^   be writable by it/,/^   (If/p' "$E2E_TOP/INSTALL" | grep -E '^       (touch|echo)' | sub)"
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
sh -c "$line" < "$E2E_TOP/tests/data/spamgrab/db01.eml" > /dev/null 2> "$S/spamgrab.log"
sgrc=$?
e2e_check "the .qmail line: spamgrab takes a double bounce (99), reports it, saves one for review" \
  '[ "$sgrc" -eq 99 ] && [ "$(e2e_count "$S/outbox")" -eq 1 ] && [ "$(e2e_count "$S/state/relays/new")" -eq 1 ]'
sh -c "$(sed -n '/^          for f in /,/^          done/p' "$E2E_TOP/INSTALL" | sub)" 2>> "$S/spamgrab.log"
e2e_check "the review routine sends it and files it" '[ "$(e2e_count "$S/outbox")" -eq 2 ] && [ "$(e2e_count "$S/state/relays/cur")" -eq 1 ] && [ "$(e2e_count "$S/state/relays/new")" -eq 0 ]'
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
  e2e_ok "log/run's multilog command takes lines on stdin" sh -c "[ -n \"\$1\" ] && exec \$1" ml "$ml" < "$S/mlog.in"
  e2e_check "multilog's current has every line, each with a @tai64n stamp" \
    '[ "$(grep -c "^@4[0-9a-f]\{23\} [a-z]*: ip=" "$S/mlog/current")" -eq "$(wc -l < "$S/mlog.in")" ] && [ "$(wc -l < "$S/mlog/current")" -eq 94 ]'
  e2e_check "sdu-report -s reads multilog's directory" \
    'sdu-report -p 1h -s "$S/mlog" > "$S/mlog.sum" && grep -q "^connections: 94 from 4 hosts" "$S/mlog.sum"'
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
  trap '_i_rc=$?; ip netns del "$NS" 2> /dev/null; (exit "$_i_rc"); e2e_exit' EXIT
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

# the run script against the scratch directory: rbldnsd for the lists, exim4 -bs for qmail-smtpd
if [ "$(id -u)" -ne 0 ]; then e2e_skip "the run script" "needs root (port 53, exim4 -C)"; exit 0; fi
e2e_need_prog tcpserver rbldnsd exim4 swaks ss setsid
dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
printf ':127.0.0.2:sbl\n%s.11\n%s.12 :127.0.0.10:pbl\n' "$base" "$base" > "$S/rbldnsd/zen"
printf '%s.13\n' "$base" > "$S/rbldnsd/spamcop"
chmod 755 "$S" "$S/rbldnsd"; chmod 644 "$S/rbldnsd/"*
e2e_ok "rbldnsd with ZEN, SpamCop and spamgrab's zone" e2e_rbldnsd "$dns" zen.spamhaus.org:ip4set:"$S/rbldnsd/zen" \
  bl.spamcop.net:ip4set:"$S/rbldnsd/spamcop" spamgrab.example.net:ip4set:"$S/rbldnsd/spamgrab" || exit 1
e2e_exim_conf || exit 1
port=$(e2e_free_port) || exit 1
sub "$X/service/run" | sed -e 's/id -\([ug]\) qmaild/id -\1/' -e "s| 0 25 | 127.0.0.1 $port |" \
  -e "s|^exec tcpserver|DNSCACHEIP=$dns; export DNSCACHEIP; exec tcpserver|" -e "s|$S/qmail/bin/qmail-smtpd|$(e2e_exim_cmd)|" > "$S/run"
setsid sh "$S/run" >> "$S/smtpd.log" 2>&1 < /dev/null &
pid=$!
e2e_remember "$pid" run
e2e_ok "the run script's tcpserver listens" e2e_wait 100 e2e_listening "$pid" "$port" || exit 1
E2E_PORT=$port
e2e_swaks --local-interface "$base.10" --from a@example.org --to alice@example.net
e2e_check "a clean client's message is taken" 'grep -q "^<-  250 OK id=" "$E2E_LAST"'
e2e_swaks --local-interface "$base.10" --from a@example.org --to nobody@example.net
e2e_check "rcptcheck refuses an unknown recipient" 'grep -q "^<\*\* 550 5.1.1" "$E2E_LAST"'
e2e_swaks --local-interface "$base.11" --from a@example.org --to alice@example.net
e2e_check "an SBL client (127.0.0.2) is refused with 553" 'grep -q "^<\*\* 553 sorry, $base.11 is listed in sbl" "$E2E_LAST"'
e2e_swaks --local-interface "$base.12" --from a@example.org --to alice@example.net,bob@example.net
e2e_check "a PBL client (127.0.0.10) gets one recipient" 'grep -q "^<\*\* 451 4.7.1 too many recipients" "$E2E_LAST" && grep -q "^<-  250 OK id=" "$E2E_LAST"'
# throttle writes its line when the session is over, after the client's 221
throttled() { grep -q "^throttle: ip=$base.12 " "$S/smtpd.log"; }
e2e_wait 50 throttled
e2e_check "the log has every link's decision lines" \
  'grep -q "^rblcheck: ip=$base.12 lists=pbl " "$S/smtpd.log" && grep -q "^throttle: ip=$base.12 " "$S/smtpd.log" && grep -q "^rcptcheck: ip=$base.10 " "$S/smtpd.log"'
e2e_stop "$pid"
cp "$S/smtpd.log" "$S/log/current"
for c in "sdu-report -n -p 1h -m 30" "sdu-report -s"; do
  cmd=$(grep " $c " "$X/crontab" | cut -d' ' -f6- | sed 's/^ *//; s/ | .*//' | sub)
  e2e_check "the crontab's $c line on the run's log" '[ -n "$cmd" ] && sh -c "$cmd" > "$S/report.out" && { [ "$c" != "sdu-report -s" ] || grep -q "^connections: 4 from 3 hosts" "$S/report.out"; }'
done
