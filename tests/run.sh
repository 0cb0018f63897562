#!/bin/sh
# tests/run.sh: run every test (unit binaries, then tests/*/*.t.sh scripts),
# count their "ok" / "not ok" / "skip" lines, end with "N passed, N failed".
# usage: sh tests/run.sh [test ...]   (default: every test there is)
cd "$(dirname "$0")/.." || exit 111
top=$(pwd)
export SDU_TOP="$top"
mkdir -p tests/tmp
out=tests/tmp/run.$$.out
passed=0 failed=0 skipped=0

if [ $# -eq 0 ]; then
  for f in tests/unit/t_*; do
    case "$f" in *.c|*.o) ;; *) [ -x "$f" ] && set -- "$@" "$f" ;; esac
  done
  set -- "$@" tests/*/*.t.sh
fi

for t in "$@"; do
  [ -f "$t" ] || continue
  case "$t" in
    *.sh) cmd="sh $t" ;;
    *) [ -x "$t" ] || continue; cmd="./$t" ;;
  esac
  timeout -k 10 900 $cmd > "$out" 2>&1
  rc=$?
  p=$(grep -c '^ok ' "$out")
  f=$(grep -c '^not ok ' "$out")
  s=$(grep -c '^skip ' "$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $t exited $rc" >> "$out"
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$f" -gt 0 ]; then
    echo "FAIL $t ($p passed, $f failed)"
    grep -v '^ok ' "$out" | sed 's/^/    /'
  else
    echo "pass $t ($p passed${s:+, $s skipped})"
    grep '^skip ' "$out" | sed 's/^/    /'
  fi
done
rm -f "$out"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
