#!/bin/sh
# tests/e2e/memory.t.sh: spamgrab's peak memory in the build under test, run as qmail-local
# runs it (the message on stdin, a file or a pipe, SENDER and the rest in the environment):
# at most 2 x the message + 2 MiB (spamgrab(1), INSTALL 2), for a 200 KiB and an 8 MiB
# double-bounce that is reported (injector, review Maildir, cache, contact by the PSL)
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init memory
SG="$E2E_TOP/spamgrab/spamgrab"
MAXRSS="$E2E_TOP/tests/sdu-maxrss"
[ -x "$SG" ] && [ -x "$MAXRSS" ] || { echo "not ok - spamgrab or tests/sdu-maxrss is not built"; exit 1; }
D=$E2E_DIR
if [ "${SDU_SANITIZE:-}" = 1 ]; then
  # ASan's shadow memory and quarantine (every freed block kept) say nothing of the programs'
  e2e_skip "spamgrab's peak memory" "a SANITIZE=1 build: ASan's own memory makes the peak meaningless"
  exit 0
fi

# the injector reads the report whole, as qmail-inject does
printf '#!/bin/sh\nexec cat > /dev/null\n' > "$D/inject"
chmod 755 "$D/inject"
mkdir -p "$D/state" "$D/review/tmp" "$D/review/new" "$D/review/cur"
cat > "$D/conf" <<EOF
me mx.example.net
state $D/state
review $D/review
inject $D/inject
ptr no
operator orbs orbs@lists.test
EOF
# a real double-bounce (db01) whose original carries KIB KiB of text
big() {
  { sed -n '1,/^Content-Transfer-Encoding/p' "$E2E_TOP/tests/data/spamgrab/db01.eml"; echo
    head -c $(($1 * 1024)) /dev/zero | tr '\0' x | fold -w 76; } > "$D/m$1.eml"
}
# run KIB file|pipe: spamgrab on a fresh state with qmail-local's environment; RC, RSS in KiB.
# No env(1) in between: the peak of a process that execs counts for what it runs next.
run() {
  rm -rf "$D/state"/* "$D/review/new"/*
  if [ "$2" = file ]; then (qlenv; exec "$MAXRSS" "$SG" -f "$D/conf" < "$D/m$1.eml" > /dev/null 2> "$D/log")
  else cat "$D/m$1.eml" | (qlenv; exec "$MAXRSS" "$SG" -f "$D/conf" > /dev/null 2> "$D/log"); fi
  RC=$?
  RSS=$(sed -n 's/^maxrss_kib=//p' "$D/log")
  SIZE=$(($(wc -c < "$D/m$1.eml") / 1024))
  LIMIT=$((2 * SIZE + 2048))
}
qlenv() {
  SENDER='#@[]' NEWSENDER='#@[]' RECIPIENT=alias-doublebounce@mx.example.net USER=alias HOME=$D \
    LOCAL=alias-doublebounce HOST=mx.example.net EXT=doublebounce \
    DTLINE='Delivered-To: alias-doublebounce@mx.example.net' RPLINE='Return-Path: <#@[]>'
  export SENDER NEWSENDER RECIPIENT USER HOME LOCAL HOST EXT DTLINE RPLINE
}
E2E_LAST=$D/log
for k in 200 8192; do
  big $k
  for how in file pipe; do
    run $k $how
    e2e_check "a $SIZE KiB double-bounce from a $how: reported, peak ${RSS:-?} KiB within $LIMIT KiB" \
      '[ "$RC" = 99 ] && grep -q "action=report" "$D/log" && [ -n "$RSS" ] && [ "$RSS" -le "$LIMIT" ]'
  done
done
