#!/bin/sh
# run.t.sh: transcript tests in the cram manner. In tests/transcript/*.t a line
# "  $ cmd" is a command (continued by "  > more"), the indented lines after it
# are its expected output (stdout and stderr together, "[N]" for exit code N);
# other lines are comments. Commands of one file share a scratch directory.
top=${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PATH="$top/tests:$top/rblcheck:$top/throttle:$top/rcptcheck:$top/spamgrab:$top/tests/transcript/bin:$PATH"
export PATH
LC_ALL=C; export LC_ALL
for t in "$top"/tests/transcript/*.t; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .t)
  work="$top/tests/tmp/transcript.$name.$$"
  rm -rf "$work"; mkdir -p "$work/cmd"
  awk -v dir="$work/cmd" '
    function flush() { if (n) { close(c); close(e) } }
    /^  \$ / { flush(); n++; c = dir "/" n ".sh"; e = dir "/" n ".exp";
               print substr($0, 5) > c; printf "" > e; cur = 1; next }
    /^  > / && cur { print substr($0, 5) >> c; next }
    /^  / && n { print substr($0, 3) >> e; next }
    { cur = 0 }
    END { flush() }' "$t"
  i=1
  while [ -f "$work/cmd/$i.sh" ]; do
    (cd "$work" && TESTDIR="$top/tests/transcript" sh "$work/cmd/$i.sh" > "$work/cmd/$i.out" 2>&1
     rc=$?; [ $rc -ne 0 ] && echo "[$rc]" >> "$work/cmd/$i.out"; exit 0)
    desc="$name: $(head -n 1 "$work/cmd/$i.sh" | cut -c1-60)"
    if cmp -s "$work/cmd/$i.exp" "$work/cmd/$i.out"; then
      printf "ok - %s\n" "$desc"
    else
      printf "not ok - %s\n" "$desc"
      diff -u "$work/cmd/$i.exp" "$work/cmd/$i.out" | sed 's/^/#   /' | head -40
    fi
    i=$((i + 1))
  done
  rm -rf "$work"
done
