#!/bin/sh
# tests/fuzz/policy.t.sh: rblcheck's policy parser and decisions (rblcheck/rblcheck_policy.c) under libFuzzer, a fixed number of runs
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run policy "${POLICY_FUZZ_RUNS:-50000}" 8192 \
  "rblcheck/rblcheck_policy.c common/sdu_tag.c common/sdu_config.c common/sdu_ip.c common/sdu_msg.c common/sdu_dns.c common/sdu_time.c common/sdu_env.c common/sdu_smtp.c" \
  tests/fuzz/policy tools/examples/rblcheck.conf tools/examples/rblsmtpd.conf
