/* rcptcheck_table.c: the recipient table: coverage of domains and qmail's lookup order */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uint32.h>
#include "sdu_config.h"
#include "sdu_addr.h"
#include "rcptcheck_table.h"

void rc_table_init(rc_table *t)
{
  memset(t, 0, sizeof *t);
  t->db.fd = -1;
  t->alldomains = 1;
}

int rc_table_get(rc_table *t, const char *key, size_t len, stralloc *val)
{
  if (!t->open) return 0;
  return sdu_cdb_get(&t->db, key, len, val);
}

#define KEY_MAX 65536 /* a longer key is damage */

static int damaged(rc_table *t, const char *why)
{
  t->why = why;
  errno = EPROTO;
  return 1;
}

/* the head of the record at pos: 0 ok, 1 damaged (it runs past the records), -1 read error */
static int head(rc_table *t, unsigned long pos, uint32 *klen, uint32 *dlen)
{
  char h[8];
  if (pos + 8 > t->recend) return damaged(t, "a record runs past the records");
  if (cdb_read(&t->db.c, (unsigned char *) h, 8, (uint32) pos) == -1) return -1;
  uint32_unpack(h, klen);
  uint32_unpack(h + 4, dlen);
  if (*klen > KEY_MAX || (unsigned long long) pos + 8 + *klen + *dlen > t->recend) return damaged(t, "a record runs past the records");
  return 0;
}

/* the key of the record at pos (head already read) is found there by a lookup */
static int foundat(rc_table *t, unsigned long pos, uint32 klen, int exact)
{
  int r;
  if (!stralloc_ready(&t->key, klen ? klen : 1)) { errno = ENOMEM; return -1; }
  if (cdb_read(&t->db.c, (unsigned char *) t->key.s, klen, (uint32) pos + 8) == -1) return -1;
  r = cdb_find(&t->db.c, (const unsigned char *) t->key.s, klen);
  if (r == -1) return -1;
  if (!r) return damaged(t, "a record is not found by its key");
  /* duplicates of a key in a list: the first one is the one found */
  if (exact && cdb_datapos(&t->db.c) != pos + 8 + klen) return damaged(t, "a record is not found by its key");
  return 0;
}

static int digits(const char *s, unsigned int base, int width, unsigned long long *v)
{
  int i;
  *v = 0;
  for (i = 0; i < width; ++i) {
    unsigned int d;
    if (s[i] >= '0' && s[i] <= '9') d = (unsigned int) (s[i] - '0');
    else if (base == 16 && s[i] >= 'a' && s[i] <= 'f') d = (unsigned int) (s[i] - 'a' + 10);
    else return 0;
    *v = *v * base + d;
  }
  return 1;
}

/* The cheap check at open: the header's layout (records, where they end),
   the first record found by its key; when the first record is the check
   record, its count and lengths against the header and the file, and the
   last record. 0 ok, 1 damaged (t->why), -1 read failure. */
static int check(rc_table *t)
{
  unsigned char h[2048];
  char v[RC_CHECK_LEN];
  unsigned long long slots = 0, tabend = 0, n, bytes, last, sum;
  uint32 klen, dlen, klast, dlast;
  struct stat st;
  unsigned int i;
  int r;

  if (cdb_read(&t->db.c, h, sizeof h, 0) == -1) return -1;
  if (fstat(t->db.fd, &st) == -1) return -1;
  t->recend = (unsigned long) st.st_size;
  for (i = 0; i < 256; ++i) {
    uint32 pos, s;
    uint32_unpack((const char *) h + 8 * i, &pos);
    uint32_unpack((const char *) h + 8 * i + 4, &s);
    /* the hash tables follow the records: the lowest one is their end */
    if (s && pos < t->recend) t->recend = pos;
    slots += s;
    if (pos + 8ULL * s > tabend) tabend = pos + 8ULL * s;
  }
  /* cdb_make gives every table two slots a record */
  t->nrec = (unsigned long) (slots / 2);
  /* no records: the file is the header alone */
  if (!slots) return st.st_size == 2048 ? 0 : damaged(t, "the header counts no records, the file holds some");
  if ((r = head(t, 2048, &klen, &dlen))) return r;
  t->firstend = 2048 + 8 + klen + dlen;
  if (klen != sizeof RC_CHECK - 1) return foundat(t, 2048, klen, 0);
  if (!stralloc_ready(&t->key, klen)) { errno = ENOMEM; return -1; }
  if (cdb_read(&t->db.c, (unsigned char *) t->key.s, klen, 2048 + 8) == -1) return -1;
  if (memcmp(t->key.s, RC_CHECK, klen)) return foundat(t, 2048, klen, 0);

  /* a table of rcptcheck-build with its check record */
  if (dlen != RC_CHECK_LEN) return damaged(t, "the check record is not understood");
  if (cdb_read(&t->db.c, (unsigned char *) v, sizeof v, 2048 + 8 + klen) == -1) return -1;
  i = sizeof RC_CHECK_HEAD - 1;
  if (memcmp(v, RC_CHECK_HEAD, i) || !digits(v + i, 10, 10, &n) || memcmp(v + i + 10, " bytes=", 7)
      || !digits(v + i + 17, 10, 10, &bytes) || memcmp(v + i + 27, " last=", 6)
      || !digits(v + i + 33, 10, 10, &last) || memcmp(v + i + 43, " sum=", 5) || !digits(v + i + 48, 16, 16, &sum))
    return damaged(t, "the check record is not understood");
  if (n != t->nrec) return damaged(t, "the check record's count is not the header's");
  if (t->firstend + bytes != t->recend) return damaged(t, "the records are not as long as the check record says");
  if (tabend != (unsigned long long) st.st_size) return damaged(t, "the file is not as long as its hash tables say");
  if ((r = foundat(t, 2048, klen, 1))) return r;
  if (last < t->firstend || last >= t->recend) return damaged(t, "the check record's last record is outside the records");
  if ((r = head(t, (unsigned long) last, &klast, &dlast))) return r;
  if (last + 8 + klast + dlast != t->recend) return damaged(t, "the last record does not end the records");
  if ((r = foundat(t, (unsigned long) last, klast, 1))) return r;
  t->checked = 1;
  t->sum = sum;
  return 0;
}

int rc_table_open(rc_table *t, const char *file)
{
  int r;
  t->why = 0;
  t->checked = 0;
  if (sdu_cdb_open(&t->db, file) == -1) {
    if (errno == EPROTO) t->why = "not a cdb, or cut short";
    return -1;
  }
  t->open = 1;
  r = check(t);
  if (!r) r = sdu_cdb_exists(&t->db, RC_MARK, 2);
  if (r == 0 && t->checked) r = damaged(t, "the @@ marker is not found");
  if (r == -1 || (r == 1 && t->why)) {
    int e = errno;
    const char *why = t->why;
    rc_table_close(t);
    t->why = why;
    errno = e;
    return -1;
  }
  t->marked = r;
  return 0;
}

int rc_table_verify(rc_table *t)
{
  unsigned long pos = 2048, n = 0;
  unsigned long long s = RC_FNV_START;
  unsigned char buf[8192];
  uint32 klen, dlen;
  int r;

  if (!t->open) { errno = EBADF; return -1; }
  t->why = 0;
  while (pos < t->recend) {
    if ((r = head(t, pos, &klen, &dlen))) return r;
    if ((r = foundat(t, pos, klen, 0))) return r;
    pos += 8 + klen + dlen;
    ++n;
  }
  if (n != t->nrec) return damaged(t, "the records are not as many as the header counts");
  if (!t->checked) return 0;
  for (pos = t->firstend; pos < t->recend; ) {
    unsigned long k = t->recend - pos, i;
    if (k > sizeof buf) k = sizeof buf;
    if (cdb_read(&t->db.c, buf, k, (uint32) pos) == -1) return -1;
    for (i = 0; i < k; ++i) { s ^= buf[i]; s *= RC_FNV_PRIME; }
    pos += k;
  }
  if (s != t->sum) return damaged(t, "the records' sum is not the check record's");
  return 0;
}

void rc_table_close(rc_table *t)
{
  size_t i;
  if (t->open) sdu_cdb_close(&t->db);
  t->open = 0;
  for (i = 0; i < t->ndomains; ++i) free(t->domains[i]);
  free(t->domains);
  t->domains = 0;
  t->ndomains = 0;
  stralloc_free(&t->key);
  stralloc_free(&t->val);
}

static int cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *) a, *(char *const *) b);
}

int rc_table_domains(rc_table *t, const char *file)
{
  sdu_config c;
  char **w;
  unsigned int n;
  int r;
  size_t max = 0;

  if (sdu_config_open(&c, file) == -1) return -1;
  while ((r = sdu_config_next(&c, &w, &n)) == 1) {
    size_t l = strlen(w[0]);
    char *d;
    if (l && w[0][l - 1] == '.') --l;
    if (!l) continue;
    if (t->ndomains == max) {
      char **nd;
      max = max ? 2 * max : 64;
      nd = realloc(t->domains, max * sizeof *nd);
      if (!nd) { sdu_config_free(&c); errno = ENOMEM; return -1; }
      t->domains = nd;
    }
    d = malloc(l + 1);
    if (!d) { sdu_config_free(&c); errno = ENOMEM; return -1; }
    memcpy(d, w[0], l); d[l] = 0;
    sdu_addr_lower(d, l);
    t->domains[t->ndomains++] = d;
  }
  sdu_config_free(&c);
  if (r == -1) { errno = EINVAL; return -1; }
  if (t->ndomains) qsort(t->domains, t->ndomains, sizeof *t->domains, cmp);
  t->alldomains = 0;
  return 0;
}

static int inlist(rc_table *t, const char *s)
{
  return bsearch(&s, t->domains, t->ndomains, sizeof *t->domains, cmp) != 0;
}

int rc_table_covered(rc_table *t, const char *dom, size_t len)
{
  char buf[SDU_DOMAIN_MAX + 3];
  size_t i;
  if (len > SDU_DOMAIN_MAX) return 0;
  if (t->marked) {
    memcpy(buf, RC_MARK, 2);
    memcpy(buf + 2, dom, len);
    return sdu_cdb_exists(&t->db, buf, len + 2);
  }
  if (t->alldomains) return 1;
  memcpy(buf, dom, len); buf[len] = 0;
  if (inlist(t, buf)) return 1;
  /* rcpthosts' ".example.org" covers every subdomain */
  for (i = 0; i < len; ++i)
    if (dom[i] == '.' && inlist(t, buf + i)) return 1;
  return 0;
}

/* the data says valid or refused */
static int verdict(stralloc *val)
{
  if (val->len && val->s[0] == '-') {
    memmove(val->s, val->s + 1, val->len - 1);
    --val->len;
    return RC_REFUSED;
  }
  return RC_VALID;
}

int rc_table_lookup(rc_table *t, const char *addr, size_t len, size_t at,
  int nocatchall, stralloc *val, int *how)
{
  char key[SDU_ADDR_MAX + 16];
  size_t i, dlen;
  int r;

  *how = RC_HOW_NONE;
  if (at >= len || len > SDU_ADDR_MAX) return RC_UNKNOWN;
  r = rc_table_get(t, addr, len, val);
  if (r) { if (r == 1) *how = RC_HOW_EXACT; return r == 1 ? verdict(val) : -1; }
  dlen = len - at; /* "@domain" */
  /* qmail-local: a-b-c tries .qmail-a-b-default, then .qmail-a-default */
  for (i = at; i > 0; --i) {
    if (addr[i - 1] != '-' || i == 1) continue;
    memcpy(key, addr, i);
    memcpy(key + i, "default", 7);
    memcpy(key + i + 7, addr + at, dlen);
    r = rc_table_get(t, key, i + 7 + dlen, val);
    if (r) { if (r == 1) *how = RC_HOW_DEFAULT; return r == 1 ? verdict(val) : -1; }
  }
  if (nocatchall) return RC_UNKNOWN;
  r = rc_table_get(t, addr + at, dlen, val);
  if (r) { if (r == 1) *how = RC_HOW_CATCHALL; return r == 1 ? verdict(val) : -1; }
  return RC_UNKNOWN;
}
