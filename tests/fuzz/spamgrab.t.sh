#!/bin/sh
# tests/fuzz/spamgrab.t.sh: build the libFuzzer target of spamgrab's parser with clang and run it a fixed number of times
cd "${SDU_TOP:-$(dirname "$0")/../..}" || exit 111
runs=${SPAMGRAB_FUZZ_RUNS:-20000}
if ! command -v clang > /dev/null 2>&1; then echo "skip - spamgrab fuzz: no clang"; exit 0; fi
dir=tests/tmp/fuzz-spamgrab.$$
rm -rf "$dir"
mkdir -p "$dir/corpus" || exit 111
trap 'rm -rf "$dir"' EXIT
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon -Ispamgrab \
    -o "$dir/fuzz" tests/fuzz/spamgrab_fuzz.c spamgrab/spamgrab_parse.c common/sdu_ip.c common/sdu_msg.c -lowfat > "$dir/build.log" 2>&1; then
  if grep -q 'libclang_rt.fuzzer\|fsanitize=fuzzer' "$dir/build.log"; then
    echo "skip - spamgrab fuzz: clang has no libFuzzer runtime"
    sed 's/^/# /' "$dir/build.log" | head -5
    exit 0
  fi
  echo "not ok - spamgrab fuzz target builds"
  sed 's/^/# /' "$dir/build.log" | head -20
  exit 1
fi
echo "ok - spamgrab fuzz target builds"
cp tests/data/spamgrab/*.eml "$dir/corpus/"
if "$dir/fuzz" -runs="$runs" -seed=1 -artifact_prefix="$dir/" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
    "$dir/corpus" > "$dir/run.log" 2>&1; then
  echo "ok - spamgrab parser survives $runs fuzzed inputs"
else
  echo "not ok - spamgrab parser survives $runs fuzzed inputs"
  grep -v '^#\|^INFO\|NEW\|REDUCE\|pulse' "$dir/run.log" | head -30 | sed 's/^/# /'
  mkdir -p tests/tmp/fuzz-spamgrab-crash
  cp "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* tests/tmp/fuzz-spamgrab-crash/ 2>/dev/null
  exit 1
fi
