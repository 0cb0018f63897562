/* spamgrab_conf.c: spamgrab's configuration file and its defaults */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <scan.h>
#include <open.h>
#include <unistd.h>
#include "sdu_config.h"
#include "sdu_time.h"
#include "spamgrab_conf.h"

void sg_conf_defaults(sg_conf *c)
{
  memset(c, 0, sizeof *c);
  c->qmail = "/var/qmail";
  c->state = "/var/lib/sdu";
  c->review = 0;
  c->inject[0] = "/var/qmail/bin/qmail-inject";
  c->psl = 0;
  c->zonetext = "Sent spam to us that caused backscatter: see $";
  c->ptr = 1;
  c->hold = 7UL * 86400;
  c->interval = 86400;
  c->cap = 20;
  c->maxsize = 65536;
  c->maxmessage = 32UL << 20;
  c->dnstimeout = 10000;
  c->giveup = 2UL * 86400;
}

static int bad(stralloc *err, const sdu_config *cf, const char *m1, const char *m2)
{
  err->len = 0;
  errno = 0;
  if (!sdu_config_fmt(err, cf, m1, m2)) errno = ENOMEM;
  return 0;
}

static int number(const char *s, unsigned long *u)
{
  size_t n = scan_ulong(s, u);
  return n && !s[n];
}

int sg_conf_read(sg_conf *c, const char *file, stralloc *err)
{
  sdu_config *cf = malloc(sizeof *cf);
  char **w;
  unsigned int n, i;
  int r;
  if (!cf) { errno = ENOMEM; return 0; }
  if (sdu_config_open(cf, file) == -1) {
    int e = errno;
    err->len = 0;
    if (!stralloc_copys(err, "unable to read ") || !stralloc_cats(err, file)) e = ENOMEM;
    free(cf);
    errno = e;
    return 0;
  }
  /* the words live in cf->buf: kept until sg_conf_free */
  if (c->nkeep < 3) c->keep[c->nkeep++] = cf;
  while ((r = sdu_config_next(cf, &w, &n)) == 1) {
    const char *k = w[0];
    if (!strcmp(k, "me")) {
      for (i = 1; i < n; ++i) {
        if (c->nhosts >= SG_HOSTS_MAX) return bad(err, cf, "too many host names", "");
        c->hosts[c->nhosts++] = w[i];
      }
      continue;
    }
    if (!strcmp(k, "dialup")) {
      unsigned int d = 0;
      while (c->dialup[d]) ++d;
      for (i = 1; i < n; ++i) {
        if (d >= SG_LISTS_N) return bad(err, cf, "too many dial-up lists", "");
        c->dialup[d++] = w[i];
      }
      continue;
    }
    if (!strcmp(k, "inject") || !strcmp(k, "sendmail")) {
      if (n < 2 || n - 1 > SG_ARGS_MAX) return bad(err, cf, k, ": needs a program and at most 15 arguments");
      for (i = 1; i < n; ++i) c->inject[i - 1] = w[i];
      c->inject[n - 1] = 0;
      c->sendmail = k[0] == 's';
      continue;
    }
    if (!strcmp(k, "operator")) {
      if (n != 3 || !strchr(w[2], '@')) return bad(err, cf, "operator: needs a list name and an address", "");
      if (c->nops >= SG_OPS_MAX) return bad(err, cf, "too many operators", "");
      c->ops[c->nops].list = w[1];
      c->ops[c->nops++].addr = w[2];
      continue;
    }
    if (!strcmp(k, "contactzone")) {
      if (n != 3 || (strcmp(w[2], "domain") && strcmp(w[2], "ip"))) return bad(err, cf, "contactzone: needs a zone and \"domain\" or \"ip\"", "");
      if (c->nzones >= SG_ZONES_MAX) return bad(err, cf, "too many contact zones", "");
      c->zones[c->nzones].zone = w[1];
      c->zones[c->nzones++].perip = w[2][0] == 'i';
      continue;
    }
    if (n != 2) return bad(err, cf, k, ": needs one value");
    if (!strcmp(k, "qmail")) c->qmail = w[1];
    else if (!strcmp(k, "state")) c->state = w[1];
    else if (!strcmp(k, "review")) c->review = w[1];
    else if (!strcmp(k, "from")) {
      if (!strchr(w[1], '@') || w[1][0] == '-') return bad(err, cf, "from: not an address: ", w[1]);
      c->from = w[1];
    }
    else if (!strcmp(k, "psl")) c->psl = w[1];
    else if (!strcmp(k, "tagkey")) c->tagkey = w[1];
    else if (!strcmp(k, "zonetext")) c->zonetext = w[1];
    else if (!strcmp(k, "ptr")) {
      if (strcmp(w[1], "yes") && strcmp(w[1], "no")) return bad(err, cf, "ptr: yes or no", "");
      c->ptr = w[1][0] == 'y';
    }
    else if (!strcmp(k, "hold") || !strcmp(k, "interval") || !strcmp(k, "dnstimeout") || !strcmp(k, "giveup")) {
      unsigned long s;
      if (!sdu_parse_duration(w[1], &s) || !s) return bad(err, cf, k, ": not a duration");
      if (k[0] == 'h') c->hold = s;
      else if (k[0] == 'i') c->interval = s;
      else if (k[0] == 'g') c->giveup = s;
      else c->dnstimeout = s > 600 ? 600000 : s * 1000;
    }
    else if (!strcmp(k, "cap") || !strcmp(k, "maxsize") || !strcmp(k, "maxmessage")) {
      unsigned long u;
      if (!number(w[1], &u)) return bad(err, cf, k, ": not a number");
      if (k[0] == 'c') c->cap = u;
      else if (!strcmp(k, "maxsize")) { if (u < 1024) u = 1024; c->maxsize = u; }
      else c->maxmessage = u > (1UL << 30) ? 1UL << 30 : u;
    }
    else return bad(err, cf, "unknown keyword: ", k);
  }
  if (r == -1) return bad(err, cf, sdu_config_error(cf), "");
  return 1;
}

/* the host names in one of qmail's control files, one a line */
static int control(sg_conf *c, const char *file, stralloc *err)
{
  stralloc path = { 0 };
  sdu_config *cf;
  char **w;
  unsigned int n;
  int r;
  if (!stralloc_copys(&path, c->qmail) || !stralloc_cats(&path, "/control/") ||
      !stralloc_cats(&path, file) || !stralloc_0(&path)) { errno = ENOMEM; return 0; }
  cf = malloc(sizeof *cf);
  if (!cf) { stralloc_free(&path); errno = ENOMEM; return 0; }
  if (sdu_config_open(cf, path.s) == -1) {
    int e = errno;
    free(cf);
    if (e == ENOENT) { stralloc_free(&path); return 1; }
    err->len = 0;
    if (!stralloc_copys(err, "unable to read ") || !stralloc_cat(err, &path)) e = ENOMEM;
    stralloc_free(&path);
    errno = e;
    return 0;
  }
  /* the names point into cf's buffer: kept until sg_conf_free */
  if (c->nkeep < 3) c->keep[c->nkeep++] = cf;
  while ((r = sdu_config_next(cf, &w, &n)) == 1) {
    if (c->nhosts >= SG_HOSTS_MAX) break;
    c->hosts[c->nhosts++] = w[0];
  }
  if (r == -1) bad(err, cf, sdu_config_error(cf), "");
  cf->file = file; /* path goes now */
  stralloc_free(&path);
  return r != -1;
}

int sg_conf_qmailhosts(sg_conf *c, stralloc *err)
{
  if (c->nhosts) return 1;
  if (!control(c, "me", err) || !control(c, "locals", err)) return 0;
  return 1;
}

int sg_conf_keys(sg_conf *c, stralloc *err)
{
  if (!c->tagkey) return 1;
  return sdu_tagkeys_load(&c->keys, c->tagkey, err);
}

void sg_conf_free(sg_conf *c)
{
  sdu_tagkeys_wipe(&c->keys);
  while (c->nkeep) {
    sdu_config *cf = c->keep[--c->nkeep];
    sdu_config_free(cf);
    free(cf);
  }
}

int sg_conf_isdialup(const sg_conf *c, const char *list, unsigned long len)
{
  unsigned int i;
  for (i = 0; c->dialup[i]; ++i)
    if (strlen(c->dialup[i]) == len && !memcmp(c->dialup[i], list, len)) return 1;
  return 0;
}
