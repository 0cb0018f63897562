/* spamgrab_fuzz.c: libFuzzer target for spamgrab's parser (built and run by tests/fuzz/spamgrab.t.sh) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "spamgrab_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const hosts[] = { "mx.example.net", 0 };

static void inside(const sg_span *s, const uint8_t *data, size_t size)
{
  if (!s->len) return;
  if ((const uint8_t *) s->s < data || (const uint8_t *) s->s + s->len > data + size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sg_parsed p;
  int manual;
  /* a copy of exactly size bytes, so that ASan sees any read past the end */
  char *m = malloc(size ? size : 1);
  if (!m) return 0;
  memcpy(m, data, size);
  for (manual = 0; manual < 2; ++manual) {
    unsigned int i;
    int k = sg_parse(&p, m, size, manual, hosts);
    if (k < SG_GARBAGE || k > SG_DOUBLE) abort();
    inside(&p.orig, (const uint8_t *) m, size);
    inside(&p.inner, (const uint8_t *) m, size);
    if (p.nrcpt > SG_RCPT_MAX) abort();
    for (i = 0; i < p.nrcpt; ++i) if (strlen(p.rcpt[i]) > SG_ADDR_MAX) abort();
    if (strlen(p.mailfrom) > SG_ADDR_MAX || strlen(p.client.lists) > SG_LISTS_MAX) abort();
    if (p.client.tag && !p.client.found) abort();
  }
  free(m);
  return 0;
}
