/* spamgrab_parse.c: double-bounces taken apart: the original, our Received line, the rblcheck tag */
#include <string.h>
#include "spamgrab_parse.h"

static int lc(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ieq(const char *a, size_t alen, const char *b)
{
  size_t i;
  for (i = 0; i < alen; ++i) if (!b[i] || lc((unsigned char) a[i]) != lc((unsigned char) b[i])) return 0;
  return b[alen] == 0;
}

static int iprefix(const char *a, size_t alen, const char *b)
{
  size_t i;
  for (i = 0; b[i]; ++i) if (i >= alen || lc((unsigned char) a[i]) != lc((unsigned char) b[i])) return 0;
  return 1;
}

/* case-insensitive search of what in s[0..len) */
static const char *isearch(const char *s, size_t len, const char *what)
{
  size_t n = strlen(what), i;
  if (!n || n > len) return 0;
  for (i = 0; i + n <= len; ++i)
    if (lc((unsigned char) s[i]) == lc((unsigned char) what[0]) && iprefix(s + i, len - i, what)) return s + i;
  return 0;
}

/* end of the line starting at pos: the index of its '\n' or len */
static size_t eol(const char *s, size_t len, size_t pos)
{
  const char *nl = pos < len ? memchr(s + pos, '\n', len - pos) : 0;
  return nl ? (size_t) (nl - s) : len;
}

static size_t next_line(const char *s, size_t len, size_t pos)
{
  size_t e = eol(s, len, pos);
  return e < len ? e + 1 : len;
}

static int isblankline(const char *s, size_t len, size_t pos)
{
  size_t e = eol(s, len, pos);
  if (e == len && pos == len) return 0;
  return e == pos || (e == pos + 1 && s[pos] == '\r');
}

static int fieldname_at(const char *s, size_t len, size_t pos, size_t *colon)
{
  size_t i;
  for (i = pos; i < len; ++i) {
    unsigned char c = (unsigned char) s[i];
    if (c == ':') {
      if (i == pos) return 0;
      *colon = i;
      return 1;
    }
    if (c < 33 || c > 126) return 0;
  }
  return 0;
}

int sg_split(const char *msg, size_t len, size_t *hlen, size_t *body)
{
  size_t pos = 0, colon;
  if (isblankline(msg, len, 0)) {
    *hlen = 0;
    *body = next_line(msg, len, 0);
    return 1;
  }
  if (!fieldname_at(msg, eol(msg, len, 0), 0, &colon)) return 0;
  while (pos < len) {
    if (isblankline(msg, len, pos)) {
      *hlen = pos;
      *body = next_line(msg, len, pos);
      return 1;
    }
    pos = next_line(msg, len, pos);
  }
  *hlen = *body = len;
  return 1;
}

int sg_field_next(const char *h, size_t hlen, size_t *pos, sg_span *name, sg_span *value)
{
  size_t p = *pos, colon, e;
  while (p < hlen) {
    e = eol(h, hlen, p);
    if (h[p] == ' ' || h[p] == '\t' || !fieldname_at(h, e, p, &colon)) {
      p = next_line(h, hlen, p);
      continue;
    }
    name->s = h + p;
    name->len = colon - p;
    value->s = h + colon + 1;
    p = next_line(h, hlen, p);
    while (p < hlen && (h[p] == ' ' || h[p] == '\t')) { e = eol(h, hlen, p); p = next_line(h, hlen, p); }
    if (e > (size_t) (value->s - h) && h[e - 1] == '\r') --e;
    value->len = e >= (size_t) (value->s - h) ? e - (size_t) (value->s - h) : 0;
    *pos = p;
    return 1;
  }
  *pos = hlen;
  return 0;
}

int sg_field_find(const char *h, size_t hlen, const char *want, sg_span *value)
{
  size_t pos = 0;
  sg_span n;
  while (sg_field_next(h, hlen, &pos, &n, value))
    if (ieq(n.s, n.len, want)) return 1;
  return 0;
}

size_t sg_unfold(char *out, size_t max, const char *v, size_t len)
{
  size_t i, o = 0;
  int sp = 0;
  if (!max) return 0;
  for (i = 0; i < len && o + 1 < max; ++i) {
    char c = v[i];
    if (c == '\r' || c == '\n' || c == '\t' || c == ' ') { sp = 1; continue; }
    if (sp && o) out[o++] = ' ';
    sp = 0;
    if (o + 1 < max) out[o++] = c;
  }
  out[o] = 0;
  return o;
}

/* MIME: type/subtype and the boundary parameter of a Content-Type value */
static int ctype(const char *v, size_t len, char *type, size_t tmax, char *bnd, size_t bmax)
{
  char buf[SG_FIELD_MAX];
  size_t n = sg_unfold(buf, sizeof buf, v, len), i = 0, t = 0;
  *bnd = 0;
  while (i < n && buf[i] != ';' && buf[i] != ' ' && buf[i] != '(') {
    if (t + 1 < tmax) type[t++] = (char) lc((unsigned char) buf[i]);
    ++i;
  }
  type[t] = 0;
  while (i < n) {
    size_t b = 0;
    if (buf[i] != ';') { ++i; continue; }
    ++i;
    while (i < n && buf[i] == ' ') ++i;
    if (!iprefix(buf + i, n - i, "boundary")) continue;
    i += 8;
    while (i < n && buf[i] == ' ') ++i;
    if (i >= n || buf[i] != '=') continue;
    ++i;
    while (i < n && buf[i] == ' ') ++i;
    if (i < n && buf[i] == '"') {
      for (++i; i < n && buf[i] != '"'; ++i) if (b + 1 < bmax) bnd[b++] = buf[i];
    } else {
      for (; i < n && buf[i] != ';' && buf[i] != ' '; ++i) if (b + 1 < bmax) bnd[b++] = buf[i];
    }
    bnd[b] = 0;
    return 1;
  }
  return 1;
}

/* a delimiter line "--bnd" or "--bnd--" at pos: 1 delimiter, 2 close, 0 not */
static int delimiter(const char *s, size_t len, size_t pos, const char *bnd, size_t blen)
{
  size_t e = eol(s, len, pos), i;
  int close = 0;
  if (e - pos < blen + 2 || s[pos] != '-' || s[pos + 1] != '-' || memcmp(s + pos + 2, bnd, blen)) return 0;
  i = pos + 2 + blen;
  if (e - i >= 2 && s[i] == '-' && s[i + 1] == '-') { close = 1; i += 2; }
  for (; i < e; ++i) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return close ? 2 : 1;
}

/* the last message/rfc822 (best) or text/rfc822-headers part of a MIME message */
static int mime_find(const char *msg, size_t len, int depth, sg_span *orig, int *best)
{
  size_t hlen, body, pos, start = 0;
  sg_span v;
  char type[64], bnd[201];
  int found = 0, in = 0;
  size_t blen;
  if (depth > SG_MIME_DEPTH || !sg_split(msg, len, &hlen, &body)) return 0;
  if (!sg_field_find(msg, hlen, "Content-Type", &v)) return 0;
  ctype(v.s, v.len, type, sizeof type, bnd, sizeof bnd);
  if (strncmp(type, "multipart/", 10) || !*bnd) return 0;
  blen = strlen(bnd);
  for (pos = body; pos <= len; pos = next_line(msg, len, pos)) {
    int d = pos < len ? delimiter(msg, len, pos, bnd, blen) : 2;
    if (d) {
      if (in) {
        /* the part ends before the line end that precedes the delimiter */
        size_t end = pos, phlen, pbody;
        const char *part = msg + start;
        if (end > start && msg[end - 1] == '\n') --end;
        if (end > start && msg[end - 1] == '\r') --end;
        if (sg_split(part, end - start, &phlen, &pbody)) {
          sg_span pv;
          char ptype[64], pbnd[201];
          *ptype = 0;
          if (sg_field_find(part, phlen, "Content-Type", &pv)) ctype(pv.s, pv.len, ptype, sizeof ptype, pbnd, sizeof pbnd);
          if (!strcmp(ptype, "message/rfc822") && pbody < end - start) {
            orig->s = part + pbody; orig->len = end - start - pbody; *best = 2; found = 1;
          } else if (!strcmp(ptype, "text/rfc822-headers") && *best < 2 && pbody < end - start) {
            orig->s = part + pbody; orig->len = end - start - pbody; *best = 1; found = 1;
          } else if (!strncmp(ptype, "multipart/", 10)) {
            if (mime_find(part, end - start, depth + 1, orig, best)) found = 1;
          }
        }
      }
      if (d == 2) break;
      in = 1;
      start = next_line(msg, len, pos);
    }
    if (pos == len) break;
  }
  return found;
}

static const char *const copy_markers[] = {
  "below this line is a copy of the message.",           /* qmail */
  "this is a copy of the message, including all the headers.", /* Exim */
  "original message follows",                            /* Sendmail */
  "unsent message follows",                              /* Sendmail */
  "the original message follows",
  0
};
static const char *const header_markers[] = {
  "this is a copy of the message's headers.",            /* Exim */
  "message header follows",                              /* Sendmail */
  "original message header follows",
  "below this line is a copy of the message headers.",
  0
};

/* a marker line: dashes and blanks around the words */
static int marker(const char *s, size_t len, const char *const *list)
{
  size_t a = 0, b = len;
  unsigned int i;
  while (a < b && (s[a] == '-' || s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == '-' || s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  if (b == a || a == 0) return 0; /* the words come after dashes */
  for (i = 0; list[i]; ++i) if (ieq(s + a, b - a, list[i])) return 1;
  return 0;
}

/* what follows the first marker line (and one empty line) in body */
static int after_marker(const char *s, size_t len, const char *const *list, sg_span *rest)
{
  size_t pos;
  for (pos = 0; pos < len; pos = next_line(s, len, pos)) {
    size_t e = eol(s, len, pos);
    if (e - pos > 100 || !marker(s + pos, e - pos, list)) continue;
    pos = next_line(s, len, pos);
    if (pos < len && isblankline(s, len, pos)) pos = next_line(s, len, pos);
    if (pos >= len) return 0;
    rest->s = s + pos;
    rest->len = len - pos;
    return 1;
  }
  return 0;
}

int sg_original(const char *bounce, size_t len, sg_span *orig, int *headers_only)
{
  size_t hlen, body;
  int best = 0;
  sg_span a, b;
  int ha, hb;
  if (!sg_split(bounce, len, &hlen, &body)) return 0;
  if (mime_find(bounce, len, 0, orig, &best)) {
    *headers_only = best == 1;
    return 1;
  }
  ha = after_marker(bounce + body, len - body, copy_markers, &a);
  hb = after_marker(bounce + body, len - body, header_markers, &b);
  if (ha && (!hb || a.s <= b.s)) { *orig = a; *headers_only = 0; return 1; }
  if (hb) { *orig = b; *headers_only = 1; return 1; }
  return 0;
}

static int hostchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
    c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == ':' || c == '?';
}

static void copyword(char *out, size_t max, const char *s, size_t len)
{
  size_t i, o = 0;
  for (i = 0; i < len && o + 1 < max; ++i) out[o++] = hostchar(s[i]) ? s[i] : '_';
  out[o] = 0;
}

/* the address inside an address group: "info@192.0.2.7", "[192.0.2.7] helo=x", "IPv6:..." */
static int group_ip(const char *g, size_t len, sdu_ip *ip)
{
  char buf[64];
  const char *a = g, *lb = memchr(g, '[', len);
  size_t n = len, i;
  if (lb) {
    const char *rb = memchr(lb, ']', len - (size_t) (lb - g));
    if (!rb) return 0;
    a = lb + 1;
    n = (size_t) (rb - a);
  } else {
    for (i = len; i > 0; --i) if (g[i - 1] == '@') { a = g + i; n = len - i; break; }
  }
  if (iprefix(a, n, "ipv6:")) { a += 5; n -= 5; }
  if (!n || n >= sizeof buf) return 0;
  memcpy(buf, a, n);
  buf[n] = 0;
  return sdu_ip_parse(ip, buf);
}

int sg_received_parse(const char *v, size_t len, sg_received *r)
{
  char buf[SG_FIELD_MAX];
  size_t n = sg_unfold(buf, sizeof buf, v, len), i, fe, bs;
  const char *by, *semi;
  int haveip = 0;
  memset(r, 0, sizeof *r);
  if (n < 5 || !iprefix(buf, n, "from ")) return 0;
  by = isearch(buf + 5, n - 5, " by ");
  if (!by) return 0;
  fe = (size_t) (by - buf);
  /* rdns: the first word after "from " */
  for (i = 5; i < fe && buf[i] != ' ' && buf[i] != '('; ++i) ;
  copyword(r->rdns, sizeof r->rdns, buf + 5, i - 5);
  /* the parenthesised groups of the from part, at depth one */
  while (i < fe) {
    size_t gs, depth = 0;
    if (buf[i] != '(') { ++i; continue; }
    gs = ++i;
    depth = 1;
    while (i < fe && depth) { if (buf[i] == '(') ++depth; else if (buf[i] == ')') --depth; ++i; }
    if (depth) break;
    if (iprefix(buf + gs, i - 1 - gs, "HELO ")) {
      copyword(r->helo, sizeof r->helo, buf + gs + 5, i - 1 - gs - 5);
    } else if (group_ip(buf + gs, i - 1 - gs, &r->ip)) {
      const char *h = isearch(buf + gs, i - 1 - gs, "helo=");
      haveip = 1;
      if (h) {
        size_t k = (size_t) (h - buf) + 5, e = k;
        while (e < i - 1 && buf[e] != ' ' && buf[e] != ')') ++e;
        copyword(r->helo, sizeof r->helo, buf + k, e - k);
      }
    }
  }
  if (!*r->helo) memcpy(r->helo, r->rdns, sizeof r->helo);
  bs = fe + 4;
  for (i = bs; i < n && buf[i] != ' ' && buf[i] != ';'; ++i) ;
  copyword(r->by, sizeof r->by, buf + bs, i - bs);
  semi = memchr(buf + bs, ';', n - bs);
  if (semi) {
    /* the date follows the last ';' */
    const char *s2;
    while ((s2 = memchr(semi + 1, ';', n - (size_t) (semi + 1 - buf)))) semi = s2;
    ++semi;
    while (*semi == ' ') ++semi;
    n = strlen(semi);
    if (n > SG_DATE_MAX) n = SG_DATE_MAX;
    for (i = 0; i < n; ++i) r->date[i] = semi[i] >= 32 && semi[i] < 127 ? semi[i] : '?';
    r->date[n] = 0;
  }
  return *r->by && haveip ? 1 : -1;
}

int sg_tag_parse(const char *v, size_t len, sdu_ip *ip, char *lists, size_t listsmax)
{
  char buf[SG_FIELD_MAX], *w, *e;
  int haveip = 0, havelists = 0;
  size_t n = sg_unfold(buf, sizeof buf, v, len);
  if (listsmax) *lists = 0;
  w = buf;
  while (w < buf + n) {
    char *eq;
    e = memchr(w, ' ', (size_t) (buf + n - w));
    if (!e) e = buf + n;
    *e = 0;
    eq = memchr(w, '=', (size_t) (e - w));
    if (!eq) return 0;
    *eq = 0;
    if (!strcmp(w, "ip")) {
      if (haveip || !sdu_ip_parse(ip, eq + 1)) return 0;
      haveip = 1;
    } else if (!strcmp(w, "lists")) {
      const char *l = eq + 1;
      size_t k, ll = strlen(l);
      if (havelists) return 0;
      havelists = 1;
      if (!strcmp(l, "-")) ll = 0;
      if (ll + 1 > listsmax) return 0;
      for (k = 0; k < ll; ++k) {
        char c = l[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ',')) return 0;
        lists[k] = c;
      }
      lists[ll] = 0;
    }
    w = e + 1;
  }
  return haveip && havelists;
}

static int ourhost(const char *h, const char *const *hosts)
{
  size_t n = strlen(h);
  unsigned int i;
  if (n && h[n - 1] == '.') --n;
  if (!n) return 0;
  for (i = 0; hosts && hosts[i]; ++i) {
    size_t m = strlen(hosts[i]);
    if (m && hosts[i][m - 1] == '.') --m;
    if (m == n && iprefix(h, n, hosts[i])) return 1;
  }
  return 0;
}

static int sameip(const sdu_ip *a, const sdu_ip *b)
{
  return a->v6 == b->v6 && !memcmp(a->a, b->a, 16);
}

int sg_client_find(const char *h, size_t hlen, const char *const *hosts, sg_client *c)
{
  size_t pos = 0;
  sg_span n, v;
  sg_received r;
  memset(c, 0, sizeof *c);
  while (sg_field_next(h, hlen, &pos, &n, &v)) {
    size_t k = 0;
    if (ieq(n.s, n.len, "X-RBLCheck")) { ++c->untrusted_tags; continue; }
    if (!ieq(n.s, n.len, "Received")) continue;
    while (k < v.len && (v.s[k] == ' ' || v.s[k] == '\t')) ++k;
    if (k < v.len && v.s[k] == '(') continue; /* "(qmail 123 invoked from network)": our qmail-queue */
    switch (sg_received_parse(v.s, v.len, &r)) {
      case 0: return 0;     /* not a line of a known form: whatever is below is not ours to trust */
      case -1:              /* an internal hop (no client address) of one of our hosts */
        if (!*r.by || !ourhost(r.by, hosts)) return 0;
        continue;
    }
    if (!ourhost(r.by, hosts)) return 0;
    c->found = 1;
    c->ip = r.ip;
    sdu_ip_fmt(c->ip_s, &r.ip);
    memcpy(c->rdns, r.rdns, sizeof c->rdns);
    memcpy(c->helo, r.helo, sizeof c->helo);
    memcpy(c->by, r.by, sizeof c->by);
    memcpy(c->date, r.date, sizeof c->date);
    /* the tag counts only as the field right below our line, for the same address */
    if (sg_field_next(h, hlen, &pos, &n, &v) && ieq(n.s, n.len, "X-RBLCheck")) {
      sdu_ip tip;
      char lists[SG_LISTS_MAX + 1];
      /* only the tag's first physical line is ours: a continuation line
         below it would be the sender's */
      const char *nl = memchr(v.s, '\n', v.len);
      if (nl) v.len = (size_t) (nl - v.s) - (nl > v.s && nl[-1] == '\r');
      if (sg_tag_parse(v.s, v.len, &tip, lists, sizeof lists) && sameip(&tip, &c->ip)) {
        c->tag = 1;
        memcpy(c->lists, lists, sizeof lists);
      } else
        ++c->untrusted_tags;
    }
    while (sg_field_next(h, hlen, &pos, &n, &v))
      if (ieq(n.s, n.len, "X-RBLCheck")) ++c->untrusted_tags;
    return 1;
  }
  return 0;
}

/* "<addr>" or "addr" into out, when it is a plausible address */
static int takeaddr(char *out, const char *s, size_t len)
{
  size_t i;
  while (len && (*s == ' ' || *s == '\t')) { ++s; --len; }
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\r' || s[len - 1] == '\t')) --len;
  if (len >= 2 && s[0] == '<' && s[len - 1] == '>') { ++s; len -= 2; }
  if (len > SG_ADDR_MAX) return 0;
  for (i = 0; i < len; ++i) if ((unsigned char) s[i] <= 32 || (unsigned char) s[i] >= 127 || s[i] == '<' || s[i] == '>') return 0;
  memcpy(out, s, len);
  out[len] = 0;
  return 1;
}

/* the recipients a bounce names: qmail's "<addr>:" lines, DSN Final-Recipient
   fields, Exim's list below "The following address(es) failed:" (each
   address indented by two blanks, its reasons by more) */
static void recipients(sg_parsed *p, const char *s, size_t len)
{
  size_t pos, e;
  int exim = 0;
  for (pos = 0; pos < len && p->nrcpt < SG_RCPT_MAX; pos = next_line(s, len, pos)) {
    e = eol(s, len, pos);
    if (e > pos && s[e - 1] == '\r') --e;
    if (exim && e > pos) {
      size_t w;
      if (s[pos] != ' ') exim = 0;
      else if (e - pos > 2 && s[pos + 1] == ' ' && s[pos + 2] != ' ') {
        for (w = pos + 2; w < e && s[w] != ' '; ++w) ;
        if (w > pos + 2 && s[w - 1] == ':') --w; /* "addr:" as some versions write it */
        if (memchr(s + pos + 2, '@', w - pos - 2) && takeaddr(p->rcpt[p->nrcpt], s + pos + 2, w - pos - 2) &&
            *p->rcpt[p->nrcpt]) ++p->nrcpt;
        continue;
      } else continue;
    }
    if (e - pos >= 29 && ieq(s + e - 29, 29, "following address(es) failed:")) { exim = 1; continue; }
    if (e - pos > 3 && s[pos] == '<' && s[e - 1] == ':' && s[e - 2] == '>') {
      if (takeaddr(p->rcpt[p->nrcpt], s + pos, e - pos - 1) && *p->rcpt[p->nrcpt]) ++p->nrcpt;
    } else if (iprefix(s + pos, e - pos, "Final-Recipient:")) {
      const char *semi = memchr(s + pos, ';', e - pos);
      if (semi && takeaddr(p->rcpt[p->nrcpt], semi + 1, (size_t) (s + e - semi - 1)) && *p->rcpt[p->nrcpt]) ++p->nrcpt;
    }
  }
}

static const char *const inner_markers[] = {
  "below this line is the original bounce.",
  0
};

int sg_parse(sg_parsed *p, const char *msg, size_t len, int manual, const char *const *hosts)
{
  size_t hlen, body, ohlen, obody;
  sg_span v, inner;
  int best = 0, isdouble = 0;
  memset(p, 0, sizeof *p);
  if (!sg_split(msg, len, &hlen, &body)) return p->kind = SG_GARBAGE;
  if (manual) {
    p->kind = SG_OTHER;
    p->orig.s = msg;
    p->orig.len = len;
  } else {
    if (mime_find(msg, len, 0, &inner, &best)) {
      if (best != 2) inner.len = 0;
    } else if (!after_marker(msg + body, len - body, inner_markers, &inner))
      inner.len = 0;
    if (sg_field_find(msg, hlen, "Return-Path", &v)) {
      char rp[SG_ADDR_MAX + 1];
      if (takeaddr(rp, v.s, v.len) && !strcmp(rp, "#@[]")) isdouble = 1;
    }
    if (!isdouble && isearch(msg + body, (inner.len ? (size_t) (inner.s - msg) : len) - body, "but the bounce bounced!"))
      isdouble = 1;
    if (!isdouble) {
      int ho;
      p->kind = sg_original(msg, len, &p->orig, &ho) ? SG_SINGLE : SG_OTHER;
      p->orig.s = 0; p->orig.len = 0;
      return p->kind;
    }
    p->kind = SG_TRUNCATED;
    if (!inner.len) return p->kind;
    p->inner = inner;
    if (!sg_original(inner.s, inner.len, &p->orig, &p->headers_only)) return p->kind;
    p->kind = SG_DOUBLE;
    if (sg_split(inner.s, inner.len, &ohlen, &obody) && obody < (size_t) (p->orig.s - inner.s))
      recipients(p, inner.s + obody, (size_t) (p->orig.s - inner.s) - obody);
    /* the envelope sender the inner bounce went to: the outer bounce's recipient line */
    {
      sg_parsed tmp;
      tmp.nrcpt = 0;
      recipients(&tmp, msg + body, (size_t) (inner.s - msg) - body);
      if (tmp.nrcpt) memcpy(p->mailfrom, tmp.rcpt[0], sizeof p->mailfrom);
    }
  }
  if (!sg_split(p->orig.s, p->orig.len, &ohlen, &obody)) return p->kind;
  /* qmail writes the original's envelope sender as its first field */
  {
    size_t pos = 0;
    sg_span n;
    if (sg_field_next(p->orig.s, ohlen, &pos, &n, &v) && ieq(n.s, n.len, "Return-Path"))
      takeaddr(p->mailfrom, v.s, v.len);
  }
  sg_client_find(p->orig.s, ohlen, hosts, &p->client);
  return p->kind;
}
