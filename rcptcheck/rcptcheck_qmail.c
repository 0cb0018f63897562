/* rcptcheck_qmail.c: qmail's delivery rules (qmail-lspawn, qmail-getpw, qmail-local) applied to its configuration */
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sdu_config.h"
#include "sdu_addr.h"
#include "sdu_cdb.h"
#include "sdu_msg.h"
#include "rcptcheck_qmail.h"

#define NAME_MAX_Q 200 /* a local name we consider at all */
#define GETPW_USERLEN 32 /* qmail-getpw looks at user names shorter than this */

/* whoever receives a local name: home directory, dash, extension prefix */
struct user { char *local; int wild; char *home, *dash, *ext; };
struct list { struct user *u; size_t n, max; };

struct dom { char *name; char *prefix; int local; };

struct q {
  const char *root;
  struct dom *d; size_t nd, maxd; /* covered domains, virtual ones with a prefix */
  rc_set rcpthosts;
  int haverh;
  struct list assign;   /* exact and wildcard */
  stralloc wildchars;   /* qmail-newu: the last byte of each wildcard, as written */
  struct list pw;       /* qualifying passwd users */
  char *alias;          /* root/alias */
  rc_set names;         /* candidate local names */
  stralloc path, sa, pre;
  stralloc me;          /* control/localiphost, else control/me: the first line */
};

static char *sdup(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (!d) return 0;
  memcpy(d, s, n); d[n] = 0;
  return d;
}

static int push(struct list *l, const char *local, size_t llen, int wild, const char *home,
  const char *dash, size_t dl, const char *ext, size_t el)
{
  struct user *u;
  if (l->n == l->max) {
    size_t m = l->max ? 2 * l->max : 64;
    struct user *nu = realloc(l->u, m * sizeof *nu);
    if (!nu) return -1;
    l->u = nu; l->max = m;
  }
  u = &l->u[l->n];
  u->wild = wild;
  u->local = sdup(local, llen); u->home = sdup(home, strlen(home));
  u->dash = sdup(dash, dl); u->ext = sdup(ext, el);
  if (!u->local || !u->home || !u->dash || !u->ext) {
    free(u->local); free(u->home); free(u->dash); free(u->ext);
    return -1;
  }
  sdu_addr_lower(u->local, llen);
  ++l->n;
  return 0;
}

static int path(struct q *q, const char *a, const char *b)
{
  if (!stralloc_copys(&q->path, a) || !stralloc_cats(&q->path, b) || !stralloc_0(&q->path)) { errno = ENOMEM; return -1; }
  return 0;
}

/* qmail-local opens the file and takes it only when it is a regular file */
static int exists(const char *file)
{
  struct stat st;
  return stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

/* qmail-local: .qmail{dash}{ext}, then ext's -default loop, then
   .qmail{dash}default; with an empty dash it delivers anyway (.qmail or the
   default delivery), with a dash it bounces when no file is found */
static int delivers(struct q *q, const char *home, const char *dash, const char *ext, size_t elen)
{
  size_t i, base;
  if (!*dash) return 1;
  if (!stralloc_copys(&q->path, home) || !stralloc_cats(&q->path, "/.qmail") || !stralloc_cats(&q->path, dash)) return -1;
  base = q->path.len;
  if (!stralloc_catb(&q->path, ext, elen) || !stralloc_0(&q->path)) return -1;
  /* dots of the address are colons in .qmail names */
  for (i = base; i < q->path.len - 1; ++i) if (q->path.s[i] == '.') q->path.s[i] = ':';
  if (exists(q->path.s)) return 1;
  for (i = elen; i > 0; --i) {
    if (ext[i - 1] != '-') continue;
    q->path.len = base + i;
    if (!stralloc_cats(&q->path, "default") || !stralloc_0(&q->path)) return -1;
    if (exists(q->path.s)) return 1;
  }
  q->path.len = base;
  if (!stralloc_cats(&q->path, "default") || !stralloc_0(&q->path)) return -1;
  return exists(q->path.s);
}

/* would qmail deliver the local name (lower case)? qmail-lspawn's order:
   the first exact assignment, else the longest wildcard whose last byte is
   one of qmail-newu's wildchars (the empty one always), else qmail-getpw */
static int valid(struct q *q, const char *name, size_t len)
{
  size_t i, best = 0;
  struct user *w = 0;
  for (i = 0; i < q->assign.n; ++i) {
    struct user *u = &q->assign.u[i];
    size_t l = strlen(u->local);
    if (!u->wild) {
      if (l == len && !memcmp(u->local, name, len)) {
        if (!stralloc_copys(&q->sa, u->ext)) return -1;
        return delivers(q, u->home, u->dash, q->sa.s, q->sa.len);
      }
    } else if (l <= len && !memcmp(u->local, name, l) && (!w || l > best)
        && (!l || (q->wildchars.len && memchr(q->wildchars.s, name[l - 1], q->wildchars.len)))) { w = u; best = l; }
  }
  if (w) {
    if (!stralloc_copys(&q->sa, w->ext) || !stralloc_catb(&q->sa, name + best, len - best)) return -1;
    return delivers(q, w->home, w->dash, q->sa.s, q->sa.len);
  }
  /* qmail-getpw: the longest user name ending at a '-' */
  for (i = len + 1; i > 0; --i) {
    size_t k, l = i - 1;
    if (l < len && name[l] != '-') continue;
    if (l >= GETPW_USERLEN) continue;
    for (k = 0; k < q->pw.n; ++k) {
      struct user *u = &q->pw.u[k];
      if (strlen(u->local) == l && !memcmp(u->local, name, l))
        return delivers(q, u->home, l < len ? "-" : "", name + (l < len ? l + 1 : len), l < len ? len - l - 1 : 0);
    }
  }
  return delivers(q, q->alias, "-", name, len);
}

static int addname(struct q *q, const char *s, size_t len)
{
  char buf[NAME_MAX_Q];
  size_t i;
  if (!len || len >= sizeof buf) return 0;
  for (i = 0; i < len; ++i) buf[i] = s[i] == ':' ? '.' : s[i];
  sdu_addr_lower(buf, len);
  return rc_set_add(&q->names, buf, len) == -1 ? -1 : 0;
}

/* candidates from the .qmail{dash}{pre}* files of a home: prefix + the rest */
static int scanhome(struct q *q, const char *home, const char *dash, const char *pre, const char *prefix)
{
  DIR *d = opendir(home);
  struct dirent *de;
  size_t hl = strlen(dash) + strlen(pre) + 6;
  if (!d) { if (errno != ENOENT && errno != ENOTDIR) sdu_warnsys("unable to read ", home); return 0; }
  while ((de = readdir(d))) {
    const char *n = de->d_name;
    size_t nl = strlen(n);
    if (nl <= hl || memcmp(n, ".qmail", 6) || memcmp(n + 6, dash, strlen(dash)) || memcmp(n + 6 + strlen(dash), pre, strlen(pre))) continue;
    /* prefix "joe" and .qmail-default: every joe* is delivered, which no key can say */
    if (*prefix && prefix[strlen(prefix) - 1] != '-' && nl - hl == 7 && !memcmp(n + hl, "default", 7))
      sdu_warn("users/assign: the addresses starting with ", prefix, " that ", home, "/", n, " takes cannot be listed, they will be refused");
    /* prefix may be q->pre, never q->sa: this overwrites q->sa */
    if (!stralloc_copys(&q->sa, prefix) || !stralloc_catb(&q->sa, n + hl, nl - hl)) { closedir(d); errno = ENOMEM; return -1; }
    if (addname(q, q->sa.s, q->sa.len) == -1) { closedir(d); errno = ENOMEM; return -1; }
  }
  closedir(d);
  return 0;
}

static int readconfig(struct q *q, const char *name, int (*line)(struct q *, char *), int *found)
{
  sdu_config c;
  char **w;
  unsigned int n;
  int r;
  if (path(q, q->root, name) == -1) return -1;
  *found = 0;
  if (sdu_config_open(&c, q->path.s) == -1) return errno == ENOENT ? 0 : -1;
  *found = 1;
  while ((r = sdu_config_next(&c, &w, &n)) != 0) {
    if (r == -1) { sdu_config_fatal(&c, sdu_config_error(&c), ""); }
    if (line(q, w[0]) == -1) { sdu_config_free(&c); return -1; }
  }
  sdu_config_free(&c);
  return 0;
}

/* users/assign as qmail-newu reads it: lines up to the first one that
   starts with '.', each =local:user:uid:gid:home:dash:ext: or
   +prefix:user:uid:gid:home:dash:pre: (local up to the first colon, six
   more colons; blanks are part of the fields). Lines it would refuse are
   reported and skipped. */
static int assignfile(struct q *q, int *found)
{
  FILE *f;
  char *line = 0;
  size_t cap = 0;
  ssize_t len;
  int r = 0;
  if (path(q, q->root, "/users/assign") == -1) return -1;
  *found = 0;
  if (!(f = fopen(q->path.s, "r"))) return errno == ENOENT ? 0 : -1;
  *found = 1;
  while ((len = getline(&line, &cap, f)) > 0) {
    char *fld[7];
    size_t i, n = 0;
    if (line[0] == '.') break;
    if (line[len - 1] != '\n' || memchr(line, 0, (size_t) len)) { sdu_warn("users/assign: line not understood, skipped: ", line); continue; }
    line[--len] = 0;
    if (line[0] != '=' && line[0] != '+') { sdu_warn("users/assign: line not understood, skipped: ", line); continue; }
    fld[n++] = line + 1;
    for (i = 1; line[i] && n < 7; ++i) if (line[i] == ':') { line[i] = 0; fld[n++] = line + i + 1; }
    if (n < 7 || !strchr(fld[6], ':')) { sdu_warn("users/assign: too few fields, skipped: ", fld[0]); continue; }
    *strchr(fld[6], ':') = 0;
    if (line[0] == '+' && *fld[0]) {
      char last = fld[0][strlen(fld[0]) - 1];
      if (!(q->wildchars.len && memchr(q->wildchars.s, last, q->wildchars.len)) && !stralloc_append(&q->wildchars, &last)) { errno = ENOMEM; r = -1; break; }
    }
    if (push(&q->assign, fld[0], strlen(fld[0]), line[0] == '+', fld[4], fld[5], strlen(fld[5]), fld[6], strlen(fld[6])) == -1) { errno = ENOMEM; r = -1; break; }
  }
  free(line);
  if (!r && ferror(f)) r = -1;
  fclose(f);
  return r;
}

/* qmail-newu's users/cdb: "!local\0" exact, "!prefix" wildcard; data user\0uid\0gid\0home\0dash\0ext\0 */
static int usercdb(struct q *q)
{
  sdu_cdb d;
  uint32 kpos;
  int r;
  stralloc key = {0}, val = {0};
  if (path(q, q->root, "/users/cdb") == -1) return -1;
  if (sdu_cdb_open(&d, q->path.s) == -1) return errno == ENOENT ? 0 : -1;
  /* the "" key holds the wildchars */
  if (sdu_cdb_get(&d, "", 0, &q->wildchars) == -1) { sdu_cdb_close(&d); return -1; }
  for (r = cdb_firstkey(&d.c, &kpos); r == 1; r = cdb_nextkey(&d.c, &kpos)) {
    uint32 kl = cdb_keylen(&d.c), dl = cdb_datalen(&d.c);
    const char *f[6];
    size_t i, n = 0;
    int wild;
    if (kl < 1 || kl > 1024 || dl > 4096) continue;
    if (!stralloc_ready(&key, kl) || !stralloc_ready(&val, dl + 1)) { errno = ENOMEM; r = -1; break; }
    if (cdb_read(&d.c, (unsigned char *) key.s, kl, cdb_keypos(&d.c)) == -1) { r = -1; break; }
    if (cdb_read(&d.c, (unsigned char *) val.s, dl, cdb_datapos(&d.c)) == -1) { r = -1; break; }
    if (key.s[0] != '!') continue;
    val.s[dl] = 0;
    for (i = 0; i < dl && n < 6; ++i) { f[n++] = val.s + i; i += strlen(val.s + i); }
    if (n < 6) continue;
    wild = key.s[kl - 1] != 0;
    if (push(&q->assign, key.s + 1, kl - 1 - !wild, wild, f[3], f[4], strlen(f[4]), f[5], strlen(f[5])) == -1) { errno = ENOMEM; r = -1; break; }
  }
  sdu_cdb_close(&d);
  stralloc_free(&key); stralloc_free(&val);
  return r == -1 ? -1 : 0;
}

/* name:pw:uid:gid:gecos:home:shell; qmail-getpw takes a user with uid not
   0 whose home exists and is owned by the user */
static int passwdfile(struct q *q, const char *file)
{
  FILE *f;
  char *line = 0;
  size_t cap = 0;
  ssize_t len;
  if (!*file) return 0;
  if (!(f = fopen(file, "r"))) return -1;
  while ((len = getline(&line, &cap, f)) > 0) {
    char *fld[7], *e;
    size_t i, k = 0;
    unsigned long uid;
    struct stat st;
    if (line[len - 1] == '\n') line[--len] = 0;
    fld[k++] = line;
    for (i = 0; line[i] && k < 7; ++i) if (line[i] == ':') { line[i] = 0; fld[k++] = line + i + 1; }
    if (k < 6 || !fld[0][0]) continue;
    uid = strtoul(fld[2], &e, 10);
    if (*e || e == fld[2] || !uid) continue;
    for (i = 0; fld[0][i]; ++i) if (fld[0][i] >= 'A' && fld[0][i] <= 'Z') break;
    if (fld[0][i]) continue;
    if (stat(fld[5], &st) == -1 || st.st_uid != (uid_t) uid) continue;
    if (push(&q->pw, fld[0], strlen(fld[0]), 0, fld[5], "-", 1, "", 0) == -1) { free(line); fclose(f); errno = ENOMEM; return -1; }
  }
  free(line);
  if (ferror(f)) { fclose(f); return -1; }
  fclose(f);
  return 0;
}

static int adddom(struct q *q, const char *name, size_t nl, const char *prefix, size_t pl, int local)
{
  struct dom *d;
  if (q->nd == q->maxd) {
    size_t m = q->maxd ? 2 * q->maxd : 64;
    struct dom *nd = realloc(q->d, m * sizeof *nd);
    if (!nd) return -1;
    q->d = nd; q->maxd = m;
  }
  d = &q->d[q->nd];
  d->name = sdup(name, nl); d->prefix = sdup(prefix, pl); d->local = local;
  if (!d->name || !d->prefix) { free(d->name); free(d->prefix); return -1; }
  sdu_addr_lower(d->name, nl);
  ++q->nd;
  return 0;
}

static int meline(struct q *q, char *s)
{
  if (q->me.len) return 0;
  return stralloc_copys(&q->me, s) ? 0 : (errno = ENOMEM, -1);
}

static int localsline(struct q *q, char *s) { return adddom(q, s, strlen(s), "", 0, 1); }

static int vdline(struct q *q, char *s)
{
  char *colon = strchr(s, ':');
  if (!colon) { sdu_warn("control/virtualdomains: no colon, skipped: ", s); return 0; }
  *colon = 0;
  if (!colon[1]) return 0; /* an exception to a wildcard: not virtual */
  if (s[0] == '.') { sdu_warn("control/virtualdomains: wildcard ", s, " not covered"); return 0; }
  return adddom(q, s, strlen(s), colon + 1, strlen(colon + 1), 0);
}

static int rhline(struct q *q, char *s)
{
  size_t l = strlen(s);
  sdu_addr_lower(s, l);
  return rc_set_add(&q->rcpthosts, s, l) == -1 ? -1 : 0;
}

/* qmail-smtpd's rcpthosts: the domain, or ".parent" for each parent */
static int accepted(struct q *q, const char *d, sdu_cdb *more, int havemore)
{
  size_t i, l = strlen(d);
  if (!q->haverh) return 1;
  for (i = 0; i < l; ++i) {
    if (i && d[i] != '.') continue;
    if (rc_set_has(&q->rcpthosts, d + i, l - i)) return 1;
    if (havemore && sdu_cdb_exists(more, d + i, l - i) == 1) return 1;
  }
  return 0;
}

static int emit(rc_build *b, const char *name, size_t nl, const char *dom)
{
  const char *why;
  int r;
  if (nl == 7 && !memcmp(name, "default", 7)) {
    r = rc_build_canon(&b->work, 0, 0, dom, strlen(dom), &why);
    if (r) return r == -1 ? -1 : 0;
    return rc_build_add(b, b->work.s + 1, b->work.len - 1, "", 0);
  }
  r = rc_build_canon(&b->work, name, nl, dom, strlen(dom), &why);
  if (r) return r == -1 ? -1 : 0; /* an address no client can write */
  return rc_build_add(b, b->work.s, b->work.len, "", 0);
}

static void listfree(struct list *l)
{
  size_t i;
  for (i = 0; i < l->n; ++i) {
    free(l->u[i].local); free(l->u[i].home); free(l->u[i].dash); free(l->u[i].ext);
  }
  free(l->u);
}

static int build(struct q *qp, rc_build *b, const char *root, const char *passwd);

int rc_qmail_build(rc_build *b, const char *root, const char *passwd)
{
  struct q q;
  size_t i;
  int r;

  memset(&q, 0, sizeof q);
  r = build(&q, b, root, passwd);
  for (i = 0; i < q.nd; ++i) { free(q.d[i].name); free(q.d[i].prefix); }
  free(q.d);
  listfree(&q.assign);
  listfree(&q.pw);
  free(q.alias);
  rc_set_free(&q.rcpthosts);
  rc_set_free(&q.names);
  stralloc_free(&q.path);
  stralloc_free(&q.sa);
  stralloc_free(&q.pre);
  stralloc_free(&q.me);
  stralloc_free(&q.wildchars);
  return r;
}

static int build(struct q *qp, rc_build *b, const char *root, const char *passwd)
{
  size_t i, k;
  int found, havemore;
  sdu_cdb more;

  qp->root = root;
  if (path(qp, root, "/alias") == -1 || !(qp->alias = sdup(qp->path.s, qp->path.len - 1))) return -1;
  /* qmail-smtpd rewrites a literal of this host to control/localiphost,
     else control/me; -m has set it already */
  if (!b->me.len) {
    const char *why;
    if (readconfig(qp, "/control/localiphost", meline, &found) == -1) return -1;
    if (!qp->me.len && readconfig(qp, "/control/me", meline, &found) == -1) return -1;
    if (qp->me.len && rc_build_me(b, qp->me.s, qp->me.len, &why) == 1)
      sdu_warn("control/me or control/localiphost is not a domain, address literals of this host not checked: ", why);
  }
  if (readconfig(qp, "/control/locals", localsline, &found) == -1) return -1;
  if (!found && readconfig(qp, "/control/me", localsline, &found) == -1) return -1;
  if (readconfig(qp, "/control/virtualdomains", vdline, &found) == -1) return -1;
  if (readconfig(qp, "/control/rcpthosts", rhline, &qp->haverh) == -1) return -1;
  if (path(qp, root, "/control/morercpthosts.cdb") == -1) return -1;
  havemore = sdu_cdb_open(&more, qp->path.s) == 0;
  if (havemore) qp->haverh = 1;
  if (assignfile(qp, &found) == -1) return -1;
  if (!found && usercdb(qp) == -1) return -1;
  if (passwdfile(qp, passwd) == -1) { sdu_warnsys("unable to read ", passwd); return -1; }

  /* candidate local names */
  for (i = 0; i < qp->assign.n; ++i) {
    struct user *u = &qp->assign.u[i];
    size_t l = strlen(u->local);
    if (!u->wild) { if (addname(qp, u->local, l) == -1) return -1; continue; }
    if (scanhome(qp, u->home, u->dash, u->ext, u->local) == -1) return -1;
    if (*u->dash) continue;
    /* no dash: qmail-local delivers every address of the wildcard */
    if (l && u->local[l - 1] != '-') {
      sdu_warn("users/assign: the addresses starting with ", u->local, " cannot be listed, they will be refused");
      continue;
    }
    if (!stralloc_copys(&qp->sa, u->local) || !stralloc_cats(&qp->sa, "default")) return -1;
    if (addname(qp, qp->sa.s, qp->sa.len) == -1) return -1;
  }
  for (i = 0; i < qp->pw.n; ++i) {
    struct user *u = &qp->pw.u[i];
    if (!stralloc_copys(&qp->pre, u->local) || !stralloc_cats(&qp->pre, "-") || !stralloc_0(&qp->pre)) return -1;
    if (addname(qp, u->local, strlen(u->local)) == -1) return -1;
    if (scanhome(qp, u->home, "-", "", qp->pre.s) == -1) return -1;
  }
  if (scanhome(qp, qp->alias, "-", "", "") == -1) return -1;
  for (i = 0; i < qp->nd; ++i)
    if (!qp->d[i].local) {
      if (!stralloc_copys(&qp->sa, qp->d[i].prefix) || !stralloc_cats(&qp->sa, "-default")) return -1;
      if (addname(qp, qp->sa.s, qp->sa.len) == -1) return -1;
    }

  for (i = 0; i < qp->nd; ++i) {
    struct dom *d = &qp->d[i];
    size_t pl = strlen(d->prefix);
    if (!accepted(qp, d->name, &more, havemore)) continue;
    if (rc_build_cover(b, d->name, strlen(d->name)) == -1) return -1;
    for (k = 0; k < qp->names.size; ++k) {
      char *e = qp->names.slot[k];
      size_t nl;
      const char *name;
      int v;
      if (!e) continue;
      memcpy(&nl, e, sizeof nl);
      name = e + sizeof nl;
      if (!d->local) {
        if (nl <= pl + 1 || memcmp(name, d->prefix, pl) || name[pl] != '-') continue;
      }
      v = valid(qp, name, nl);
      if (v == -1) { errno = ENOMEM; return -1; }
      if (!v) continue;
      if (d->local) { if (emit(b, name, nl, d->name) == -1) return -1; }
      else if (emit(b, name + pl + 1, nl - pl - 1, d->name) == -1) return -1;
    }
  }
  if (havemore) sdu_cdb_close(&more);
  return 0;
}
