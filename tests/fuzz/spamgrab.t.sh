#!/bin/sh
# tests/fuzz/spamgrab.t.sh: spamgrab's parser (spamgrab/spamgrab_parse.c) under libFuzzer, a fixed number of runs, from the sample messages
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run spamgrab "${SPAMGRAB_FUZZ_RUNS:-20000}" 16384 \
  "spamgrab/spamgrab_parse.c common/sdu_ip.c common/sdu_msg.c" \
  tests/data/spamgrab
