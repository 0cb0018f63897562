#!/bin/sh
# tests/fuzz/smtp.t.sh: SMTP command and reply parsing (common/sdu_smtp.c, with the path parser) under libFuzzer, a fixed number of runs
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run smtp "${SMTP_FUZZ_RUNS:-100000}" 2048 "common/sdu_smtp.c common/sdu_addr.c common/sdu_msg.c" tests/fuzz/smtp
