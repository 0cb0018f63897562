/* addr_fuzz.c: libFuzzer target for the MAIL FROM / RCPT TO path parser (built and run by tests/fuzz/addr.t.sh) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int printable(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) if ((unsigned char) s[i] < 32 || (unsigned char) s[i] > 126) return 0;
  return 1;
}

/* what any successful parse must give */
static void check_ok(const sdu_path *p, int ismail)
{
  size_t dl, i;
  const char *d;
  if (p->err) abort();
  if (p->null) { if (p->len || p->addr[0] || !ismail) abort(); return; }
  if (!p->len || p->len > SDU_ADDR_MAX || p->addr[p->len] || strlen(p->addr) != p->len) abort();
  if (!printable(p->addr, p->len)) abort();
  if (p->atpos == p->len) {
    /* only <postmaster> goes without a domain, and only as a recipient */
    if (ismail || strcmp(p->addr, "postmaster")) abort();
    return;
  }
  if (p->atpos > p->len || p->addr[p->atpos] != '@' || !p->atpos || p->atpos > SDU_LOCAL_MAX) abort();
  d = p->addr + p->atpos + 1;
  dl = p->len - p->atpos - 1;
  if (!dl || dl > SDU_DOMAIN_MAX) abort();
  if (d[0] == '[') { if (d[dl - 1] != ']') abort(); return; }
  if (d[dl - 1] == '.' || d[0] == '.') abort();
  for (i = 0; i < dl; ++i)
    if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= '0' && d[i] <= '9') || d[i] == '-' || d[i] == '.')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *arg = (const char *) data;
  int ismail;
  for (ismail = 0; ismail < 2; ++ismail) {
    sdu_path p, q;
    char again[16 + SDU_ADDR_MAX + 2048];
    size_t n;
    int r = sdu_smtp_path(arg, size, ismail, &p);
    if (r != 0) {
      /* a refusal: the right code, a bounded printable text, no address */
      if ((r != 501 && r != 553) || !p.err) abort();
      if (strncmp(p.err, "5.", 2) || strlen(p.err) > 80 || !printable(p.err, strlen(p.err))) abort();
      if (p.addr[0] || p.len) abort();
      continue;
    }
    check_ok(&p, ismail);
    if (p.params < arg || p.params + p.paramslen > arg + size) abort();
    if (p.paramslen > 2048) continue;
    /* the canonical form, with the same parameters, parses to itself */
    n = ismail ? 5 : 3;
    memcpy(again, ismail ? "FROM:<" : "TO:<", n + 1);
    memcpy(again + n + 1, p.addr, p.len);
    n += 1 + p.len;
    again[n++] = '>';
    if (p.paramslen) {
      again[n++] = ' ';
      memcpy(again + n, p.params, p.paramslen);
      n += p.paramslen;
    }
    if (sdu_smtp_path(again, n, ismail, &q) != 0) abort();
    if (q.len != p.len || memcmp(q.addr, p.addr, p.len) || q.atpos != p.atpos || q.null != p.null) abort();
    if (q.paramslen != p.paramslen || memcmp(q.params, p.params, p.paramslen)) abort();
  }
  return 0;
}
