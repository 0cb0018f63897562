#!/bin/sh
# state.t.sh: throttle and rcptcheck (counted addresses) under tcpserver with a state store
# that breaks: a data.mdb with good meta pages and corrupt pages, a fault in the write at the
# end of DATA, a full file system without lock.mdb, a state directory that cannot be opened.
# The client always gets its normal replies, a warning says what to do, no link dies (status 7)
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init state
e2e_need_prog tcpserver swaks python3
for b in throttle/throttle rcptcheck/rcptcheck rcptcheck/rcptcheck-build tests/smtpsink; do
  [ -x "$E2E_TOP/$b" ] || { echo "not ok - state: $b is not built (make)"; exit 1; }
done
D=$E2E_DIR
sink=$D/sink
mkdir "$sink"
printf 'joe@example.net\nsteve@example.net\n' > "$D/valid"
e2e_ok "rcptcheck table" rcptcheck-build -f "$D/rcpt.cdb" "$D/valid"
corrupt() { python3 "$E2E_TOP/tests/lib/mdbcorrupt.py" "$@"; }
restart() { [ -n "${E2E_TCPSERVER_PID:-}" ] && e2e_stop "$E2E_TCPSERVER_PID"; E2E_TCPSERVER_PID=; e2e_tcpserver 0 "$@"; }
# chain STATEDIR [THROTTLE_CONN]: every feature that uses the store
chain() {
  restart env THROTTLE_CONN="${2:-}" throttle -d "$1" -b 1h -B 5/10m \
    rcptcheck -e -d "$1" -f "$D/rcpt.cdb" smtpsink -d "$sink" -x reject-data=SPAMSPAM
}
# a message to a user and a counted address: both taken, 250 at the end of data
clean() {
  e2e_swaks --from a@example.org --to joe@example.net,steve.3.count@example.net --body clean
  cp "$E2E_LAST" "$D/$1.clean"
}
# a message the downstream refuses at the end of data: the client gets the 554
refused() {
  e2e_swaks --from "spam-$1@example.org" --to joe@example.net --body SPAMSPAM
  cp "$E2E_LAST" "$D/$1.spam"
}
# the checks of one case: replies as normal, every link ended by itself
replies() {
  c=$1
  E2E_LAST=$D/$c.clean
  e2e_check "$c: the message to a user and a counted address is taken" \
    'grep -q "^<-  250 ok queued" "$D/$c.clean" && [ "$(grep -c "^<-  250 ok$" "$D/$c.clean")" -eq 3 ]'
  E2E_LAST=$D/$c.spam
  e2e_check "$c: the refusal at the end of data reaches the client" 'grep -q "^<\*\* 554" "$D/$c.spam"'
  E2E_LAST=$E2E_TCPLOG
  e2e_check "$c: no link died (tcpserver logs no status 7, no status but 0)" \
    '! grep -q "status [1-9]" "$E2E_TCPLOG" && [ "$(grep -c " status 0" "$E2E_TCPLOG")" -ge 2 ]'
}

# 1. a healthy store: the same replies; it is the model of the damaged ones
mkdir "$D/good"
chain "$D/good" 20/60
clean good
refused good
replies good
e2e_check "good: no warning" '! grep -q "warning" "$E2E_TCPLOG"'
e2e_stop "$E2E_TCPSERVER_PID"

# 2. good meta pages, the pages below them damaged: every store access faults
mkdir "$D/tables"
cp "$D/good/data.mdb" "$D/tables/"
e2e_ok "damage data.mdb below its main root" corrupt "$D/tables/data.mdb" tables
E2E_TCPLOG_TO=$D/tables.log chain "$D/tables" 20/60
clean tables
refused tables
replies tables
E2E_LAST=$E2E_TCPLOG
e2e_check "tables: throttle warns, naming the fault and what to do" \
  'grep -q "throttle: warning: database corrupt: table throttle in .*: SIGBUS inside LMDB; passing on (to recover: stop the service, move data.mdb and lock.mdb aside" "$E2E_TCPLOG"'
e2e_check "tables: the connections are logged with state=failed" 'grep -q "throttle: .*state=failed" "$E2E_TCPLOG"'
e2e_stop "$E2E_TCPSERVER_PID"

# 3. only the free-page list damaged: reads work, the first write faults, and
#    with no write before it (no THROTTLE_CONN) that is the write after the
#    downstream's reply to the end of data (throttle's -b, rcptcheck's count)
mkdir "$D/free"
cp "$D/good/data.mdb" "$D/free/"
e2e_ok "damage the free-page list of data.mdb" corrupt "$D/free/data.mdb" free
E2E_TCPLOG_TO=$D/free.log chain "$D/free"
clean free
refused free
replies free
E2E_LAST=$E2E_TCPLOG
e2e_check "free: the failed writes after the end of data are warnings" \
  'grep -q "throttle: warning: state store failed, passing on: database corrupt: .*SIGBUS inside LMDB" "$E2E_TCPLOG" &&
   grep -q "rcptcheck: warning: database corrupt: .*SIGBUS inside LMDB (to recover: " "$E2E_TCPLOG" &&
   grep -q "rcptcheck: warning: unable to count a message for steve.3.count@example.net" "$E2E_TCPLOG"'
e2e_stop "$E2E_TCPSERVER_PID"

# 4. a state directory that cannot be opened: a counted address is passed on
#    (rcptcheck cannot count it), or 451 with -F; never 550 as if unknown
restart rcptcheck -e -d "$D/nonexistent" -f "$D/rcpt.cdb" smtpsink -d "$sink"
clean nostate
E2E_LAST=$D/nostate.clean
e2e_check "no state directory: the counted address is passed on" \
  'grep -q "^<-  250 ok queued" "$E2E_LAST" && grep -q "RCPT TO:<steve.3.count@example.net>" "$E2E_LAST" && [ "$(grep -c "^<-  250 ok$" "$E2E_LAST")" -eq 3 ]'
E2E_LAST=$E2E_TCPLOG
e2e_check "no state directory: a warning says so, and why" \
  'grep -q "rcptcheck: warning: unable to open .*/nonexistent: No such file or directory; passing counted addresses on (to recover: create the state directory" "$E2E_TCPLOG"'
e2e_check "no state directory: the decision is logged as statefail" 'grep -q "rcptcheck: .*rcpt=steve.3.count@example.net.*reason=statefail" "$E2E_TCPLOG"'
restart rcptcheck -F -e -d "$D/nonexistent" -f "$D/rcpt.cdb" smtpsink -d "$sink"
e2e_swaks --from a@example.org --to steve.3.count@example.net --body clean
e2e_check "no state directory with -F: 451 for the counted address" 'grep -q "^<\*\* 451" "$E2E_LAST"'
e2e_stop "$E2E_TCPSERVER_PID"

# 5. a full file system (a 64 KiB tmpfs filled with dd) and no lock.mdb, as
#    throttle's old advice (remove data.mdb and lock.mdb) left it
full=$D/full
mkdir "$full"
if [ "$(id -u)" -ne 0 ]; then
  e2e_skip "full file system" "mounting a tmpfs needs root"
elif ! mount -t tmpfs -o size=64k tmpfs "$full" 2> "$D/mount.err"; then
  e2e_skip "full file system" "unable to mount a tmpfs: $(cat "$D/mount.err")"
else
  mkdir "$full/state"
  cp "$D/good/data.mdb" "$full/state/"
  dd if=/dev/zero of="$full/fill" bs=4k > /dev/null 2>&1
  e2e_check "full: the file system is full" '[ "$(df -P "$full" | awk "NR == 2 { print \$4 }")" -eq 0 ]'
  E2E_TCPLOG_TO=$D/full.log chain "$full/state" 20/60
  clean full
  refused full
  replies full
  E2E_LAST=$E2E_TCPLOG
  e2e_check "full: throttle warns: free space, do not remove the files" \
    'grep -q "throttle: warning: unable to create .*/lock.mdb: No space left on device; passing on (to recover: free space on the file system of the state directory; removing data.mdb or lock.mdb frees nothing and makes it worse)" "$E2E_TCPLOG"'
  e2e_check "full: rcptcheck warns and passes counted addresses on" \
    'grep -q "rcptcheck: warning: unable to create .*/lock.mdb: No space left on device; passing counted addresses on" "$E2E_TCPLOG"'
  e2e_stop "$E2E_TCPSERVER_PID"
  umount "$full" || e2e_fail "full: unmount the tmpfs" "umount $full failed"
fi
