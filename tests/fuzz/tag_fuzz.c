/* tag_fuzz.c: libFuzzer target for the tag check: dates, MAC lines, a tag below our Received line (tests/fuzz/tag.t.sh) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "spamgrab_parse.h"
#include "spamgrab_tag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const hosts[] = { "mx.example.net", 0 };
static const char recv[] = "Received: from x (HELO y) (192.0.2.7)\n  by mx.example.net with SMTP; ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sdu_tagkeys k;
  sg_client c;
  unsigned long long t;
  unsigned int which, i;
  char *s = malloc(size + 1), *h = malloc(sizeof recv + size);
  if (!s || !h) { free(s); free(h); return 0; }
  memcpy(s, data, size);
  s[size] = 0;
  /* the input as a date, as rblcheck's date=, as a signed line */
  sg_date_parse(s, &t);
  sg_tag_date(s, size, &t);
  memset(&k, 0, sizeof k);
  k.n = 2;
  for (i = 0; i < SDU_TAG_KEY_BYTES; ++i) { k.key[0][i] = (unsigned char) i; k.key[1][i] = (unsigned char) (i + 32); }
  which = 9;
  if (sdu_tag_verify(&k, s, size, &which) == SDU_TAG_OK && which > 1) abort();
  /* the input as the rest of a header block: the Received date, then anything */
  memcpy(h, recv, sizeof recv - 1);
  memcpy(h + sizeof recv - 1, data, size);
  if (sg_client_find(h, sizeof recv - 1 + size, hosts, &c) && c.tag) {
    if ((const char *) c.tagline.s < h || c.tagline.s + c.tagline.len > h + sizeof recv - 1 + size) abort();
    if (sg_tag_check(&c, &k) != 0) abort();
    /* nobody without the key makes a tag that passes */
    if (c.tag) abort();
    if (strcmp(c.tagstate, "nomac") && strcmp(c.tagstate, "badmac") && strcmp(c.tagstate, "stale")) abort();
  }
  free(s);
  free(h);
  return 0;
}
