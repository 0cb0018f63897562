#!/bin/sh
# tests/fuzz/config.t.sh: the config reader (common/sdu_config.c) under libFuzzer, a fixed number of runs
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run config "${CONFIG_FUZZ_RUNS:-50000}" 8192 "common/sdu_config.c common/sdu_msg.c" tests/fuzz/config \
  tools/examples/rblcheck.conf tools/examples/rblsmtpd.conf tools/examples/spamgrab.conf
