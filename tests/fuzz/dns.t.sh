#!/bin/sh
# tests/fuzz/dns.t.sh: the DNS answer parser (sdu_dns_packet, common/sdu_dns.c) under libFuzzer, a fixed number of runs
. "${SDU_TOP:-$(dirname "$0")/../..}/tests/lib/fuzz.sh"
fuzz_run dns "${DNS_FUZZ_RUNS:-200000}" 4097 "common/sdu_dns.c common/sdu_time.c common/sdu_env.c" tests/fuzz/dns
