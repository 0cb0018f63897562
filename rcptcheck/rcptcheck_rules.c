/* rcptcheck_rules.c: glob patterns for local-part rules, and the sender blacklist */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_config.h"
#include "sdu_addr.h"
#include "rcptcheck_rules.h"

#define RULES_MAX 10000   /* rules are tried one by one on every recipient */
#define TEXT_MAX 400

/* one pattern element at pat[*pi] against byte c; advances *pi past it.
   1 match, 0 no match */
static int elem(const char *pat, size_t plen, size_t *pi, unsigned char c)
{
  size_t i = *pi;
  if (pat[i] == '?') { *pi = i + 1; return 1; }
  if (pat[i] == '\\' && i + 1 < plen) { *pi = i + 2; return (unsigned char) pat[i + 1] == c; }
  if (pat[i] == '[') {
    size_t j = i + 1;
    int neg = 0, hit = 0;
    if (j < plen && (pat[j] == '!' || pat[j] == '^')) { neg = 1; ++j; }
    /* a ']' first in the set is literal */
    if (j < plen && pat[j] == ']') { hit |= c == ']'; ++j; }
    while (j < plen && pat[j] != ']') {
      unsigned char lo = (unsigned char) pat[j], hi = lo;
      if (j + 2 < plen && pat[j + 1] == '-' && pat[j + 2] != ']') { hi = (unsigned char) pat[j + 2]; j += 3; }
      else ++j;
      if (c >= lo && c <= hi) hit = 1;
    }
    if (j >= plen) { *pi = i + 1; return c == '['; } /* no ']': a literal '[' */
    *pi = j + 1;
    return hit != neg;
  }
  *pi = i + 1;
  return (unsigned char) pat[i] == c;
}

int rc_glob(const char *pat, size_t plen, const char *s, size_t slen)
{
  size_t pi = 0, si = 0, starp = (size_t) -1, stars = 0;
  while (si < slen) {
    if (pi < plen && pat[pi] == '*') { starp = ++pi; stars = si; continue; }
    if (pi < plen) {
      size_t next = pi;
      if (elem(pat, plen, &next, (unsigned char) s[si])) { pi = next; ++si; continue; }
    }
    /* back to the last star, which takes one more byte */
    if (starp == (size_t) -1) return 0;
    pi = starp;
    si = ++stars;
  }
  while (pi < plen && pat[pi] == '*') ++pi;
  return pi == plen;
}

static int addrule(rc_rule **r, size_t *n, size_t *max, const char *pat, char **w, unsigned int nw, int lower)
{
  rc_rule *e;
  size_t tl = 0, i;
  if (*n == *max) {
    rc_rule *nr;
    size_t m = *max ? 2 * *max : 16;
    nr = realloc(*r, m * sizeof *nr);
    if (!nr) return 0;
    *r = nr; *max = m;
  }
  e = &(*r)[*n];
  e->plen = strlen(pat);
  e->pat = malloc(e->plen + 1);
  for (i = 0; i < nw; ++i) tl += strlen(w[i]) + 1;
  e->text = malloc(tl + 1);
  if (!e->pat || !e->text) { free(e->pat); free(e->text); return 0; }
  memcpy(e->pat, pat, e->plen + 1);
  if (lower) sdu_addr_lower(e->pat, e->plen);
  e->text[0] = 0;
  for (i = 0, tl = 0; i < nw; ++i) {
    size_t l = strlen(w[i]);
    if (i) e->text[tl++] = ' ';
    memcpy(e->text + tl, w[i], l); tl += l;
  }
  e->text[tl] = 0;
  ++*n;
  return 1;
}

static int fmterr(stralloc *err, const sdu_config *c, const char *msg)
{
  if (err) { err->len = 0; if (!sdu_config_fmt(err, c, msg, "")) return -1; if (!stralloc_0(err)) return -1; }
  errno = EINVAL;
  return -1;
}

/* both files: "key text ..." lines */
static int load(sdu_config *c, rc_rule **r, size_t *n, size_t *max, int senders, stralloc *err)
{
  char **w;
  unsigned int nw;
  int x;
  while ((x = sdu_config_next(c, &w, &nw)) == 1) {
    size_t i, tl = 0;
    if (*n >= RULES_MAX) { x = fmterr(err, c, "too many entries"); break; }
    for (i = 1; i < nw; ++i) tl += strlen(w[i]) + 1;
    if (tl > TEXT_MAX) { x = fmterr(err, c, "text too long"); break; }
    if (senders) {
      size_t l = strlen(w[0]);
      if (l > SDU_ADDR_MAX || !l || w[0][0] == '@' || w[0][l - 1] == '@') { x = fmterr(err, c, "bad address or domain"); break; }
    }
    if (!addrule(r, n, max, w[0], w + 1, nw - 1, senders)) { sdu_config_free(c); errno = ENOMEM; return -1; }
  }
  if (x == -1 && err && !err->len) {
    if (!sdu_config_fmt(err, c, sdu_config_error(c), "") || !stralloc_0(err)) { sdu_config_free(c); errno = ENOMEM; return -1; }
    errno = EINVAL;
  }
  sdu_config_free(c);
  return x == -1 ? -1 : 0;
}

int rc_rules_loadbuf(rc_rules *rs, const char *name, const char *buf, size_t len, stralloc *err)
{
  sdu_config c;
  if (err) err->len = 0;
  if (sdu_config_from_buf(&c, name, buf, len) == -1) return -1;
  return load(&c, &rs->r, &rs->n, &rs->max, 0, err);
}

int rc_rules_load(rc_rules *rs, const char *file, stralloc *err)
{
  sdu_config c;
  if (err) err->len = 0;
  if (sdu_config_open(&c, file) == -1) return -1;
  return load(&c, &rs->r, &rs->n, &rs->max, 0, err);
}

const char *rc_rules_match(const rc_rules *rs, const char *addr, size_t len)
{
  size_t i;
  for (i = 0; i < rs->n; ++i)
    if (rc_glob(rs->r[i].pat, rs->r[i].plen, addr, len)) return rs->r[i].text;
  return 0;
}

static void freeall(rc_rule *r, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) { free(r[i].pat); free(r[i].text); }
  free(r);
}

void rc_rules_free(rc_rules *rs) { freeall(rs->r, rs->n); rs->r = 0; rs->n = rs->max = 0; }

static int rulecmp(const void *a, const void *b)
{
  return strcmp(((const rc_rule *) a)->pat, ((const rc_rule *) b)->pat);
}

static int finish_senders(rc_senders *ss, int r)
{
  if (r == 0 && ss->n) qsort(ss->r, ss->n, sizeof *ss->r, rulecmp);
  return r;
}

int rc_senders_loadbuf(rc_senders *ss, const char *name, const char *buf, size_t len, stralloc *err)
{
  sdu_config c;
  if (err) err->len = 0;
  if (sdu_config_from_buf(&c, name, buf, len) == -1) return -1;
  return finish_senders(ss, load(&c, &ss->r, &ss->n, &ss->max, 1, err));
}

int rc_senders_load(rc_senders *ss, const char *file, stralloc *err)
{
  sdu_config c;
  if (err) err->len = 0;
  if (sdu_config_open(&c, file) == -1) return -1;
  return finish_senders(ss, load(&c, &ss->r, &ss->n, &ss->max, 1, err));
}

static const char *find(const rc_senders *ss, const char *s)
{
  rc_rule k, *hit;
  k.pat = (char *) s;
  hit = bsearch(&k, ss->r, ss->n, sizeof *ss->r, rulecmp);
  return hit ? hit->text : 0;
}

const char *rc_senders_match(const rc_senders *ss, const char *addr, size_t len)
{
  char buf[SDU_ADDR_MAX + 1];
  const char *t;
  size_t i, at;
  if (!ss->n || !len || len > SDU_ADDR_MAX) return 0;
  memcpy(buf, addr, len); buf[len] = 0;
  if ((t = find(ss, buf))) return t;
  for (at = len; at > 0 && buf[at - 1] != '@'; --at) ;
  if (!at) return 0;
  /* the domain, then each parent domain */
  for (i = at; i < len; ++i)
    if (i == at || buf[i - 1] == '.')
      if ((t = find(ss, buf + i))) return t;
  return 0;
}

void rc_senders_free(rc_senders *ss) { freeall(ss->r, ss->n); ss->r = 0; ss->n = ss->max = 0; }
