#!/bin/sh
# rcptcheck.t.sh: rcptcheck under tcpserver with swaks as the client, smtpsink and exim4 -bs behind it;
# once with the counted addresses in LMDB, once on Redis (SDU_TEST_STORE)
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_each_store "$@"
e2e_init rcptcheck
e2e_need_prog tcpserver tcprules swaks ss setsid cdb
e2e_store_init
for p in rcptcheck/rcptcheck rcptcheck/rcptcheck-build tests/smtpsink; do
  [ -x "$E2E_TOP/$p" ] || { echo "not ok - rcptcheck: $p is not built (make)"; exit 1; }
done

d=$E2E_DIR
sink="$d/sink"; mkdir "$sink"
got() { grep -l -F "rcpt: <$1>" "$sink"/msg.* 2>/dev/null | head -n 1; }
nmsg() { e2e_count "$sink" "msg.*"; }
# the reply lines of the transcript after RCPT commands, in order
rcptreplies() {
  awk '/ -> MAIL FROM/ { m = 1; next } / -> RCPT TO/ { n++ }
    m && /^(<-|<\*\*) +[0-9][0-9][0-9]/ { code[++k] = $2 }
    END { for (i = 2; i <= n + 1 && i <= k; i++) printf "%s ", code[i] }' "$E2E_LAST"
}
restart() { [ -n "${E2E_TCPSERVER_PID:-}" ] && e2e_stop "$E2E_TCPSERVER_PID"; e2e_tcpserver "$@"; }

cat > "$d/list" <<'LIST'
# made-up users
steve@example.org
joe-default@example.org
forged@example.org -553 this address has never sent mail; please do not bounce forged spam to it
@catchall.example
LIST
e2e_ok "rcptcheck-build writes the table from a list" rcptcheck-build -f "$d/rcpt.cdb" "$d/list"

restart 0 rcptcheck -f "$d/rcpt.cdb" smtpsink -d "$sink" || { echo "not ok - rcptcheck: tcpserver did not start"; exit 1; }
e2e_swaks --from a@sender.example --to steve@example.org --body "valid one"
e2e_check "a valid recipient reaches downstream" '[ $? -eq 0 ] && [ -n "$(got steve@example.org)" ]'
n=$(nmsg)
e2e_swaks --from a@sender.example --to jim@example.org --body "unknown one"
e2e_check "an unknown recipient is refused with 550" 'grep -q "<\*\* 550 5.1.1 sorry, no mailbox here" "$E2E_LAST"'
e2e_check "and never reaches downstream" '[ "$(nmsg)" -eq "$n" ] && ! grep -q -F "rcpt: <jim@example.org>" "$sink"/msg.*'
e2e_swaks --from a@sender.example --to forged@example.org
e2e_check "a joe-jobbed address gets its own text" 'grep -q "<\*\* 553 this address has never sent mail; please do not bounce forged spam to it" "$E2E_LAST"'
e2e_swaks --from a@sender.example --to joe-lists-x@example.org --body "default"
e2e_check "-default: joe-lists-x via joe-default" '[ -n "$(got joe-lists-x@example.org)" ]'
e2e_swaks --from a@sender.example --to anyone@catchall.example --body "catch-all"
e2e_check "catch-all" '[ -n "$(got anyone@catchall.example)" ]'
e2e_swaks --from a@sender.example --to someone@relay.example --body "relay"
e2e_check "a domain the table does not cover is passed on" '[ -n "$(got someone@relay.example)" ]'
e2e_swaks --from a@sender.example --to postmaster@example.org --body "pm"
e2e_check "postmaster@ a covered domain" '[ -n "$(got postmaster@example.org)" ]'
e2e_swaks --from nodomain --to steve@example.org
e2e_check "MAIL FROM without a domain gets 553" 'grep -q "<\*\* 553 5.1.7" "$E2E_LAST"'

e2e_swaks --pipeline --from a@sender.example --to steve@example.org,jim@example.org,joe-x@example.org --body "mixed"
m=$(got joe-x@example.org)
e2e_check "pipelined valid, invalid, valid: replies in order" '[ "$(rcptreplies)" = "250 550 250 " ]'
e2e_check "the message reaches downstream for the two valid ones only" \
  '[ -n "$m" ] && grep -q -F "rcpt: <steve@example.org>" "$m" && ! grep -q -F "rcpt: <jim@" "$m"'
e2e_check "one log line per recipient decision" \
  'grep -q "rcptcheck: ip=127.0.0.1 from=a@sender.example rcpt=jim@example.org action=reject reason=unknown" "$E2E_TCPLOG"'

# the limit: 5 by default, per client through tcprules
e2e_swaks --pipeline --from a@sender.example --to u1@example.org,u2@example.org,u3@example.org,u4@example.org,u5@example.org,u6@example.org
e2e_check "the fifth refusal is 421 and the connection closes" '[ "$(rcptreplies)" = "550 550 550 550 421 " ]'
printf '127.:allow,RCPTCHECK_MAXREFUSED="2"\n' | e2e_tcprules "$d/rules.cdb" > /dev/null
restart -x "$d/rules.cdb" 0 rcptcheck -f "$d/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to u1@example.org,u2@example.org,steve@example.org
e2e_check "RCPTCHECK_MAXREFUSED=2 from tcprules: 421 at the second" '[ "$(rcptreplies)" = "550 421 " ]'

# harvest
printf '127.:allow,SDU_HARVEST=""\n' | e2e_tcprules "$d/rules.cdb" > /dev/null
restart -x "$d/rules.cdb" 0 rcptcheck -f "$d/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to harvested@example.org --body "harvest"
m=$(got harvested@example.org)
e2e_check "SDU_HARVEST: nothing refused" '[ -n "$m" ]'
e2e_check "SDU_HARVEST: the message is tagged" 'grep -q "^X-Rcptcheck: harvest would refuse rcpt=<harvested@example.org> reason=unknown" "$m"'
e2e_check "SDU_HARVEST: logged" 'grep -q "rcpt=harvested@example.org action=harvest would=reject reason=unknown" "$E2E_TCPLOG"'

# RELAYCLIENT
printf '127.:allow,RELAYCLIENT=""\n' | e2e_tcprules "$d/rules.cdb" > /dev/null
restart -x "$d/rules.cdb" 0 rcptcheck -f "$d/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to relayed@example.org --body "relayclient"
e2e_check "RELAYCLIENT: no check" '[ -n "$(got relayed@example.org)" ]'

# fail open, fail closed
restart 0 rcptcheck -f "$d/missing.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to failopen@example.org --body "fail open"
e2e_check "missing table: fail open" '[ -n "$(got failopen@example.org)" ]'
e2e_check "with a warning" 'grep -q "rcptcheck: warning: unable to read .*missing.cdb" "$E2E_TCPLOG"'
restart 0 rcptcheck -F -f "$d/missing.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to failclosed@example.org
e2e_check "missing table with -F: 451" 'grep -q "<\*\* 451 4.3.0" "$E2E_LAST" && [ -z "$(got failclosed@example.org)" ]'

# a damaged table (a valid header, garbage records) is a missing one, not 550 for all
cp "$d/rcpt.cdb" "$d/bad.cdb"
recend=$(od -An -tu4 -N4 "$d/bad.cdb" | tr -d ' ')
head -c $((recend - 2048)) /dev/zero | tr '\000' '\377' | dd of="$d/bad.cdb" bs=1 seek=2048 conv=notrunc 2> /dev/null
e2e_check "the damaged copy is as long as the table" '[ "$(wc -c < "$d/bad.cdb")" -eq "$(wc -c < "$d/rcpt.cdb")" ] && ! cmp -s "$d/bad.cdb" "$d/rcpt.cdb"'
restart 0 rcptcheck -f "$d/bad.cdb" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to steve@example.org,jim@example.org --body "damaged table"
e2e_check "damaged table: fail open, valid and unknown recipients passed on" '[ "$(rcptreplies)" = "250 250 " ]'
e2e_check "with a warning that says so" 'grep -q "rcptcheck: warning: .*bad.cdb is damaged (.*), rebuild it with rcptcheck-build, not checking recipients" "$E2E_TCPLOG"'
restart 0 rcptcheck -F -f "$d/bad.cdb" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to steve@example.org,jim@example.org
e2e_check "damaged table with -F: 451 to every recipient" '[ "$(rcptreplies)" = "451 451 " ]'
rcptcheck-build -c -v -f "$d/rcpt.cdb" > "$d/check.out" 2>&1; rc=$?
e2e_check "rcptcheck-build -c: a sound table, exit 0" '[ $rc -eq 0 ] && grep -q "records=[0-9]* check=sum" "$d/check.out"'
rcptcheck-build -c -f "$d/bad.cdb" > "$d/check.out" 2>&1; rc=$?
e2e_check "rcptcheck-build -c: a damaged table, exit 100" '[ $rc -eq 100 ] && grep -q "rcptcheck-build: fatal: .*bad.cdb is damaged: " "$d/check.out"'
rcptcheck-build -c -f "$d/missing.cdb" > "$d/check.out" 2>&1; rc=$?
e2e_check "rcptcheck-build -c: no table, exit 111" '[ $rc -eq 111 ]'

# a validrcptto.cdb made by tinycdb, no markers, covered domains with -D
printf 'steve@example.org\n@catchall.example 1\nbad@example.org -go away\n' > "$d/v.txt"
cdb -c -m "$d/validrcptto.cdb" "$d/v.txt"
printf 'example.org\ncatchall.example\n' > "$d/domains"
restart 0 rcptcheck -f "$d/validrcptto.cdb" -D "$d/domains" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to steve@example.org,bad@example.org,nobody@example.org,x@catchall.example,y@relay2.example --body "validrcptto"
e2e_check "validrcptto.cdb: address, refusal, unknown, catch-all, uncovered" '[ "$(rcptreplies)" = "250 553 550 250 250 " ]'
e2e_check "validrcptto.cdb: the refusal's text" 'grep -q "<\*\* 553 5.7.1 go away" "$E2E_LAST"'
rcptcheck-build -c -v -f "$d/validrcptto.cdb" > "$d/check.out" 2>&1; rc=$?
e2e_check "rcptcheck-build -c: tinycdb's table has no check record, its structure is sound" '[ $rc -eq 0 ] && grep -q "records=3 check=none" "$d/check.out"'

# address literals: qmail-smtpd rewrites a literal of this host to control/me
# and queues nobody@mx.example.net; rcptcheck checks that address instead
printf 'steve@mx.example.net\n' > "$d/melist"
e2e_ok "rcptcheck-build -m names this host" rcptcheck-build -m mx.example.net -f "$d/me.cdb" "$d/melist"
restart 0 rcptcheck -f "$d/me.cdb" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to 'nobody@[127.0.0.1],steve@[127.0.0.1],nobody@[127.000.000.001],nobody@[0.0.0.0],x@[192.0.2.1]' --body "literals"
m=$(got "steve@[127.0.0.1]")
e2e_check "literal of TCPLOCALIP: unknown refused, valid passed; 0.0.0.0 is ours; another host's passed on" \
  '[ "$(rcptreplies)" = "550 250 550 550 250 " ]'
e2e_check "the valid one reaches downstream as written, the made-up one does not" \
  '[ -n "$m" ] && ! grep -q -F "rcpt: <nobody@" "$m"'
e2e_check "logged with the address as written" \
  'grep -q "rcpt=nobody@\[127.0.0.1\] action=reject reason=unknown" "$E2E_TCPLOG"'
restart -a 127.0.0.2 0 rcptcheck -f "$d/me.cdb" smtpsink -d "$sink"
e2e_swaks --server "127.0.0.2:$E2E_PORT" --pipeline --from a@sender.example --to 'nobody@[127.0.0.1],nobody@[127.0.0.2]' --body "literals 2"
e2e_check "reached at 127.0.0.2: 127.0.0.1 is still ours (an interface), 127.0.0.2 too (TCPLOCALIP)" \
  '[ "$(rcptreplies)" = "550 550 " ]'
restart 0 rcptcheck -f "$d/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to 'nobody@[127.0.0.1]' --body "literal, no name"
e2e_check "a table that names no host: this host's literal passed on" \
  '[ -n "$(got "nobody@[127.0.0.1]")" ] && grep -q "rcpt=nobody@\[127.0.0.1\] action=pass reason=literal" "$E2E_TCPLOG"'

# local-part rules and the sender blacklist
cat > "$d/rules" <<'R'
*[0-9]@*      Local parts never end in digits
*,*           Local parts never contain a comma
[!a-zA-Z]*    Local parts start with a letter
R
printf 'linkedin.com  553 5.7.1 no mail from LinkedIn\n' > "$d/senders"
restart 0 rcptcheck -f "$d/rcpt.cdb" -l "$d/rules" -s "$d/senders" smtpsink -d "$sink"
e2e_swaks --pipeline --from a@sender.example --to steve9@example.org,_x@example.org,steve@example.org --body "rules"
e2e_check "local-part rules refuse with their text" \
  '[ "$(rcptreplies)" = "550 550 250 " ] && grep -q "<\*\* 550 5.1.1 Local parts never end in digits" "$E2E_LAST"'
e2e_swaks --from x@mail.linkedin.com --to steve@example.org
e2e_check "sender blacklist: subdomain of a listed domain" 'grep -q "<\*\* 553 5.7.1 no mail from LinkedIn" "$E2E_LAST"'

# counted and dated addresses across connections, with a clock of our own
state=$(e2e_store state)
restart 0 env SDU_TEST_NOW=1792454400 rcptcheck -e -d "$state" -f "$d/rcpt.cdb" smtpsink -d "$sink"
for i in 1 2 3; do
  e2e_swaks --from a@sender.example --to steve.2.count@example.org --body "counted $i"
  eval "c$i=\$?"
done
e2e_check "counted: two messages accepted in two connections" '[ "$c1" -eq 0 ] && [ "$c2" -eq 0 ] && [ "$(grep -l -F "rcpt: <steve.2.count@example.org>" "$sink"/msg.* | wc -l)" -eq 2 ]'
e2e_check "counted: the third is refused as expired" '[ "$c3" -ne 0 ] && grep -q "<\*\* 550 5.1.1 sorry, this address has expired" "$E2E_LAST"'
if [ "$SDU_TEST_STORE" = redis ]; then
  e2e_check "counted: the counter is in Redis, with an expiry" \
    '[ "$(redis-cli -s "$E2E_STORE_SOCK" -n 1 pttl "rcptcount:steve.2.count@example.org")" -gt 0 ]'
fi
e2e_swaks --from a@sender.example --to steve.date.20-10-2026@example.org --body "dated"
e2e_check "dated: accepted on its day" '[ -n "$(got steve.date.20-10-2026@example.org)" ]'
restart 0 env SDU_TEST_NOW=1792540800 rcptcheck -e -d "$state" -f "$d/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --from a@sender.example --to steve.date.20-10-2026@example.org
e2e_check "dated: refused the day after" 'grep -q "<\*\* 550 5.1.1 sorry, this address has expired" "$E2E_LAST"'
# a broken store (a corrupt data.mdb, Redis down): a counted address passes (fail open)
e2e_store_break state
e2e_swaks --from a@sender.example --to steve.2.count@example.org --body "counted, store broken"
e2e_check "broken store: a counted address passes (fail open), with a warning ($E2E_STORE_BROKEN)" \
  'grep -q "^<-  250 ok" "$E2E_LAST" && grep -q "rcptcheck: warning: .*$E2E_STORE_BROKEN.*passing counted addresses on" "$d/tcpserver.log"'
e2e_store_mend state

# the builder: bad lines, a qmail tree, readers while it writes
printf 'ok@example.org\nbad address@example.org\n@\nfine@example.org -text\n' > "$d/badlist"
cp "$d/rcpt.cdb" "$d/before.cdb"
rcptcheck-build -f "$d/rcpt.cdb" "$d/badlist" > "$d/build.out" 2>&1
rc=$?
e2e_check "a list with bad lines: exit 100" '[ $rc -eq 100 ]'
e2e_check "bad lines reported with their numbers" \
  'grep -q "line 2: after the address only -text may follow" "$d/build.out" && grep -q "line 3: " "$d/build.out" && grep -q "2 bad lines, nothing written" "$d/build.out"'
e2e_check "nothing written, no temp file" 'cmp -s "$d/rcpt.cdb" "$d/before.cdb" && [ -z "$(ls "$d" | grep "rcpt.cdb.tmp")" ]'

q="$d/qmail"
mkdir -p "$q/control" "$q/users" "$q/alias" "$q/home/steve" "$q/home/vdom" "$q/home/bob"
printf 'example.org\n' > "$q/control/locals"
printf 'virtual.example:vdom\nother.example:nobody\n.wild.example:vdom\n' > "$q/control/virtualdomains"
printf 'example.org\nvirtual.example\nrelayed.example\n' > "$q/control/rcpthosts"
cat > "$q/users/assign" <<A
=steve:steve:1001:1001:$q/home/steve:::
+steve-:steve:1001:1001:$q/home/steve:-::
+vdom-:vdom:1002:1002:$q/home/vdom:-::
.
A
: > "$q/home/steve/.qmail-lists-default"
: > "$q/home/steve/.qmail-news"
: > "$q/home/vdom/.qmail-info"
: > "$q/home/vdom/.qmail-sales:team"
: > "$q/alias/.qmail-root"
: > "$q/alias/.qmail-postmaster"
printf 'bob:x:1003:1003::%s:/bin/sh\nroot:x:0:0::/root:/bin/sh\n' "$q/home/bob" > "$q/passwd"
chown 1003 "$q/home/bob"
: > "$q/home/bob/.qmail-work"
: > "$q/home/bob/.qmail-home"
: > "$q/home/bob/.qmail-play"
printf 'forged@example.org -553 never sent mail\n' > "$q/refused"
e2e_ok "rcptcheck-build -q on a made-up qmail tree" rcptcheck-build -q -f "$d/q.cdb" -a "$q/refused" -P "$q/passwd" "$q"
cdb -l "$d/q.cdb" | sed -n 's/^+[0-9]*://p' | sort > "$d/q.keys"
cat > "$d/q.want" <<K
@@
@@[check]
@@example.org
@@virtual.example
bob-home@example.org
bob-play@example.org
bob-work@example.org
bob@example.org
forged@example.org
info@virtual.example
postmaster@example.org
root@example.org
sales.team@virtual.example
steve-lists-default@example.org
steve-news@example.org
steve@example.org
vdom-info@example.org
vdom-sales.team@example.org
K
e2e_check "qmail tree: exactly the addresses qmail delivers" 'cmp -s "$d/q.keys" "$d/q.want" || { diff "$d/q.want" "$d/q.keys" | sed "s/^/#   /"; false; }'
e2e_check "qmail tree: the extra list's refusal wins" '[ "$(cdb -q "$d/q.cdb" forged@example.org)" = "-553 never sent mail" ]'
: > "$q/alias/.qmail-default"
rcptcheck-build -q -f "$d/q.cdb" -P "$q/passwd" "$q"
e2e_check "qmail tree: alias .qmail-default is the catch-all of the local domain only" \
  'cdb -q "$d/q.cdb" @example.org > /dev/null && ! cdb -q "$d/q.cdb" @virtual.example > /dev/null'

# readers while the builder rewrites the table
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "user%d@big.example\n", i }' > "$d/big"
rcptcheck-build -f "$d/big.cdb" "$d/big"
( i=0; while [ $i -lt 5 ]; do rcptcheck-build -f "$d/big.cdb" "$d/big" || echo BUILDFAIL; i=$((i + 1)); done; touch "$d/built" ) > "$d/builder.out" 2>&1 &
bpid=$!
bad=0 reads=0
while [ ! -f "$d/built" ] && [ $reads -lt 2000 ]; do
  v=$(cdb -q "$d/big.cdb" user199999@big.example; echo "rc=$?")
  [ "$v" = "rc=0" ] || bad=$((bad + 1))
  reads=$((reads + 1))
done
wait "$bpid"
e2e_check "readers during 5 rebuilds never miss a key ($reads reads)" '[ $bad -eq 0 ] && [ $reads -gt 0 ] && ! grep -q BUILDFAIL "$d/builder.out"'

# exim4 -bs at the end of the chain
if e2e_exim_conf; then
  restart 0 rcptcheck -f "$d/rcpt.cdb" $(e2e_exim_cmd)
  e2e_swaks --pipeline --from a@sender.example --to steve@example.org,jim@example.org --body "to exim"
  e2e_check "exim4 -bs behind rcptcheck: replies in order" '[ "$(rcptreplies)" = "250 550 " ]'
  e2e_wait 50 sh -c '[ "$(ls "$d/exim-mail/new" 2>/dev/null | wc -l)" -ge 1 ]'
  f=$(ls "$d/exim-mail/new" | head -n 1)
  e2e_check "exim delivered to steve only" '[ -n "$f" ] && grep -q "^Envelope-to: steve@example.org\$" "$d/exim-mail/new/$f"'
else
  e2e_skip "exim4 behind rcptcheck" "unable to write the exim configuration"
fi
