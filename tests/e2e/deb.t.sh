#!/bin/sh
# tests/e2e/deb.t.sh: the Debian package (debian/, README.Debian). make deb builds it (and
# its source package) in a copy of the tree; lintian passes both, errors and warnings only
# where debian/sdu.lintian-overrides says why; dpkg -i installs it; the installed programs
# check the example policy (rblcheck -n) and run SMTP sessions under tcpserver, started by
# the service's own launcher with a configuration of the test's, in front of exim4 -bs;
# dpkg -r leaves only the conffiles and the state directory, dpkg -P nothing (dpkg -L's
# list, and find -cnewer a stamp over the package's names). Root only: it installs into
# /usr/bin, /etc and /var/lib. The other tests run the build tree's programs, never
# /usr/bin's (they put the build tree first in PATH and name sdu-chain by its path).
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init deb
e2e_need_root "dpkg -i installs into /usr/bin, /etc, /var/lib"
# the package is built by debian/rules from a clean copy, the same in every pass of
# make check: the sanitizer and musl passes leave it to the first
if [ "${SDU_SANITIZE:-}" = 1 ]; then
  e2e_skip deb "the package is debian/rules' glibc build, not this pass's (SANITIZE=1): the first pass of make check tests it"
  exit 0
fi
case " ${MAKEFLAGS:-} " in *LIBC=musl*)
  e2e_skip deb "the package is debian/rules' glibc build, not this pass's (LIBC=musl, README.Debian): the first pass of make check tests it"
  exit 0 ;;
esac
e2e_need_prog dpkg-buildpackage dh lintian tcpserver tcprules swaks rbldnsd exim4 flock
T=$E2E_TOP
D=$E2E_DIR
chmod 755 "$D"

# one run of this test at a time on a machine (another checkout's make check)
exec 9> /tmp/sdu-deb-test.lock && flock -w 900 9 ||
  { e2e_skip deb "another run of deb.t.sh holds /tmp/sdu-deb-test.lock"; exit 0; }
st=$(dpkg-query -W -f='${db:Status-Status}' sdu 2> /dev/null)
case "$st" in ''|not-installed) ;; *)
  e2e_skip deb "a package sdu is on this machine ($st): not touching it"; exit 0 ;;
esac
st=$(dpkg-query -W -f='${db:Status-Status}' rblcheck 2> /dev/null)
case "$st" in ''|not-installed) ;; *)
  e2e_skip deb "Debian's rblcheck is installed (sdu conflicts with it)"; exit 0 ;;
esac

# dpk ARGS: dpkg ARGS, again while apt or another dpkg holds dpkg's lock (up to 5 minutes)
dpk() {
  _n=0
  while :; do
    dpkg "$@" > "$D/dpkg.out" 2>&1 && return 0
    grep -q 'locked' "$D/dpkg.out" || return 1
    _n=$((_n + 1))
    [ $_n -lt 300 ] || return 1
    sleep 1
  done
}
status() { dpkg-query -W -f='${db:Status-Status}' sdu 2> /dev/null; }
# if the test stops half-way, the package goes with it
trap '_d_rc=$?; [ -z "$(status | grep -v not-installed)" ] || dpk -P sdu; (exit "$_d_rc"); e2e_exit' EXIT

# --- build and lint ----------------------------------------------------------------------
V=$(dpkg-parsechangelog -l "$T/debian/changelog" -S Version)
A=$(dpkg --print-architecture)
DEB=$D/sdu_${V}_$A.deb
# git status before and after (tests/tmp aside: this test's own files are there)
gitst() {
  if [ -e "$T/.git" ] && command -v git > /dev/null 2>&1; then
    (cd "$T" && git status --porcelain --ignored 2> /dev/null | grep -v ' tests/tmp/')
  fi
}
gitst > "$D/git.before"
E2E_LAST=$D/make.log
(cd "$T" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s deb DEBOUT="$D" DEBFLAGS=) > "$D/make.log" 2>&1
e2e_check "make deb builds sdu_${V}_$A.deb and the source package in DEBOUT" \
  '[ -s "$DEB" ] && [ -s "$D/sdu_$V.dsc" ] && [ -s "$D/sdu_${V}_$A.changes" ]' || exit 1
gitst > "$D/git.after"
E2E_LAST=$D/git.after
e2e_check "make deb leaves the tree as it was: git status the same, no debian/sdu, debian/files, ..., no copy" \
  'cmp -s "$D/git.before" "$D/git.after" && [ ! -e "$T/debian/sdu" ] && [ ! -e "$T/debian/files" ] && [ ! -e "$T/debian/.debhelper" ] &&
   [ -z "$(ls -d "$D"/sdu-deb.* 2> /dev/null)" ]'
E2E_LAST=$D/lintian.out
lintian --fail-on error,warning "$D/sdu_${V}_$A.changes" > "$D/lintian.out" 2>&1
rc=$?
e2e_check "lintian: no error or warning in the package and its source but those overridden" \
  '[ "$rc" -eq 0 ] && ! grep -q "^[EW]: " "$D/lintian.out"'
bytes=$(stat -c %s "$DEB")
isize=$(dpkg-deb -f "$DEB" Installed-Size)
echo "# the package: $bytes bytes, Installed-Size $isize KiB"

# --- install -----------------------------------------------------------------------------
stamp=$D/stamp
: > "$stamp"
getent passwd > "$D/passwd.before"; getent group > "$D/group.before"
sleep 1
E2E_LAST=$D/dpkg.out
e2e_ok "dpkg -i" dpk -i "$DEB" || exit 1
e2e_check "installed" '[ "$(status)" = installed ]'
dpkg -L sdu > "$D/list"
dpkg-query -W -f='${Conffiles}\n' sdu | awk 'NF { print $1 }' | sort > "$D/conffiles"
printf '%s\n' /etc/default/sdu /etc/sdu/bigsenders /etc/sdu/bouncewhite /etc/sdu/rblcheck.conf /etc/sdu/spamgrab.conf > "$D/conffiles.want"
E2E_LAST=$D/conffiles
e2e_check "the conffiles: /etc/default/sdu and the example /etc/sdu" 'cmp -s "$D/conffiles" "$D/conffiles.want"'
B=/usr/bin
e2e_check "rblcheck, throttle and rcptcheck are hard links to /usr/bin/sdu-chain, statically linked" \
  '[ "$(ls -i $B/sdu-chain $B/rblcheck $B/throttle $B/rcptcheck | awk "{ print \$1 }" | sort -u | wc -l)" -eq 1 ] &&
   for p in sdu-chain rcptcheck-build sdu-report sdu-state-copy spamgrab; do [ -x $B/$p ] && ! readelf -l $B/$p | grep -q INTERP || exit 1; done'
e2e_check "a man page for each program" \
  'for p in sdu-chain rblcheck throttle rcptcheck rcptcheck-build sdu-report sdu-state-copy spamgrab; do [ -f /usr/share/man/man1/$p.1.gz ] || exit 1; done'
X=/usr/share/doc/sdu/examples
e2e_check "INSTALL's examples in $X, naming /usr/bin" \
  'for f in $(cd "$T/tools/examples" && find . -type f); do [ -f "$X/$f" ] || exit 1; done &&
   grep -q "^|/usr/bin/spamgrab " "$X/dot-qmail-doublebounce" && ! grep -rq /usr/local/bin "$X"'
e2e_check "the service sdu-smtpd is there, not enabled, not running" \
  '[ -f /lib/systemd/system/sdu-smtpd.service ] && [ -z "$(ls /etc/systemd/system/*.wants/sdu-smtpd.service 2> /dev/null)" ] &&
   ! ps -e -o args= | grep -q "^/bin/sh /usr/libexec/sdu/sdu-smtpd"'
if command -v systemd-analyze > /dev/null 2>&1; then
  E2E_LAST=$D/analyze.out
  # --man=no: its man pages are checked above; man would leave them formatted in /var/cache/man
  systemd-analyze verify --man=no /lib/systemd/system/sdu-smtpd.service > "$D/analyze.out" 2>&1
  rc=$?
  e2e_check "systemd-analyze verify /lib/systemd/system/sdu-smtpd.service" '[ "$rc" -eq 0 ] && [ ! -s "$D/analyze.out" ]'
else
  e2e_skip "systemd-analyze verify" "systemd-analyze not installed"
fi
# the state directories: the users' when they exist, root's otherwise (README.Debian)
own() { if id "$1" > /dev/null 2>&1; then id -un "$1"; else echo root; fi; }
q=$(own qmaild) a=$(own alias)
e2e_check "postinst made /var/lib/sdu ($q, 755), spamgrab's and the review Maildir ($a, 700)" \
  '[ "$(stat -c %U:%a /var/lib/sdu)" = "$q:755" ] && for d in spamgrab relays relays/tmp relays/new relays/cur; do [ "$(stat -c %U:%a /var/lib/sdu/$d)" = "$a:700" ] || exit 1; done'
# postinst where qmail's users exist: in a mount namespace of its own, the package's
# postinst sees a passwd and a group file with qmaild and alias (ids nobody has); a
# directory the operator gave someone else stays theirs
if [ "$q" = root ] && [ "$a" = root ] && unshare -m true 2> /dev/null; then
  free() { _i=$2; while getent "$1" "$_i" > /dev/null 2>&1; do _i=$((_i + 1)); done; echo "$_i"; }
  uq=$(free passwd 64100) && ua=$(free passwd $((uq + 1))) && gn=$(getent group nofiles | cut -d: -f3)
  [ -n "$gn" ] || gn=$(free group 64100)
  { getent passwd; echo "qmaild:x:$uq:$gn::/var/qmail:/usr/sbin/nologin"; echo "alias:x:$ua:$gn::/var/qmail/alias:/usr/sbin/nologin"; } > "$D/ns.passwd"
  { getent group | grep -v '^nofiles:'; echo "nofiles:x:$gn:"; } > "$D/ns.group"
  chown 1:1 /var/lib/sdu/relays/cur
  E2E_LAST=$D/ns.out
  unshare -m sh -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && id qmaild && exec /var/lib/dpkg/info/sdu.postinst configure' \
    sh "$D/ns.passwd" "$D/ns.group" > "$D/ns.out" 2>&1
  rc=$?
  e2e_check "postinst, qmaild and alias there: /var/lib/sdu qmaild's, spamgrab's and the review Maildir alias's, modes kept" \
    '[ "$rc" -eq 0 ] && [ "$(stat -c %u:%g:%a /var/lib/sdu)" = "$uq:$gn:755" ] &&
     for d in spamgrab relays relays/tmp relays/new; do [ "$(stat -c %u:%g:%a /var/lib/sdu/$d)" = "$ua:$gn:700" ] || exit 1; done'
  e2e_check "  ... but the directory the operator gave another user stays theirs" '[ "$(stat -c %u:%g /var/lib/sdu/relays/cur)" = 1:1 ]'
else
  e2e_skip "postinst with qmail's users" "qmaild or alias exists here, or no mount namespace (unshare -m)"
fi
e2e_check "postinst made no user or group" 'getent passwd > "$D/passwd.after" && getent group > "$D/group.after" &&
  cmp -s "$D/passwd.before" "$D/passwd.after" && cmp -s "$D/group.before" "$D/group.after"'

# --- the installed programs ----------------------------------------------------------------
E2E_LAST=$D/n.out
$B/rblcheck -n -f /etc/sdu/rblcheck.conf > "$D/n.out" 2>&1
rc=$?
e2e_check "the installed rblcheck -n: the example policy /etc/sdu/rblcheck.conf is right" '[ "$rc" -eq 0 ]'
printf 'list x\n' > "$D/bad.conf"
$B/rblcheck -n -f "$D/bad.conf" > "$D/n.out" 2>&1
rc=$?
e2e_check "the installed rblcheck -n: a wrong policy, exit 100 with file and line" \
  '[ "$rc" -eq 100 ] && grep -q "^rblcheck: fatal: $D/bad.conf line 1: " "$D/n.out"'
if [ ! -e /var/qmail/bin/qmail-smtpd ]; then
  E2E_LAST=$D/default.out
  /usr/libexec/sdu/sdu-smtpd > "$D/default.out" 2>&1
  rc=$?
  e2e_check "the service as installed, on a machine without qmail: exit 100, saying what is missing" \
    '[ "$rc" -eq 100 ] && grep -q "^sdu-smtpd: fatal: /etc/default/sdu: SDU_SMTPD_SERVER: /var/qmail/bin/qmail-smtpd not found" "$D/default.out"'
fi

# the service's launcher with the test's configuration: tcpserver, the installed chain
# (PATH is the launcher's own), exim4 -bs behind a script that notes who started it
dns=$(e2e_free_addr) && srv=$(e2e_free_addr) && c_ok=$(e2e_free_addr) && c_bad=$(e2e_free_addr) || exit 1
port=$(e2e_free_port) || exit 1
printf '%s\n' "$c_bad" > "$D/zone"
chmod 644 "$D/zone"
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" deb.sdu.test:ip4set:"$D/zone" || exit 1
cat > "$D/policy" <<'EOF'
list debtest deb.sdu.test
rule debtest reject "553 sorry, %ip is listed in %lists"
rule any tag
EOF
printf 'ok@example.net\n' > "$D/valid"
e2e_ok "the installed rcptcheck-build makes the table" $B/rcptcheck-build -f "$D/rcpt.cdb" "$D/valid"
printf ':allow,THROTTLE_RCPT="5"\n' | e2e_tcprules "$D/tcp.smtp.cdb"
e2e_exim_conf
mkdir -p "$D/state"
cat > "$D/server" <<EOF
#!/bin/sh
readlink /proc/\$PPID/exe > $D/parent.exe
exec $(e2e_exim_cmd)
EOF
chmod 755 "$D/server"
cat > "$D/default" <<EOF
# /etc/default/sdu for the test
SDU_SMTPD_SERVER=$D/server
SDU_SMTPD_CHAIN="rblcheck -f $D/policy -t 5
  throttle -d $D/state -w /etc/sdu/bigsenders -B 20/10m -W /etc/sdu/bouncewhite
  rcptcheck -f $D/rcpt.cdb"
SDU_SMTPD_USER=root
SDU_SMTPD_NAME=mx.sdu.test
SDU_SMTPD_IP=$srv
SDU_SMTPD_PORT=$port
SDU_SMTPD_RULES=$D/tcp.smtp.cdb
SDU_SMTPD_MAX=5
THROTTLE_CONN=30/60
DNSCACHEIP=$dns
EOF
setsid /usr/libexec/sdu/sdu-smtpd "$D/default" >> "$D/smtpd.log" 2>&1 < /dev/null &
spid=$!
e2e_remember "$spid" sdu-smtpd
E2E_LAST=$D/smtpd.log
e2e_ok "/usr/libexec/sdu/sdu-smtpd starts tcpserver on $srv:$port" e2e_wait 100 e2e_listening "$spid" "$port" || exit 1
e2e_swaks --server "$srv" --port "$port" --local-interface "$c_ok" --from a@example.org --to ok@example.net
e2e_check "a session through the installed chain: the message delivered by exim4" \
  'grep -q "^<-  250 .*id=" "$E2E_LAST" && [ "$(e2e_count "$D/exim-mail/new")" -eq 1 ]'
e2e_check "  ... by the programs in /usr/bin (the server's parent: $(cat "$D/parent.exe" 2> /dev/null))" \
  'case "$(cat "$D/parent.exe")" in /usr/bin/rblcheck|/usr/bin/throttle|/usr/bin/rcptcheck|/usr/bin/sdu-chain) ;; *) exit 1 ;; esac'
E2E_LAST=$D/smtpd.log
e2e_check "  ... each link logs its line, tcpserver says -l mx.sdu.test" \
  'grep -q "^rblcheck: ip=$c_ok .*action=pass" "$D/smtpd.log" && grep -q "^rcptcheck: ip=$c_ok " "$D/smtpd.log" && grep -q "^throttle: ip=$c_ok " "$D/smtpd.log" &&
   grep -q "^tcpserver: ok [0-9]* mx.sdu.test:[:f]*$srv:$port " "$D/smtpd.log"'
e2e_swaks --server "$srv" --port "$port" --local-interface "$c_ok" --from a@example.org --to nobody@example.net
e2e_check "an unknown recipient: refused by the installed rcptcheck" '! grep -q "^<-  250 .*id=" "$E2E_LAST" && grep -q "^<\*\* *5[0-9][0-9] " "$E2E_LAST"'
e2e_swaks --server "$srv" --port "$port" --local-interface "$c_bad" --from a@example.org --to ok@example.net
e2e_check "a listed client: refused by the installed rblcheck" 'grep -q "553 sorry, $c_bad is listed in debtest" "$E2E_LAST" && [ "$(e2e_count "$D/exim-mail/new")" -eq 1 ]'
e2e_stop "$spid"

# --- remove, purge -----------------------------------------------------------------------
# gone: LIST's files other than the conffiles; LIST's directories that no other package owns
gone() {
  while read -r _p; do
    [ "$_p" = /. ] && continue
    grep -qx "$_p" "$D/conffiles" && [ "$1" = remove ] && continue
    if [ -d "$_p" ]; then
      dpkg -S "$_p" > /dev/null 2>&1 || [ "$1" = remove ] || { echo "left: $_p"; return 1; }
    elif [ -e "$_p" ] || [ -L "$_p" ]; then
      echo "left: $_p"; return 1
    fi
  done < "$D/list"
}
E2E_LAST=$D/dpkg.out
e2e_ok "dpkg -r" dpk -r sdu
E2E_LAST=$D/left.out
e2e_check "after dpkg -r: the programs, man pages, docs and unit gone; the conffiles and /var/lib/sdu stay (config-files)" \
  '[ "$(status)" = config-files ] && gone remove > "$D/left.out" && for f in $(cat "$D/conffiles"); do [ -f "$f" ] || exit 1; done && [ -d /var/lib/sdu/relays/new ]'
E2E_LAST=$D/dpkg.out
e2e_ok "dpkg -P" dpk -P sdu
E2E_LAST=$D/left.out
e2e_check "after dpkg -P: nothing of dpkg -L's list, no /var/lib/sdu" \
  '[ "$(status | grep -v not-installed)" = "" ] && gone purge > "$D/left.out" && [ ! -e /var/lib/sdu ] && [ ! -e /etc/sdu ]'
# what the maintainer scripts or systemd's helpers made, under the package's names
find /etc /usr /var /lib/systemd/ -xdev \( -path "$T" -o -path /var/tmp \) -prune -o \
  -cnewer "$stamp" \( -path '*sdu*' -o -name 'rblcheck*' -o -name 'throttle*' -o -name 'rcptcheck*' -o -name 'spamgrab*' \) \
  -print > "$D/left.out" 2> /dev/null
e2e_check "after dpkg -P: no file made since the install under the package's names (find -cnewer)" '[ ! -s "$D/left.out" ]'
