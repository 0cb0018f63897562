/* rcptcheck_table.c: the recipient table: coverage of domains and qmail's lookup order */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

int rc_table_open(rc_table *t, const char *file)
{
  int r;
  if (sdu_cdb_open(&t->db, file) == -1) return -1;
  t->open = 1;
  r = sdu_cdb_exists(&t->db, RC_MARK, 2);
  if (r == -1) { int e = errno; rc_table_close(t); errno = e; return -1; }
  t->marked = r;
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
