#!/bin/sh
# tests/fuzz/tag.t.sh: spamgrab's check of rblcheck's tag (dates, MAC, window; spamgrab/spamgrab_tag.c, common/sdu_tag.c) under libFuzzer, a fixed number of runs: no tag passes without the key
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run tag "${TAG_FUZZ_RUNS:-20000}" 4096 \
  "spamgrab/spamgrab_tag.c spamgrab/spamgrab_parse.c common/sdu_tag.c common/sdu_config.c common/sdu_ip.c common/sdu_msg.c" \
  tests/fuzz/tag
