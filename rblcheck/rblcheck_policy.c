/* rblcheck_policy.c: rblcheck's policy file, and the decision for one client */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fmt.h>
#include <scan.h>
#include "rblcheck_policy.h"
#include "sdu_ip.h"
#include "sdu_smtp.h"
#include "sdu_msg.h"

enum { N_LIST, N_ANY, N_SCORE, N_RDNS, N_NORDNS, N_PREGREET, N_NOT, N_AND, N_OR };
enum { T_END, T_WORD, T_LP, T_RP, T_AND, T_OR, T_NOT, T_TILDE, T_GE };
#define TOKS_MAX 1024

struct tok { int t; const char *s; size_t len; };

/* the tokens of one condition grow from the heap (room(), below): a
   24 KB array of TOKS_MAX spread the heap over six more pages, each a
   page fault of a clean client's rblcheck, which reads the policy anew */
struct parser {
  rblcheck_policy *p;
  unsigned int n, pos, depth;
  const char *m1, *m2;   /* the mistake */
  stralloc *err;         /* a mistake in a glob file is already written here */
  int nested;
  char word[256];        /* the word named in the mistake */
  struct tok *tok;
  unsigned int tokcap;
};

static const char *const keywords[] = {
  "list", "rule", "any", "score", "rdns", "nordns", "pregreet",
  "reject", "tempfail", "throttle", "tag", "accept", "greylist", "greetwait", 0
};

static int action_of(const char *w)
{
  if (!strcmp(w, "reject")) return RBLCHECK_A_REJECT;
  if (!strcmp(w, "tempfail")) return RBLCHECK_A_TEMPFAIL;
  if (!strcmp(w, "throttle")) return RBLCHECK_A_THROTTLE;
  if (!strcmp(w, "tag")) return RBLCHECK_A_TAG;
  if (!strcmp(w, "accept")) return RBLCHECK_A_ACCEPT;
  if (!strcmp(w, "greylist")) return RBLCHECK_A_GREYLIST;
  if (!strcmp(w, "greetwait")) return RBLCHECK_A_GREETWAIT;
  return RBLCHECK_A_NONE;
}

const char *rblcheck_actionname(int action)
{
  switch (action) {
    case RBLCHECK_A_REJECT: return "reject";
    case RBLCHECK_A_TEMPFAIL: return "tempfail";
    case RBLCHECK_A_THROTTLE: return "throttle";
    case RBLCHECK_A_TAG: return "tag";
    case RBLCHECK_A_ACCEPT: return "accept";
    case RBLCHECK_A_GREYLIST: return "greylist";
    case RBLCHECK_A_GREETWAIT: return "greetwait";
    case RBLCHECK_A_LEAK: return "leak";
    case RBLCHECK_A_PASS: return "pass";
    case RBLCHECK_A_FAILCLOSED: return "failclosed";
    case RBLCHECK_A_HARVEST: return "harvest";
  }
  return "none";
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int bad(struct parser *ps, const char *m1, const char *w, size_t len)
{
  ps->m1 = m1;
  ps->m2 = 0;
  if (w) {
    if (len >= sizeof ps->word) len = sizeof ps->word - 1;
    memcpy(ps->word, w, len);
    ps->word[len] = 0;
    ps->m2 = ps->word;
  }
  return 0;
}

static int badw(struct parser *ps, const char *m1, const char *w)
{
  return bad(ps, m1, w, strlen(w));
}

static int listname_ok(const char *w)
{
  size_t i, len = strlen(w);
  if (!len || len > RBLCHECK_NAME_MAX) return 0;
  if (!((w[0] >= 'a' && w[0] <= 'z') || (w[0] >= 'A' && w[0] <= 'Z'))) return 0;
  for (i = 0; i < len; ++i) {
    char c = w[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static int iskeyword(const char *w)
{
  unsigned int i;
  for (i = 0; keywords[i]; ++i) if (!strcmp(w, keywords[i])) return 1;
  return 0;
}

/* lowercase, no trailing dot, labels of 1..63 bytes of [a-z0-9_-] */
static int zone_ok(char *out, const char *w)
{
  size_t len = strlen(w), i, label = 0;
  if (len && w[len - 1] == '.') --len;
  if (!len || len > RBLCHECK_ZONE_MAX) return 0;
  for (i = 0; i < len; ++i) {
    char c = (char) lower(w[i]);
    if (c == '.') {
      if (!label) return 0;
      label = 0;
    } else {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
      if (++label > 63) return 0;
    }
    out[i] = c;
  }
  if (!label) return 0;
  out[len] = 0;
  return 1;
}

static int ip4(const char *s, size_t len, unsigned long *u)
{
  char buf[20];
  sdu_ip ip;
  if (len >= sizeof buf) return 0;
  memcpy(buf, s, len);
  buf[len] = 0;
  if (!sdu_ip_parse(&ip, buf) || ip.v6) return 0;
  *u = (unsigned long) ip.a[0] << 24 | (unsigned long) ip.a[1] << 16 |
    (unsigned long) ip.a[2] << 8 | ip.a[3];
  return 1;
}

/* "=127.0.0.2-127.0.0.3,127.0.0.10" */
static int ranges(struct parser *ps, rblcheck_list *l, const char *w)
{
  const char *s = w + 1;
  for (;;) {
    size_t len = strcspn(s, ","), dash = strcspn(s, "-");
    unsigned long lo, hi;
    if (dash > len) dash = len;
    if (!ip4(s, dash, &lo)) return badw(ps, "bad answer filter ", w);
    hi = lo;
    if (dash < len && !ip4(s + dash + 1, len - dash - 1, &hi)) return badw(ps, "bad answer filter ", w);
    if (hi < lo) return badw(ps, "bad answer filter ", w);
    if ((lo >> 24) != 127 || (hi >> 24) != 127)
      return badw(ps, "answer filter outside 127.0.0.0/8: ", w);
    if (l->nranges >= RBLCHECK_RANGES_MAX) return badw(ps, "too many answer ranges: ", w);
    l->lo[l->nranges] = lo;
    l->hi[l->nranges++] = hi;
    if (!s[len]) return 1;
    s += len + 1;
  }
}

static int number(const char *w, unsigned long *u, unsigned long max)
{
  size_t len = strlen(w);
  if (!len || len > 9 || scan_ulong(w, u) != len) return 0;
  return *u <= max;
}

/* room for one more entry in an array of *cap entries of size bytes: the
   array, realloc'd with *cap doubled (up to max); 0 with no memory, the old
   array then still the caller's */
static void *room(void *a, unsigned int *cap, unsigned int max, size_t size)
{
  unsigned int c = *cap ? (*cap * 2 > max ? max : *cap * 2) : 4;
  void *m = realloc(a, (size_t) c * size);
  if (m) *cap = c;
  return m;
}

static int parse_list(struct parser *ps, char **w, unsigned int n)
{
  rblcheck_policy *p = ps->p;
  rblcheck_list *l;
  unsigned int i;
  if (n < 3) return bad(ps, "list needs a name and a zone", 0, 0);
  if (!listname_ok(w[1])) return badw(ps, "bad list name ", w[1]);
  if (iskeyword(w[1])) return badw(ps, "list name is a keyword: ", w[1]);
  for (i = 0; i < p->nlists; ++i)
    if (!strcmp(p->list[i].name, w[1])) return badw(ps, "list defined twice: ", w[1]);
  if (p->nlists >= RBLCHECK_LISTS_MAX) return badw(ps, "too many lists: ", w[1]);
  if (p->nlists == p->listcap) {
    rblcheck_list *m = room(p->list, &p->listcap, RBLCHECK_LISTS_MAX, sizeof *m);
    if (!m) return -1;
    p->list = m;
  }
  l = &p->list[p->nlists];
  memset(l, 0, sizeof *l);
  strcpy(l->name, w[1]);
  l->weight = 1;
  if (!zone_ok(l->zone, w[2])) return badw(ps, "bad zone ", w[2]);
  for (i = 3; i < n; ++i) {
    if (w[i][0] == '=') {
      if (!ranges(ps, l, w[i])) return 0;
    } else if (!strcmp(w[i], "weight")) {
      unsigned long u;
      if (i + 1 >= n) return bad(ps, "weight needs a number", 0, 0);
      if (!number(w[++i], &u, RBLCHECK_WEIGHT_MAX)) return badw(ps, "bad weight ", w[i]);
      l->weight = (unsigned int) u;
    } else return badw(ps, "unknown list option ", w[i]);
  }
  for (i = 0; i < p->nzones; ++i)
    if (!strcmp(p->list[p->zonelist[i]].zone, l->zone)) break;
  if (i == p->nzones) p->zonelist[p->nzones++] = p->nlists;
  l->zi = i;
  ++p->nlists;
  return 1;
}

/* --- conditions ----------------------------------------------------- */

/* room for one more token and the T_END after it: 1, -1 no memory */
static int tokroom(struct parser *ps)
{
  struct tok *m;
  if (ps->n + 2 <= ps->tokcap) return 1;
  m = room(ps->tok, &ps->tokcap, TOKS_MAX, sizeof *m);
  if (!m) return -1;
  ps->tok = m;
  return 1;
}

static int tokenize(struct parser *ps, char **w, unsigned int n)
{
  unsigned int i;
  ps->n = ps->pos = 0;
  if (tokroom(ps) == -1) return -1;
  for (i = 0; i < n; ++i) {
    const char *s = w[i];
    while (*s) {
      struct tok *t;
      if (ps->n >= TOKS_MAX - 1) return bad(ps, "condition too long", 0, 0);
      if (tokroom(ps) == -1) return -1;
      t = &ps->tok[ps->n++];
      t->s = s;
      t->len = 1;
      switch (*s) {
        case '(': t->t = T_LP; break;
        case ')': t->t = T_RP; break;
        case '&': t->t = T_AND; break;
        case '|': t->t = T_OR; break;
        case '!': t->t = T_NOT; break;
        case '~': t->t = T_TILDE; break;
        case '>':
          if (s[1] != '=') return badw(ps, "expected >= in ", w[i]);
          t->t = T_GE; t->len = 2; break;
        default:
          t->t = T_WORD;
          t->len = strcspn(s, "()&|!~>");
      }
      s += t->len;
    }
  }
  ps->tok[ps->n].t = T_END;
  ps->tok[ps->n].s = "";
  ps->tok[ps->n].len = 0;
  return 1;
}

static int node(struct parser *ps, int op, unsigned int a, unsigned int b, unsigned long n, unsigned int *out)
{
  rblcheck_policy *p = ps->p;
  if (p->nnodes >= RBLCHECK_NODES_MAX) return bad(ps, "conditions too long in all", 0, 0);
  if (p->nnodes == p->nodecap) {
    rblcheck_node *m = room(p->node, &p->nodecap, RBLCHECK_NODES_MAX, sizeof *m);
    if (!m) return -1;
    p->node = m;
  }
  p->node[p->nnodes].op = op;
  p->node[p->nnodes].a = a;
  p->node[p->nnodes].b = b;
  p->node[p->nnodes].n = n;
  *out = p->nnodes++;
  return 1;
}

static int tokis(const struct tok *t, const char *w)
{
  return t->t == T_WORD && t->len == strlen(w) && !memcmp(t->s, w, t->len);
}

static int addglob(struct parser *ps, const char *g, size_t len)
{
  rblcheck_policy *p = ps->p;
  size_t i;
  if (!len || len > 255) return bad(ps, "bad glob ", g, len);
  for (i = 0; i < len; ++i)
    if ((unsigned char) g[i] <= 32 || (unsigned char) g[i] >= 127) return bad(ps, "bad glob ", g, len);
  if (p->nglobs >= RBLCHECK_GLOBS_MAX) return bad(ps, "too many globs", 0, 0);
  if (!stralloc_readyplus(&p->globs, len + 1)) return -1;
  for (i = 0; i < len; ++i) p->globs.s[p->globs.len++] = (char) lower(g[i]);
  p->globs.s[p->globs.len++] = 0;
  ++p->nglobs;
  return 1;
}

/* "@FILE": one glob a word, comments allowed; a mistake names the file's line */
static int globfile(struct parser *ps, const char *name, size_t len, unsigned long *count)
{
  sdu_config gc;
  char file[256];
  char **w;
  unsigned int n, i;
  int r, rr;
  if (!len || len >= sizeof file) return bad(ps, "bad glob file name ", name, len);
  memcpy(file, name, len);
  file[len] = 0;
  if (sdu_config_open(&gc, file) == -1) {
    if (errno == ENOMEM) return -1;
    return bad(ps, "unable to read globs from ", name, len);
  }
  gc.file = file;
  while ((r = sdu_config_next(&gc, &w, &n)) == 1)
    for (i = 0; i < n; ++i) {
      rr = addglob(ps, w[i], strlen(w[i]));
      if (rr == 1) { ++*count; continue; }
      if (rr == 0) {
        ps->err->len = 0;
        if (!sdu_config_fmt(ps->err, &gc, ps->m1, ps->m2)) rr = -1;
        ps->nested = 1;
      }
      sdu_config_free(&gc);
      return rr;
    }
  if (r == -1) {
    ps->err->len = 0;
    r = sdu_config_fmt(ps->err, &gc, sdu_config_error(&gc), 0) ? 0 : -1;
    ps->nested = 1;
  } else r = 1;
  sdu_config_free(&gc);
  return r;
}

static int expr(struct parser *ps, unsigned int *out);

static int primary(struct parser *ps, unsigned int *out)
{
  rblcheck_policy *p = ps->p;
  struct tok *t = &ps->tok[ps->pos];
  unsigned int i;
  int r;

  switch (t->t) {
    case T_END: return bad(ps, "condition ends too early", 0, 0);
    case T_NOT:
      if (++ps->depth > RBLCHECK_DEPTH_MAX) return bad(ps, "condition nested too deeply", 0, 0);
      ++ps->pos;
      if ((r = primary(ps, &i)) != 1) return r;
      --ps->depth;
      return node(ps, N_NOT, i, 0, 0, out);
    case T_LP:
      if (++ps->depth > RBLCHECK_DEPTH_MAX) return bad(ps, "condition nested too deeply", 0, 0);
      ++ps->pos;
      if ((r = expr(ps, out)) != 1) return r;
      if (ps->tok[ps->pos].t == T_END) return bad(ps, "expected ) before the action", 0, 0);
      if (ps->tok[ps->pos].t != T_RP) return bad(ps, "expected ) before ", ps->tok[ps->pos].s, ps->tok[ps->pos].len);
      ++ps->pos;
      --ps->depth;
      return 1;
    case T_WORD: break;
    default: return bad(ps, "unexpected ", t->s, t->len);
  }
  ++ps->pos;
  if (tokis(t, "any")) return node(ps, N_ANY, 0, 0, 0, out);
  if (tokis(t, "nordns")) return node(ps, N_NORDNS, 0, 0, 0, out);
  if (tokis(t, "pregreet")) return node(ps, N_PREGREET, 0, 0, 0, out);
  if (tokis(t, "score")) {
    struct tok *num = &ps->tok[ps->pos + 1];
    char buf[12];
    unsigned long u;
    if (ps->tok[ps->pos].t != T_GE || num->t != T_WORD || num->len >= sizeof buf)
      return bad(ps, "score needs >= and a number", 0, 0);
    memcpy(buf, num->s, num->len);
    buf[num->len] = 0;
    if (!number(buf, &u, RBLCHECK_WEIGHT_MAX * RBLCHECK_LISTS_MAX)) return badw(ps, "bad score ", buf);
    ps->pos += 2;
    return node(ps, N_SCORE, 0, 0, u, out);
  }
  if (tokis(t, "rdns")) {
    struct tok *g = &ps->tok[ps->pos + 1];
    unsigned long start = p->globs.len, count = 0;
    if (ps->tok[ps->pos].t != T_TILDE || g->t != T_WORD) return bad(ps, "rdns needs ~ and a glob", 0, 0);
    ps->pos += 2;
    if (g->s[0] == '@') r = globfile(ps, g->s + 1, g->len - 1, &count);
    else { r = addglob(ps, g->s, g->len); count = 1; }
    if (r != 1) return r;
    return node(ps, N_RDNS, (unsigned int) start, 0, count, out);
  }
  for (i = 0; i < p->nlists; ++i)
    if (t->len == strlen(p->list[i].name) && !memcmp(t->s, p->list[i].name, t->len))
      return node(ps, N_LIST, i, 0, 0, out);
  return bad(ps, "unknown list ", t->s, t->len);
}

static int andexpr(struct parser *ps, unsigned int *out)
{
  unsigned int a, b;
  int r = primary(ps, &a);
  if (r != 1) return r;
  while (ps->tok[ps->pos].t == T_AND) {
    ++ps->pos;
    if ((r = primary(ps, &b)) != 1) return r;
    if ((r = node(ps, N_AND, a, b, 0, &a)) != 1) return r;
  }
  *out = a;
  return 1;
}

static int expr(struct parser *ps, unsigned int *out)
{
  unsigned int a, b;
  int r = andexpr(ps, &a);
  if (r != 1) return r;
  while (ps->tok[ps->pos].t == T_OR) {
    ++ps->pos;
    if ((r = andexpr(ps, &b)) != 1) return r;
    if ((r = node(ps, N_OR, a, b, 0, &a)) != 1) return r;
  }
  *out = a;
  return 1;
}

/* a code of the right class, or none (then one is put in front) */
static int textcode(const char *s)
{
  if (s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
      (s[3] == ' ' || s[3] == 0))
    return s[0] - '0';
  return 0;
}

static int parse_text(struct parser *ps, rblcheck_rule *r, const char *w)
{
  rblcheck_policy *p = ps->p;
  int want = r->action == RBLCHECK_A_REJECT ? 5 : 4, have = textcode(w);
  const char *s;
  if (strlen(w) > SDU_SMTP_TEXT_MAX) return badw(ps, "text too long: ", w);
  if (have && have != want)
    return badw(ps, want == 5 ? "reject needs a 5xx code: " : "tempfail needs a 4xx code: ", w);
  for (s = w; (s = strchr(s, '%')); ) {
    if (!strncmp(s, "%ip", 3)) s += 3;
    else if (!strncmp(s, "%lists", 6)) s += 6;
    else if (!strncmp(s, "%txt", 4)) { s += 4; p->needtxt = 1; }
    else if (s[1] == '%') s += 2;
    else return badw(ps, "unknown % escape in text: ", w);
  }
  r->text = p->texts.len + 1;
  if (!have && !stralloc_cats(&p->texts, want == 5 ? "553 " : "451 ")) return -1;
  if (!stralloc_cats(&p->texts, w) || !stralloc_0(&p->texts)) return -1;
  return 1;
}

static int parse_rule(struct parser *ps, sdu_config *c, char **w, unsigned int n, unsigned long line)
{
  rblcheck_policy *p = ps->p;
  rblcheck_rule *r;
  unsigned int a, i, first = p->nnodes;
  int rc;
  for (a = 1; a < n; ++a)
    if (!sdu_config_quoted(c, a) && action_of(w[a]) != RBLCHECK_A_NONE) break;
  if (a == 1) return bad(ps, "rule without a condition", 0, 0);
  if (a == n) return bad(ps, "rule without an action", 0, 0);
  if (p->nrules >= RBLCHECK_RULES_MAX) return bad(ps, "too many rules", 0, 0);
  if (p->nrules == p->rulecap) {
    rblcheck_rule *m = room(p->rule, &p->rulecap, RBLCHECK_RULES_MAX, sizeof *m);
    if (!m) return -1;
    p->rule = m;
  }
  r = &p->rule[p->nrules];
  memset(r, 0, sizeof *r);
  r->line = line;
  r->action = action_of(w[a]);
  r->percent = 100;
  if ((rc = tokenize(ps, w + 1, a - 1)) != 1) return rc;
  ps->depth = 0;
  if ((rc = expr(ps, &r->cond)) != 1) return rc;
  if (ps->tok[ps->pos].t != T_END) return bad(ps, "unexpected ", ps->tok[ps->pos].s, ps->tok[ps->pos].len);
  for (i = first; i < p->nnodes; ++i) if (p->node[i].op == N_PREGREET) r->pregreet = 1;
  i = a + 1;
  switch (r->action) {
    case RBLCHECK_A_TEMPFAIL:
      if (i < n && !sdu_config_quoted(c, i) && w[i][0] && w[i][strlen(w[i]) - 1] == '%') {
        unsigned long u;
        char num[8];
        size_t len = strlen(w[i]) - 1;
        if (len >= sizeof num) return badw(ps, "bad percentage ", w[i]);
        memcpy(num, w[i], len);
        num[len] = 0;
        if (!number(num, &u, 100)) return badw(ps, "bad percentage ", w[i]);
        r->percent = (unsigned int) u;
        ++i;
      }
      /* fall through */
    case RBLCHECK_A_REJECT:
      if (i + 1 < n) return badw(ps, "put the text in quotes: ", w[i]);
      if (i < n && (rc = parse_text(ps, r, w[i])) != 1) return rc;
      break;
    case RBLCHECK_A_THROTTLE:
      if (i >= n) return bad(ps, "throttle needs a number", 0, 0);
      if (!number(w[i], &r->throttle, 1000000)) return badw(ps, "bad throttle number ", w[i]);
      if (++i < n) return badw(ps, "unexpected ", w[i]);
      break;
    case RBLCHECK_A_GREETWAIT:
      if (i >= n) return bad(ps, "greetwait needs seconds", 0, 0);
      if (!rblcheck_seconds(w[i], &r->wait) || r->wait > RBLCHECK_GREETWAIT_MAX)
        return badw(ps, "bad greetwait seconds (at most 60) ", w[i]);
      if (++i < n) return badw(ps, "unexpected ", w[i]);
      break;
    default:
      if (i < n) return badw(ps, "unexpected ", w[i]);
  }
  ++p->nrules;
  return 1;
}

int rblcheck_policy_parse(rblcheck_policy *p, sdu_config *c, stralloc *err)
{
  struct parser *ps;
  char **w;
  unsigned int n;
  int r = 1;

  p->nlists = p->nzones = p->nrules = p->nnodes = 0;
  p->listcap = p->rulecap = p->nodecap = 0;
  p->list = 0; p->rule = 0; p->node = 0;
  p->nglobs = 0;
  p->needtxt = 0;
  p->globs.s = p->texts.s = 0;
  p->globs.len = p->globs.a = p->texts.len = p->texts.a = 0;
  ps = malloc(sizeof *ps);
  if (!ps) return -1;
  ps->p = p;
  ps->err = err;
  ps->n = ps->pos = ps->depth = 0;
  ps->m1 = ps->m2 = 0;
  ps->nested = 0;
  ps->tok = 0;
  ps->tokcap = 0;
  for (;;) {
    int st = sdu_config_next(c, &w, &n);
    if (st == 0) { r = 1; break; }
    if (st == -1) {
      r = 0;
      ps->m1 = sdu_config_error(c);
      ps->m2 = 0;
      break;
    }
    if (!strcmp(w[0], "list") && !sdu_config_quoted(c, 0)) r = parse_list(ps, w, n);
    else if (!strcmp(w[0], "rule") && !sdu_config_quoted(c, 0)) r = parse_rule(ps, c, w, n, c->line);
    else r = badw(ps, "unknown keyword ", w[0]);
    if (r != 1) break;
  }
  if (r == 0 && !ps->nested) {
    err->len = 0;
    if (!sdu_config_fmt(err, c, ps->m1, ps->m2)) r = -1;
  }
  if (r == 0) {
    if (!stralloc_0(err)) r = -1;
    else --err->len;
  }
  free(ps->tok);
  free(ps);
  if (r == 1 || r == 0) return r;
  return -1;
}

int rblcheck_policy_load(rblcheck_policy *p, const char *file, stralloc *err)
{
  sdu_config c;
  int r;
  if (sdu_config_open(&c, file) == -1) return -1;
  c.file = file;
  r = rblcheck_policy_parse(p, &c, err);
  sdu_config_free(&c);
  if (r == -1) errno = ENOMEM;
  return r;
}

void rblcheck_policy_free(rblcheck_policy *p)
{
  stralloc_free(&p->globs);
  stralloc_free(&p->texts);
  free(p->list); free(p->rule); free(p->node);
  p->list = 0; p->rule = 0; p->node = 0;
  p->listcap = p->rulecap = p->nodecap = 0;
  p->nlists = p->nzones = p->nrules = p->nnodes = 0;
}

/* --- one connection -------------------------------------------------- */

void rblcheck_ctx_init(rblcheck_ctx *x, const rblcheck_policy *p)
{
  unsigned int i;
  memset(x, 0, sizeof *x);
  x->p = p;
  for (i = 0; i < RBLCHECK_LISTS_MAX; ++i) {
    x->state[i] = RBLCHECK_PENDING;
    x->txtst[i] = SDU_DNS_PENDING;
  }
}

int rblcheck_glob(const char *g, const char *s)
{
  const char *star = 0, *back = 0;
  while (*s) {
    if (*g == '*') { star = ++g; back = s; continue; }
    if (*g && (*g == '?' || lower((unsigned char) *g) == lower((unsigned char) *s))) { ++g; ++s; continue; }
    if (!star) return 0;
    g = star;
    s = ++back;
  }
  while (*g == '*') ++g;
  return !*g;
}

int rblcheck_classify(const rblcheck_list *l, int status, const char *a, size_t len, unsigned char bad4[4])
{
  size_t i;
  int yes = 0;
  switch (status) {
    case SDU_DNS_PENDING: return RBLCHECK_PENDING;
    case SDU_DNS_NXDOMAIN: return RBLCHECK_NO;
    case SDU_DNS_OK: break;
    default: return RBLCHECK_FAIL;
  }
  for (i = 0; i + 4 <= len; i += 4) {
    const unsigned char *u = (const unsigned char *) a + i;
    unsigned long v = (unsigned long) u[0] << 24 | (unsigned long) u[1] << 16 | (unsigned long) u[2] << 8 | u[3];
    unsigned int k;
    /* outside 127/8, or 127.255.255.252-255 (Spamhaus: you may not query) */
    if ((v >> 24) != 127 || v >= 0x7ffffffcUL) {
      memcpy(bad4, u, 4);
      return RBLCHECK_BAD;
    }
    if (!l->nranges) yes = 1;
    for (k = 0; k < l->nranges; ++k)
      if (v >= l->lo[k] && v <= l->hi[k]) yes = 1;
  }
  return yes ? RBLCHECK_YES : RBLCHECK_NO;
}

void rblcheck_absorb(rblcheck_ctx *x, const sdu_dnsq *q, int txt)
{
  const rblcheck_policy *p = x->p;
  unsigned int i;
  for (i = 0; i < p->nlists; ++i) {
    const sdu_dnsq *a = &q[p->list[i].zi];
    x->state[i] = (unsigned char) rblcheck_classify(&p->list[i], a->status, a->answer.s, a->answer.len, x->bad[i]);
  }
  if (!txt) return;
  for (i = 0; i < p->nzones; ++i) {
    const sdu_dnsq *t = &q[p->nzones + i];
    size_t pos = 0;
    x->txtst[i] = t->status;
    if (t->status == SDU_DNS_OK && sdu_dnsq_next(t, &pos, &x->txt[i], &x->txtlen[i])) continue;
    if (t->status == SDU_DNS_OK) x->txtst[i] = SDU_DNS_NXDOMAIN;
  }
}

/* 0 false, 1 true, 2 not known yet */
static int eval(const rblcheck_ctx *x, unsigned int k, int final)
{
  const rblcheck_policy *p = x->p;
  const rblcheck_node *nd = &p->node[k];
  unsigned int i;
  unsigned long lo = 0, hi = 0;
  int a, b;
  switch (nd->op) {
    case N_LIST:
      if (x->state[nd->a] == RBLCHECK_YES) return 1;
      return x->state[nd->a] == RBLCHECK_PENDING && !final ? 2 : 0;
    case N_ANY:
    case N_SCORE:
      for (i = 0; i < p->nlists; ++i) {
        if (x->state[i] == RBLCHECK_YES) { lo += p->list[i].weight; hi += p->list[i].weight; }
        if (x->state[i] == RBLCHECK_PENDING && !final) hi += p->list[i].weight ? p->list[i].weight : 1;
      }
      if (nd->op == N_ANY) {
        for (i = 0; i < p->nlists; ++i) if (x->state[i] == RBLCHECK_YES) return 1;
        return hi > lo ? 2 : 0;
      }
      if (lo >= nd->n) return 1;
      return hi >= nd->n ? 2 : 0;
    case N_RDNS: {
      const char *g = p->globs.s + nd->a;
      unsigned long j;
      if (!x->rdns) return 0;
      for (j = 0; j < nd->n; ++j, g += strlen(g) + 1)
        if (rblcheck_glob(g, x->rdns)) return 1;
      return 0;
    }
    case N_NORDNS: return !x->rdns;
    case N_PREGREET:
      /* a watched client may still talk while the answers come */
      if (x->pregreet) return 1;
      return x->watch && !final ? 2 : 0;
    case N_NOT:
      a = eval(x, nd->a, final);
      return a == 2 ? 2 : !a;
    case N_AND:
      a = eval(x, nd->a, final);
      if (!a) return 0;
      b = eval(x, nd->b, final);
      if (!b) return 0;
      return a == 1 && b == 1 ? 1 : 2;
    case N_OR:
      a = eval(x, nd->a, final);
      if (a == 1) return 1;
      b = eval(x, nd->b, final);
      if (b == 1) return 1;
      return a == 0 && b == 0 ? 0 : 2;
  }
  return 0;
}

/* the zone whose TXT %txt stands for: -1 none; -2 not known yet */
static int txtzone(const rblcheck_ctx *x, int final)
{
  const rblcheck_policy *p = x->p;
  unsigned int i;
  for (i = 0; i < p->nlists; ++i) {
    unsigned int z = p->list[i].zi;
    if (x->state[i] == RBLCHECK_PENDING && !final) return -2;
    if (x->state[i] != RBLCHECK_YES) continue;
    if (x->txtst[z] == SDU_DNS_PENDING && !final) return -2;
    if (x->txtst[z] == SDU_DNS_OK) return (int) z;
  }
  return -1;
}

int rblcheck_decide(const rblcheck_ctx *x, int final, rblcheck_verdict *v)
{
  const rblcheck_policy *p = x->p;
  unsigned int i;
  int pending = 0, failed = 0, listed = 0, t = 0;

  memset(v, 0, sizeof *v);
  v->rule = -1;
  for (i = 0; i < p->nlists; ++i) {
    switch (x->state[i]) {
      case RBLCHECK_YES: listed = 1; v->score += p->list[i].weight; break;
      case RBLCHECK_PENDING: if (final) failed = 1; else pending = 1; break;
      case RBLCHECK_FAIL: case RBLCHECK_BAD: failed = 1; break;
    }
  }
  for (i = 0; i < p->nrules; ++i) {
    t = eval(x, p->rule[i].cond, final);
    if (t == 2) return 0;
    if (t == 1 && p->rule[i].action == RBLCHECK_A_GREETWAIT) {
      /* nothing to wait for: no watch, the client talked, waited already */
      if (!x->watch || x->pregreet || x->waited) continue;
      /* the wait comes after every answer */
      if (!final) return 0;
      v->rule = (int) i;
      v->action = RBLCHECK_A_GREETWAIT;
      v->greetwait = p->rule[i].wait;
      return 1;
    }
    if (t == 1) { v->rule = (int) i; break; }
  }
  if (v->rule >= 0) {
    const rblcheck_rule *r = &p->rule[v->rule];
    v->action = r->action;
    v->throttle = r->throttle;
    if (r->action == RBLCHECK_A_REJECT) {
      v->refuse = 1;
      v->text = r->text ? p->texts.s + r->text - 1 : RBLCHECK_DEFAULT_REJECT;
    } else if (r->action == RBLCHECK_A_TEMPFAIL) {
      if (x->roll < r->percent) {
        v->refuse = 1;
        v->text = r->text ? p->texts.s + r->text - 1 : RBLCHECK_DEFAULT_TEMPFAIL;
      } else v->action = RBLCHECK_A_LEAK;
    }
  } else
    v->action = listed ? RBLCHECK_A_TAG : RBLCHECK_A_PASS;

  if (v->refuse) {
    if (strstr(v->text, "%txt") && txtzone(x, final) == -2) return 0;
  } else {
    /* passed on: the names of every list go with it */
    if (pending) return 0;
    if (listed && v->rule < 0) v->action = RBLCHECK_A_TAG;
    if (failed && x->failclosed) {
      v->action = RBLCHECK_A_FAILCLOSED;
      v->refuse = 1;
      v->text = RBLCHECK_FAILCLOSED_TEXT;
    }
  }
  if (v->refuse && x->harvest) {
    v->would = v->action;
    v->action = RBLCHECK_A_HARVEST;
    v->refuse = 0;
    v->text = 0;
  }
  switch (v->action) {
    case RBLCHECK_A_THROTTLE: case RBLCHECK_A_TAG: case RBLCHECK_A_LEAK: case RBLCHECK_A_HARVEST:
    case RBLCHECK_A_GREYLIST:
      v->header = 1;
  }
  return 1;
}

int rblcheck_lists(stralloc *out, const rblcheck_ctx *x, int sep)
{
  unsigned int i;
  int first = 1;
  char s = (char) sep;
  for (i = 0; i < x->p->nlists; ++i) {
    if (x->state[i] != RBLCHECK_YES) continue;
    if (!first && !stralloc_catb(out, &s, 1)) return 0;
    if (!stralloc_cats(out, x->p->list[i].name)) return 0;
    first = 0;
  }
  return 1;
}

int rblcheck_lists_in(stralloc *out, const rblcheck_ctx *x, int state)
{
  unsigned int i;
  int first = 1;
  for (i = 0; i < x->p->nlists; ++i) {
    if (x->state[i] != state) continue;
    if (!first && !stralloc_append(out, ",")) return 0;
    if (!stralloc_cats(out, x->p->list[i].name)) return 0;
    first = 0;
  }
  return 1;
}

int rblcheck_text(stralloc *out, const rblcheck_ctx *x, const char *tmpl, const char *ip)
{
  const char *s = tmpl;
  while (*s) {
    size_t n = strcspn(s, "%");
    if (!stralloc_catb(out, s, n)) return 0;
    s += n;
    if (!*s) break;
    if (!strncmp(s, "%ip", 3)) {
      if (!sdu_printable(out, ip, strlen(ip), SDU_IP_FMT, 0)) return 0;
      s += 3;
    } else if (!strncmp(s, "%lists", 6)) {
      if (!rblcheck_lists(out, x, ',')) return 0;
      s += 6;
    } else if (!strncmp(s, "%txt", 4)) {
      int z = txtzone(x, 1);
      if (z >= 0 && !sdu_printable(out, x->txt[z], x->txtlen[z], RBLCHECK_TXT_MAX, 1)) return 0;
      s += 4;
    } else if (s[1] == '%') {
      if (!stralloc_append(out, "%")) return 0;
      s += 2;
    } else {
      if (!stralloc_append(out, "%")) return 0;
      ++s;
    }
  }
  return 1;
}

int rblcheck_header(stralloc *out, const rblcheck_ctx *x, const rblcheck_verdict *v,
  const char *ip, time_t now, const sdu_tagkeys *k)
{
  char num[FMT_ULONG], date[32];
  struct tm tm;
  size_t before, fields;
  if (!stralloc_cats(out, "X-RBLCheck: ")) return 0;
  fields = out->len;
  if (!stralloc_cats(out, "ip=")) return 0;
  if (!sdu_printable(out, ip, strlen(ip), SDU_IP_FMT, 0)) return 0;
  if (!stralloc_cats(out, " lists=")) return 0;
  before = out->len;
  if (!rblcheck_lists(out, x, ',')) return 0;
  if (out->len == before && !stralloc_append(out, "-")) return 0;
  if (!stralloc_cats(out, " score=")) return 0;
  if (!stralloc_catb(out, num, sdu_fmt_ulong(num, v->score))) return 0;
  if (!stralloc_cats(out, " action=") || !stralloc_cats(out, rblcheck_actionname(v->action))) return 0;
  if (v->would && (!stralloc_cats(out, " would=") || !stralloc_cats(out, rblcheck_actionname(v->would)))) return 0;
  if (!gmtime_r(&now, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  if (!stralloc_cats(out, " date=") || !stralloc_cats(out, date)) return 0;
  if (k && k->n) {
    int r = sdu_tag_sign(out, k, out->s + fields, out->len - fields);
    if (r != 1) return r;
  }
  return stralloc_append(out, "\n");
}

int rblcheck_seconds(const char *s, unsigned long *ms)
{
  unsigned long sec = 0, frac = 0, scale = 100;
  size_t n = 0;
  if (!*s) return 0;
  while (s[n] >= '0' && s[n] <= '9') {
    if (n >= 5) return 0;
    sec = sec * 10 + (unsigned long) (s[n++] - '0');
  }
  s += n;
  if (*s == '.') {
    ++s;
    if (!*s && !n) return 0;
    for (n = 0; s[n] >= '0' && s[n] <= '9'; ++n) {
      if (n >= 3) return 0;
      frac += (unsigned long) (s[n] - '0') * scale;
      scale /= 10;
    }
    s += n;
  } else if (!n) return 0;
  if (*s) return 0;
  *ms = sec * 1000 + frac;
  return *ms >= 1 && *ms <= 3600000UL;
}

int rblcheck_envrule(const char *value, stralloc *out)
{
  int perm, code;
  if (!value) return 0;
  if (!*value) return 1;
  perm = *value == '-';
  if (perm) ++value;
  code = textcode(value);
  out->len = 0;
  if (code != (perm ? 5 : 4)) {
    if (!stralloc_cats(out, perm ? "553 " : "451 ")) return -1;
    if (!*value && !stralloc_cats(out, perm ? "5.7.1 refused" : "4.7.1 try again later")) return -1;
  }
  if (!stralloc_cats(out, value) || !stralloc_0(out)) return -1;
  --out->len;
  return perm ? 2 : 3;
}
