#!/bin/sh
# tests/fuzz/tag.t.sh: build the libFuzzer target of the tag check (dates, MAC, window) with clang and run it a fixed number of times
cd "${SDU_TOP:-$(dirname "$0")/../..}" || exit 111
runs=${TAG_FUZZ_RUNS:-20000}
if ! command -v clang > /dev/null 2>&1; then echo "skip - tag fuzz: no clang"; exit 0; fi
dir=tests/tmp/fuzz-tag.$$
rm -rf "$dir"
mkdir -p "$dir/corpus" || exit 111
trap 'rm -rf "$dir"' EXIT
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon -Ispamgrab \
    -o "$dir/fuzz" tests/fuzz/tag_fuzz.c spamgrab/spamgrab_tag.c spamgrab/spamgrab_parse.c common/sdu_tag.c \
    common/sdu_config.c common/sdu_ip.c common/sdu_msg.c -lsodium -lowfat > "$dir/build.log" 2>&1; then
  if grep -q 'libclang_rt.fuzzer\|fsanitize=fuzzer' "$dir/build.log"; then
    echo "skip - tag fuzz: clang has no libFuzzer runtime"
    sed 's/^/# /' "$dir/build.log" | head -5
    exit 0
  fi
  echo "not ok - tag fuzz target builds"
  sed 's/^/# /' "$dir/build.log" | head -20
  exit 1
fi
echo "ok - tag fuzz target builds"
# seeds: a date and tag lines as rblcheck writes them, signed and not
printf '2 Dec 2026 11:25:19 -0000\nX-RBLCheck: ip=192.0.2.7 lists=dul score=1 action=tag date=2026-12-02T11:25:19Z mac=%s\n' \
  9ca772147b4767b258877ac267d489a15663c1f0ed509409385db2207245fd56 > "$dir/corpus/signed"
printf 'Wed, 02 Dec 2026 12:25:19 +0100 (CET)\nX-RBLCheck: ip=192.0.2.7 lists=dul,pbl action=throttle\n' > "$dir/corpus/plain"
printf '2026-12-02T11:25:19Z' > "$dir/corpus/date"
if "$dir/fuzz" -runs="$runs" -seed=1 -artifact_prefix="$dir/" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
    "$dir/corpus" > "$dir/run.log" 2>&1; then
  echo "ok - the tag check survives $runs fuzzed inputs, and passes no tag without the key"
else
  echo "not ok - the tag check survives $runs fuzzed inputs, and passes no tag without the key"
  grep -v '^#\|^INFO\|NEW\|REDUCE\|pulse' "$dir/run.log" | head -30 | sed 's/^/# /'
  mkdir -p tests/tmp/fuzz-tag-crash
  cp "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* tests/tmp/fuzz-tag-crash/ 2>/dev/null
  exit 1
fi
