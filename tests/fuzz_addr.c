/* fuzz_addr.c: libFuzzer harness for sdu_smtp_path (not run by make check):
   clang -g -fsanitize=fuzzer,address,undefined -Icommon tests/fuzz_addr.c common/sdu_addr.c -o tests/tmp/fuzz_addr */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int ismail;
  for (ismail = 0; ismail < 2; ++ismail) {
    sdu_path p, q;
    char again[SDU_ADDR_MAX + 16];
    size_t n;
    int r = sdu_smtp_path((const char *) data, size, ismail, &p);
    if (r != 0) {
      if ((r != 501 && r != 553) || !p.err) abort();
      continue;
    }
    if (p.len > SDU_ADDR_MAX || p.addr[p.len] || p.atpos > p.len) abort();
    if (p.params < (const char *) data || p.params + p.paramslen > (const char *) data + size) abort();
    if (p.null) { if (p.len || !ismail) abort(); continue; }
    /* the canonical form is a fixed point */
    n = ismail ? 5 : 3;
    memcpy(again, ismail ? "FROM:<" : "TO:<", n + 1);
    memcpy(again + n + 1, p.addr, p.len);
    again[n + 1 + p.len] = '>';
    if (sdu_smtp_path(again, n + 2 + p.len, ismail, &q) != 0) abort();
    if (q.len != p.len || memcmp(q.addr, p.addr, p.len) || q.atpos != p.atpos) abort();
  }
  return 0;
}
