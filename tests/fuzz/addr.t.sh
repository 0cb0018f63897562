#!/bin/sh
# tests/fuzz/addr.t.sh: the MAIL FROM / RCPT TO path parser (common/sdu_addr.c) under libFuzzer, a fixed number of runs
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run addr "${ADDR_FUZZ_RUNS:-200000}" 600 "common/sdu_addr.c" tests/fuzz/addr
