/* sdu_tag.c: the site key that signs rblcheck's tag, and the tag's MAC (HMAC-SHA-256, libsodium) */
#include <errno.h>
#include <string.h>
#include <sodium.h>
#include "sdu_config.h"
#include "sdu_tag.h"

/* libsodium asks for sodium_init before use; it probes the CPU (CPUID traps
   on a virtual machine), so it runs only when a tag is signed or checked,
   never in a process that does neither. A second call returns at once. */
static int start(void)
{
  return sodium_init() < 0 ? -1 : 0;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 64 hex digits into 32 bytes: 1, or 0 when s is not that */
static int unhex(unsigned char *out, const char *s, size_t len)
{
  size_t i;
  if (len != 2 * SDU_TAG_KEY_BYTES) return 0;
  for (i = 0; i < SDU_TAG_KEY_BYTES; ++i) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i] = (unsigned char) (hi << 4 | lo);
  }
  return 1;
}

static int bad(stralloc *err, sdu_config *cf, const char *msg)
{
  err->len = 0;
  if (!sdu_config_fmt(err, cf, msg, "")) { errno = ENOMEM; return -1; }
  errno = 0;
  return 0;
}

int sdu_tagkeys_load(sdu_tagkeys *k, const char *file, stralloc *err)
{
  sdu_config cf;
  char **w;
  unsigned int n;
  int r, said = 0;

  memset(k, 0, sizeof *k);
  if (sdu_config_open(&cf, file) == -1) {
    int e = errno;
    err->len = 0;
    if (e == EFBIG) {
      cf.file = file; cf.line = 0;
      return bad(err, &cf, "too large for a key file");
    }
    if (!stralloc_copys(err, "unable to read ") || !stralloc_cats(err, file)) e = ENOMEM;
    errno = e;
    return -1;
  }
  while ((r = sdu_config_next(&cf, &w, &n)) == 1) {
    const char *m = 0;
    if (n != 1) m = "one key a line";
    else if (k->n >= SDU_TAG_KEYS_MAX) m = "more than two keys";
    else if (!unhex(k->key[k->n], w[0], strlen(w[0]))) m = "not a key: 64 hex digits (32 bytes) expected";
    if (m) { said = 1; r = bad(err, &cf, m); break; }
    ++k->n;
  }
  if (!said) {
    if (r == -1) r = bad(err, &cf, sdu_config_error(&cf));
    else if (!k->n) { cf.line = 0; r = bad(err, &cf, "no key"); }
    else r = 1;
  }
  if (cf.buf) sodium_memzero(cf.buf, cf.len);
  sdu_config_free(&cf);
  if (r != 1) sdu_tagkeys_wipe(k);
  return r;
}

void sdu_tagkeys_wipe(sdu_tagkeys *k)
{
  sodium_memzero(k, sizeof *k);
}

int sdu_tag_sign(stralloc *out, const sdu_tagkeys *k, const char *fields, size_t len)
{
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
  if (start() == -1 || !k->n) return -1;
  crypto_auth_hmacsha256(mac, (const unsigned char *) fields, len, k->key[0]);
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return stralloc_cats(out, " mac=") && stralloc_catb(out, hex, SDU_TAG_MAC_HEX);
}

int sdu_tag_verify(const sdu_tagkeys *k, const char *line, size_t len, unsigned int *which)
{
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  size_t i, at;
  unsigned int j;
  /* the last word, "mac=" and 64 hex digits */
  for (i = len; i > 0 && line[i - 1] != ' '; --i) ;
  if (!i || len - i < 4 || memcmp(line + i, "mac=", 4)) return SDU_TAG_NOMAC;
  at = i - 1;
  i += 4;
  if (len - i != SDU_TAG_MAC_HEX) return SDU_TAG_BADMAC;
  for (j = 0; j < SDU_TAG_MAC_HEX; ++j)
    if (!((line[i + j] >= '0' && line[i + j] <= '9') || (line[i + j] >= 'a' && line[i + j] <= 'f'))) return SDU_TAG_BADMAC;
  if (!unhex(mac, line + i, SDU_TAG_MAC_HEX)) return SDU_TAG_BADMAC;
  if (start() == -1) return SDU_TAG_FAIL;
  for (j = 0; j < k->n; ++j)
    if (crypto_auth_hmacsha256_verify(mac, (const unsigned char *) line, at, k->key[j]) == 0) {
      if (which) *which = j;
      return SDU_TAG_OK;
    }
  return SDU_TAG_BADMAC;
}
