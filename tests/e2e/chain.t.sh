#!/bin/sh
# chain.t.sh: the links in one process (sdu-chain(1)). The same sessions go
# through the chain as make builds it (one binary, hard links: the links call
# each other) and through three copies of it (each execs the next, a chain of
# processes): replies, recorded messages and log lines must be the same. Then
# under tcpserver with swaks: how many processes a session costs.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init chain
e2e_need_root "port 53 for rbldnsd"
e2e_need_prog tcpserver swaks rbldnsd
T=$E2E_TOP
D=$E2E_DIR
for b in chain/sdu-chain rblcheck/rblcheck throttle/throttle rcptcheck/rcptcheck tests/smtpsink rcptcheck/rcptcheck-build; do
  [ -x "$T/$b" ] || { echo "not ok - chain: $b is not built (make)"; exit 1; }
done

dns=$(e2e_free_addr) || exit 1
base=127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256))
c_clean=$base.10 c_dul=$base.11 c_rej=$base.12 c_tag=$base.13 c_bl=$base.14
printf '%s\n' "$c_rej" > "$D/orbs"
printf '%s\n' "$c_rej" > "$D/rss"
printf '%s\n' "$c_dul" > "$D/dul"
printf '%s\n' "$c_tag" > "$D/rbl"
chmod 755 "$D" && chmod 644 "$D/orbs" "$D/rss" "$D/dul" "$D/rbl"
cat > "$D/policy" <<'EOF'
list orbs relays.orbs.test
list rss  relays.rss.test
list dul  dialups.test
list rbl  rbl.test
rule orbs & rss reject
rule dul        throttle 1
rule any        tag
EOF
e2e_ok "rbldnsd on $dns" e2e_rbldnsd "$dns" relays.orbs.test:ip4set:"$D/orbs" relays.rss.test:ip4set:"$D/rss" \
  dialups.test:ip4set:"$D/dul" rbl.test:ip4set:"$D/rbl" || exit 1
printf 'one@example.net\ntwo@example.net\n' > "$D/valid"
"$T/rcptcheck/rcptcheck-build" -f "$D/rcpt.cdb" "$D/valid" || exit 1

# the chain of processes: copies, not links, so that no link finds itself
for l in rblcheck throttle rcptcheck; do
  mkdir -p "$D/sep/$l" && cp "$T/chain/sdu-chain" "$D/sep/$l/$l" || exit 1
done
e2e_check "the built links are one file" \
  '[ "$(ls -i "$T/chain/sdu-chain" "$T/rblcheck/rblcheck" "$T/throttle/throttle" "$T/rcptcheck/rcptcheck" | awk "{ print \$1 }" | sort -u | wc -l)" -eq 1 ]'

DNSCACHEIP=$dns; SDU_TEST_NOW=1800000000; export DNSCACHEIP SDU_TEST_NOW
# run KIND NAME CLIENT SESSION [VAR=VALUE...] -- [throttle options] -- [rcptcheck options]:
# the session file on stdin, replies in KIND/NAME.out, messages in KIND/NAME/, log in KIND/NAME.err
run() {
  _k=$1 _n=$2 _ip=$3 _s=$4; shift 4
  if [ "$_k" = one ]; then _b=$T; else _b=$D/sep; fi
  mkdir -p "$D/$_k/$_n" "$D/$_k/state"
  _env=
  while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
  shift
  _to=
  while [ "$1" != "--" ]; do _to="$_to $1"; shift; done
  shift
  _ro=
  for _x; do [ "$_x" = STATE ] && _x=$D/$_k/state; _ro="$_ro $_x"; done
  # shellcheck disable=SC2086
  env TCPREMOTEIP="$_ip" $_env "$_b/rblcheck/rblcheck" -f "$D/policy" \
    "$_b/throttle/throttle" -d "$D/$_k/state" $_to \
    "$_b/rcptcheck/rcptcheck" $_ro \
    "$T/tests/smtpsink" -d "$D/$_k/$_n" -x reject-data=REJECTME < "$D/$_s" > "$D/$_k/$_n.out" 2> "$D/$_k/$_n.err"
  echo "exit $?" >> "$D/$_k/$_n.out"
}
# what may differ between two runs: process ids, milliseconds, file names
norm() {
  sed -e 's/queued as [0-9.]*/queued as N/' -e 's/ ms=[0-9]*/ ms=N/' -e 's/ date=[^ ]*/ date=D/' "$@"
}
maysort() { if [ -n "$1" ]; then sort; else cat; fi; }
same() { # NAME [sort]: replies, log lines and messages of both runs (sort: the
  # messages' lines in any order)
  norm "$D/one/$1.out" > "$D/one.x" && norm "$D/sep/$1.out" > "$D/sep.x" && cmp -s "$D/one.x" "$D/sep.x" || return 1
  norm "$D/one/$1.err" > "$D/one.x" && norm "$D/sep/$1.err" > "$D/sep.x" && cmp -s "$D/one.x" "$D/sep.x" || return 1
  [ "$(ls "$D/one/$1" | wc -l)" -eq "$(ls "$D/sep/$1" | wc -l)" ] || return 1
  for _f in "$D/one/$1"/msg.*; do
    [ -e "$_f" ] || continue
    _g=$D/sep/$1/$(ls "$D/sep/$1" | sed -n "$(ls "$D/one/$1" | grep -n "^${_f##*/}\$" | cut -d: -f1)p")
    norm "$_f" | maysort "$2" > "$D/one.x" && norm "$_g" | maysort "$2" > "$D/sep.x" && cmp -s "$D/one.x" "$D/sep.x" || return 1
  done
}
both() { run one "$@" && run sep "$@"; }
crlf() { printf "$@" | sed 's/$/\r/'; }

crlf 'EHLO c.test\nMAIL FROM:<a@example.org>\nRCPT TO:<one@example.net>\nRCPT TO:<nobody@example.net>\nRCPT TO:<two@example.net>\nDATA\nSubject: s1\n\nhello\n.\nQUIT\n' > "$D/s1"
crlf 'EHLO c.test\nMAIL FROM:<a@example.org>\nRCPT TO:<one@example.net>\nRCPT TO:<two@example.net>\nDATA\nSubject: s2\n\nREJECTME\n.\nMAIL FROM:<a@example.org>\nRCPT TO:<one@example.net>\nRSET\nMAIL FROM:<>\nRCPT TO:<two@example.net>\nDATA\nSubject: bounce\n\nx\n.\nQUIT\n' > "$D/s2"

# rcptcheck counts refused addresses in throttle's state directory: one
# environment for both in one process (LMDB's rule)
both clean "$c_clean" s1 -- -b 3h -- -f "$D/rcpt.cdb" -e -d STATE
e2e_check "a clean client, throttle and rcptcheck sharing a state directory: the same replies, log lines and message" 'same clean'
E2E_LAST=$D/one/clean.out
e2e_check "  ... and the unknown recipient refused, the others taken" \
  'grep -q "^550 " "$D/one/clean.out" && [ "$(grep -c "^rcpt:" "$D/one/clean"/msg.*)" -eq 2 ]'
both dul "$c_dul" s2 -- -b 3h -B 1/10m -- -f "$D/rcpt.cdb"
e2e_check "a dial-up client, tagged and throttled, refused at DATA, then blacklisted: the same" 'same dul'
E2E_LAST=$D/one/dul.out
e2e_check "  ... 451 for its second recipient, 554 at DATA" \
  'grep -q "^451 " "$D/one/dul.out" && grep -q "^554 " "$D/one/dul.out"'
both bl "$c_bl" s2 -- -b 3h -- -f "$D/rcpt.cdb"
e2e_check "a client refused at DATA, then its sender at RCPT (throttle alone in the middle): the same" 'same bl'
E2E_LAST=$D/one/bl.err
e2e_check "  ... remembered by throttle" 'grep -q "^throttle: ip=$c_bl .*remembered=1" "$E2E_LAST"'
both rej "$c_rej" s1 -- -b 3h -- -f "$D/rcpt.cdb"
e2e_check "a refused client (rblcheck answers): the same" 'same rej && grep -q "^553 \|^554 \|^550 " "$D/one/rej.out"'
both harvest "$c_dul" s1 SDU_HARVEST=1 -- -b 3h -- -f "$D/rcpt.cdb"
e2e_check "observe mode, every link tagging: the same replies, logs and header lines" 'same harvest sort'
E2E_LAST=$(ls "$D/one/harvest"/msg.* | head -n 1)
# the first line of the data, right below the Received line of the server behind
e2e_check "  ... in one process in chain order: rblcheck's tag first, rcptcheck's lines below it" \
  'sed "1,/^\$/d" "$E2E_LAST" | awk "NR == 1 && /^X-RBLCheck:/ { r = 1 } /^X-Rcptcheck:/ { h = h ? h : NR } END { exit !(r && h > 1) }"'
E2E_LAST=$(ls "$D/sep/harvest"/msg.* | head -n 1)
e2e_check "  ... in a chain of processes each proxy's lines above those before it (sdu-chain(1))" \
  'awk "/^X-RBLCheck:/ { r = NR } /^X-Rcptcheck:/ { if (!h) h = NR } END { exit !(r && h && h < r) }" "$E2E_LAST"'
both relay "$c_rej" s1 RELAYCLIENT= -- -b 3h -- -f "$D/rcpt.cdb"
e2e_check "a relay client, every link passing on: the same" 'same relay && [ "$(ls "$D/one/relay" | wc -l)" -eq 1 ]'

# a later link answers or fails while earlier ones wait to stand in the middle
both rate1 "$c_tag" s1 THROTTLE_CONN=1/60 -- -b 3h -- -f "$D/rcpt.cdb"
both rate2 "$c_tag" s1 THROTTLE_CONN=1/60 -- -b 3h -- -f "$D/rcpt.cdb"
e2e_check "throttle refuses the second connection while rblcheck tags: the same 421" \
  'same rate1 && same rate2 && grep -q "^421 4.7.0 too many connections" "$D/one/rate2.out"'
E2E_LAST=$D/one/rate2.err
e2e_check "  ... rblcheck's and throttle's log lines under their own names" \
  'grep -q "^rblcheck: ip=$c_tag " "$E2E_LAST" && grep -q "^throttle: ip=$c_tag .*action=tempfail reason=rate" "$E2E_LAST"'
# (a chain of processes answers 421 once per link that sees its downstream go,
# and how many commands a link saw first is a race: only the 421 is compared)
both usage "$c_tag" s1 -- -b 3h -- -n notanumber
only421() { [ "$(grep -v "^exit " "$1" | cut -c1-4 | sort -u)" = "421 " ]; }
E2E_LAST=$D/one/usage.out
e2e_check "rcptcheck with a bad option behind two waiting links: 421 and the usage line, as from processes" \
  'only421 "$D/one/usage.out" && only421 "$D/sep/usage.out" && grep -q "^rcptcheck: usage: " "$D/one/usage.err"'
run one twice "$c_tag" s1 -- -b 3h -- -f "$D/rcpt.cdb" "$T/rcptcheck/rcptcheck" -f "$D/rcpt.cdb"
E2E_LAST=$D/one/twice.err
e2e_check "a link named twice: both check, the message goes through" \
  '[ "$(ls "$D/one/twice" | wc -l)" -eq 1 ] && [ "$(grep -c "^rcptcheck: ip=$c_tag .*action=accept" "$E2E_LAST")" -eq 4 ]'
e2e_check "no warnings in any of it" '! grep -h "warning\|fatal" "$D"/one/*.err "$D"/sep/*.err | grep -v "^rcptcheck: usage"'

# names found along PATH, as a run script gives them: the first executable of
# that name decides, as for execvp; the downstream says who its parent is
cat > "$D/whoami" <<EOF
#!/bin/sh
echo "\$PPID" > "\$WHO"
exec "$T/tests/smtpsink" -x nodir
EOF
chmod 755 "$D/whoami"
mkdir -p "$D/copy" && cp "$T/chain/sdu-chain" "$D/copy/throttle"
viapath() { # PATH-prefix result-file
  WHO=$2 PATH="$1:$D:$PATH" TCPREMOTEIP=$c_clean sh -c 'echo $$ > "$WHO.sh"; exec rblcheck -f "$0/policy" throttle -d "$0/one/state" -b 3h rcptcheck -f "$0/rcpt.cdb" whoami < "$0/s1" > "$WHO.out" 2> "$WHO.err"' "$D"
}
viapath "$T/rblcheck:$T/throttle:$T/rcptcheck" "$D/path1"
E2E_LAST=$D/path1.err
e2e_check "links named without a path, found along PATH: one process for the three, the session served" \
  '[ "$(cat "$D/path1")" = "$(cat "$D/path1.sh")" ] && grep -q "^250 ok queued" "$D/path1.out"'
viapath "$T/rblcheck:$D/copy:$T/throttle:$T/rcptcheck" "$D/path2"
E2E_LAST=$D/path2.err
e2e_check "a copy of throttle first along PATH is exec'd, as execvp would: a process of its own, the session served" \
  '[ "$(cat "$D/path2")" != "$(cat "$D/path2.sh")" ] && grep -q "^250 ok queued" "$D/path2.out"'
echo "# parents: $(cat "$D/path1") $(cat "$D/path1.sh") / $(cat "$D/path2") $(cat "$D/path2.sh")"

"$T/chain/sdu-chain" x > "$D/self.out" 2>&1
echo "exit $?" >> "$D/self.out"
E2E_LAST=$D/self.out
e2e_check "sdu-chain by its own name: exit 100 and why" \
  'grep -q "^exit 100\$" "$D/self.out" && grep -q "^sdu-chain: fatal: run me by the name of one of my links" "$D/self.out"'

# under tcpserver: the downstream's parent is the only process in the middle
cat > "$D/down" <<EOF
#!/bin/sh
echo "\$PPID \$(awk '/^PPid:/ { print \$2 }' /proc/\$PPID/status)" > "$D/parents.\$\$"
exec "$T/tests/smtpsink" -d "$D/tcp"
EOF
chmod 755 "$D/down"
mkdir -p "$D/tcp"
unset SDU_TEST_NOW
# shellcheck disable=SC2046
e2e_tcpserver -a "$base.1" 0 "$T/rblcheck/rblcheck" -f "$D/policy" "$T/throttle/throttle" -d "$D/one/state" -b 3h \
  "$T/rcptcheck/rcptcheck" -f "$D/rcpt.cdb" "$D/down" || exit 1
e2e_swaks --server "$base.1" --port "$E2E_PORT" --local-interface "$c_tag" --to one@example.net --from a@example.org
E2E_LAST=$(ls "$D"/parents.* 2>/dev/null | head -n 1)
e2e_check "swaks through tcpserver: the message is taken" '[ "$(ls "$D/tcp" | grep -c "^msg\.")" -eq 1 ]'
e2e_check "  ... and the downstream's parent is tcpserver's child: one process in the middle for three links" \
  '[ -n "$E2E_LAST" ] && [ "$(cut -d" " -f2 "$E2E_LAST")" = "$E2E_TCPSERVER_PID" ]'
