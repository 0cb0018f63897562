#!/bin/sh
# bench/spamgrab.sh: double-bounces per second with one spamgrab process per message (as qmail-local
# runs it) against /bin/true and cat started the same way; the parser alone in MB/s against a memchr
# pass; peak memory against message size. usage: sh bench/spamgrab.sh [ runs ]   (after make)
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-5000}
w=$top/tests/tmp/bench-spamgrab.$$
mkdir -p "$w/state" "$w/review/tmp" "$w/review/new" "$w/review/cur" || exit 111
trap 'rm -rf "$w"' EXIT INT TERM
sg=$top/spamgrab/spamgrab
data=$top/tests/data/spamgrab
cc -O2 -std=c99 -D_DEFAULT_SOURCE -D_GNU_SOURCE -I"$top/common" -I"$top/spamgrab" -o "$w/bench" \
  "$top/bench/spamgrab_bench.c" "$top/spamgrab/spamgrab_parse.o" "$top/common/libsdu.a" -lowfat || exit 111
cat > "$w/conf" <<EOC
me mx.example.net
state $w/state
review $w/review
inject /bin/true
ptr no
operator orbs orbs@lists.test
cap 1000000
EOC

echo "# one process per message, $n runs each"
printf 'anchor /bin/true:            '; "$w/bench" spawn "$n" "$data/db01.eml" /bin/true
printf 'anchor cat:                  '; "$w/bench" spawn "$n" "$data/db01.eml" cat
"$sg" -f "$w/conf" < "$data/db01.eml" 2>/dev/null
printf 'spamgrab, known host:        '; "$w/bench" spawn "$n" "$data/db01.eml" "$sg" -f "$w/conf"
printf 'spamgrab, not a bounce:      '; "$w/bench" spawn "$n" "$data/single-01.eml" "$sg" -f "$w/conf"
# a new host every time: the whole report path (contact by PSL, injector, review file, cache)
m=$((n / 5))
rm -rf "$w/state"/*
# the report path with $m distinct hosts: each process gets another address
awk -v m="$m" -v f="$data/db01.eml" -v d="$w" 'BEGIN { while ((getline l < f) > 0) body = body l "\n";
  for (i = 0; i < m; i++) { b = body; sub(/\(198\.51\.100\.7\)/, "(10.9." int(i / 256) % 256 "." i % 256 ")", b);
    printf "%s", b > (d "/m" i ".eml"); close(d "/m" i ".eml") } }'
t0=$(date +%s.%N)
i=0
while [ $i -lt "$m" ]; do "$sg" -f "$w/conf" < "$w/m$i.eml" 2>/dev/null; i=$((i + 1)); done
t1=$(date +%s.%N)
t2=$(date +%s.%N)
i=0
while [ $i -lt "$m" ]; do /bin/true < "$w/m$i.eml"; i=$((i + 1)); done
t3=$(date +%s.%N)
echo "spamgrab, new host (report, review file, cache), shell loop: $(echo "$m / ($t1 - $t0)" | bc -l | cut -d. -f1)/s; /bin/true in the same loop: $(echo "$m / ($t3 - $t2)" | bc -l | cut -d. -f1)/s; reports saved: $(ls "$w/review/new" | wc -l)"

echo "# the parser alone, every sample"
"$w/bench" parse 2 "$data"/*.eml

echo "# peak memory (KiB) against message size; target: at most 2 * size + 2 MiB"
for mb in 1 8 24; do
  f=$w/big$mb.eml
  { sed -n '1,/^Content-Transfer-Encoding/p' "$data/db01.eml"; echo
    head -c $((mb * 1024 * 1024)) /dev/zero | tr '\0' 'x' | fold -w 76; } > "$f"
  size=$(($(wc -c < "$f") / 1024))
  rm -rf "$w/state"/*
  r=$("$top/tests/sdu-maxrss" "$sg" -f "$w/conf" < "$f" 2>&1 >/dev/null | sed -n 's/^maxrss_kib=//p')
  rt=$("$top/tests/sdu-maxrss" cat < "$f" 2>&1 >/dev/null | sed -n 's/^maxrss_kib=//p')
  echo "size_kib=$size spamgrab_maxrss_kib=$r limit_kib=$((2 * size + 2048)) cat_maxrss_kib=$rt $( [ "$r" -le $((2 * size + 2048)) ] && echo within || echo OVER)"
done
