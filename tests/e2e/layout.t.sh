#!/bin/sh
# tests/e2e/layout.t.sh: the static builds' chain/sdu-chain is linked in the order of
# chain/hot.order (chain/hot-musl.order with musl; Makefile, CHAIN_ORDER; tools/hotorder.sh
# writes them): the code a clean connection runs lies together at the start of the text
# (libc's start-up, rblcheck, the DNS code, the proxy, throttle, rcptcheck, LMDB's
# transactions), not over 900 KB as in link order; libc's variables it touches at the start
# of .bss, not 70 KB into it; and chain/front.ld puts .init and LMDB's text_env in front of
# .text, not after its 4 MB. Each 64 KB window of text and each page of data is a page
# fault of every connection. The sanitizers' build is linked otherwise: skipped there.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init layout
e2e_need_prog nm readelf
B=$E2E_TOP/chain/sdu-chain
[ -x "$B" ] || { echo "not ok - layout: $B not built"; exit 1; }
if readelf -l "$B" | grep -q INTERP; then
  e2e_skip layout "the sanitizers' build is linked dynamically, in link order"; exit 0
fi
nm "$B" > "$E2E_DIR/nm"
readelf -SW "$B" > "$E2E_DIR/sections"
addr() { awk -v s="$1" '$3 == s { print $1; exit }' "$E2E_DIR/nm"; }
section() { awk -v s="$1" '{ for (i = 1; i < NF; i++) if ($i == s) { print $(i + 2); exit } }' "$E2E_DIR/sections"; }
start=$(addr _start)
for f in __libc_start_main rblcheck_main sdu_dns_run_servers_watch sdu_proxy_run \
  throttle_main rc_session_rcpt mdb_txn_begin; do
  a=$(addr "$f")
  d=$(( 0x${a:-0} - 0x${start:-0} ))
  e2e_check "$f lies in the hot text, $d bytes from _start (at most 512 KB)" \
    '[ -n "$a" ] && [ -n "$start" ] && [ "$d" -ge 0 ] && [ "$d" -lt 524288 ]'
done
text=$(section .text)
for s in .init text_env; do
  a=$(section "$s")
  e2e_check "$s in front of .text" '[ -n "$a" ] && [ -n "$text" ] && [ $(( 0x$a )) -lt $(( 0x$text )) ] && [ $(( 0x$text - 0x$a )) -lt 65536 ]'
done
bss=$(section .bss)
a=$(addr __environ)
d=$(( 0x${a:-0} - 0x${bss:-0} ))
e2e_check "libc's __environ at the start of .bss ($d bytes in, at most 4 KB)" \
  '[ -n "$a" ] && [ -n "$bss" ] && [ "$d" -ge 0 ] && [ "$d" -lt 4096 ]'
# the order file is whole: start-up, rblcheck, the proxy, LMDB
O=$E2E_TOP/chain/hot.order
case $(cat "$E2E_TOP/common/build-flags" 2> /dev/null) in musl-gcc*) O=$E2E_TOP/chain/hot-musl.order ;; esac
e2e_check "${O##*/} names the start-up, rblcheck, the proxy and LMDB" \
  '[ "$(grep -cx -e _start -e rblcheck_main -e session -e throttle_main -e mdb_txn_begin -e environ "$O")" -eq 6 ]'
# musl: chain/musl.ld puts the writable segment before the text, so that the ELF header,
# the hot rodata and text and the variables a connection touches lie in the image's first
# 2 MB (one page table, ~14 us a process on a virtual machine); .init_array, .data and
# the start of .bss (libc's __environ) in one page, the last of the file's data, which the
# kernel writes at exec (one fault for what libc reads and writes at start-up, not three);
# the hot section on a page of its own; the page-aligned arrays after .bss
case $(cat "$E2E_TOP/common/build-flags" 2> /dev/null) in
  musl-gcc*)
    readelf -lW "$B" | awk '$1 == "LOAD" { print $3, $5, $7 $8 }' > "$E2E_DIR/loads"
    rw=$(awk '$3 ~ /W/ { print $1; exit }' "$E2E_DIR/loads")
    rx=$(awk '$3 ~ /E/ { print $1; exit }' "$E2E_DIR/loads")
    first=$(awk '{ print $1; exit }' "$E2E_DIR/loads")
    bssend=$(awk '{ for (i = 1; i < NF; i++) if ($i == ".bss") { print $(i + 2), $(i + 4); exit } }' "$E2E_DIR/sections")
    e2e_check "the writable segment before the text" \
      '[ -n "$rw" ] && [ -n "$rx" ] && [ $(( rw )) -lt $(( rx )) ]'
    e2e_check "_start within 2 MB of the image's start" \
      '[ -n "$start" ] && [ -n "$first" ] && [ $(( 0x$start - first )) -lt 2097152 ]'
    e2e_check ".bss ends before the text" \
      '[ -n "$bssend" ] && [ $(( 0x${bssend% *} + 0x${bssend#* } )) -le $(( rx )) ]'
    ia=$(section .init_array); da=$(section .data); env=$(addr __environ)
    e2e_check ".init_array, .data and libc's __environ in one page" \
      '[ -n "$ia" ] && [ -n "$da" ] && [ -n "$env" ] && [ $(( 0x$ia / 4096 )) -eq $(( 0x$da / 4096 )) ] && [ $(( 0x$ia / 4096 )) -eq $(( 0x$env / 4096 )) ]'
    fs=$(readelf -lW "$B" | awk '$1 == "LOAD" && $7 ~ /W/ { print $3, $5; exit }')
    e2e_check "that page is the last of the file's data (the kernel writes it at exec)" \
      '[ -n "$fs" ] && [ -n "$ia" ] && [ $(( (${fs% *} + ${fs#* } - 1) / 4096 )) -eq $(( 0x$ia / 4096 )) ]'
    hot=$(section sdu_hot)
    e2e_check "the hot section begins a page, before that one" \
      '[ -n "$hot" ] && [ $(( 0x$hot % 4096 )) -eq 0 ] && [ $(( 0x$hot / 4096 )) -lt $(( 0x$ia / 4096 )) ]'
    lb=$(section .lbss); q=$(addr firstarea)
    e2e_check "the arrays on pages of their own after .bss (.lbss)" \
      '[ -n "$lb" ] && [ -n "$q" ] && [ -n "$bssend" ] && [ $(( 0x$lb )) -ge $(( 0x${bssend% *} + 0x${bssend#* } )) ] && [ $(( 0x$q )) -ge $(( 0x$lb )) ]'
    ;;
esac
