/* throttle_report.c: reading the decision lines of all sdu links back, for sdu-report */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include "throttle_report.h"

/* What the report relies on in the links' lines, all in one place (DESIGN §6):
   - a line with ip= and action= is a decision;
   - with rcpt= it decides a recipient (rcptcheck), with from= or sender=
     but no rcpt= a sender; otherwise the connection: every link logs one
     such line per connection it sees (rblcheck, throttle);
   - lists= names the client's lists, comma-separated ("-" none);
   - rule=N (rblcheck's policy line) and reason= say why;
   - grey=D triplet=HEX (throttle) is one greylisting decision about a
     recipient, not a connection;
   - the per-connection counters of a link in the middle (throttle) name
     recipients it refused, and msgs= the messages downstream took;
   - reason=nonsmtp: the client's first line was HTTP. The proxy's line
     (action=reject) refuses the connection; the responder's
     (action=hangup) ends one that its link refused already. */
static const char *const K_IP = "ip", *const K_ACTION = "action", *const K_RCPT = "rcpt",
  *const K_LISTS = "lists", *const K_RULE = "rule", *const K_REASON = "reason", *const K_MSGS = "msgs";
static const char *const K_SENDER[] = { "from", "sender", 0 };
static const char *const A_REFUSE[] = { "reject", "tempfail", "failclosed", "close", 0 };
static const char *const A_ACCEPT[] = { "accept", "pass", 0 };
static const char *const A_HARVEST = "harvest";
static const char *const K_RCPTREFUSED[] = { "throttled", "blacklisted", "bounced", "greylisted", 0 };

static int is(const char *v, size_t len, const char *w)
{
  return v && strlen(w) == len && !memcmp(v, w, len);
}

static int isany(const char *v, size_t len, const char *const *w)
{
  for (; *w; ++w) if (is(v, len, *w)) return 1;
  return 0;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int tr_tai64n(const char *s, size_t len, unsigned long long *secs)
{
  unsigned long long u = 0;
  size_t i;
  if (len < 25 || s[0] != '@') return 0;
  for (i = 1; i < 25; ++i) {
    int h = hexval(s[i]);
    if (h < 0) return 0;
    if (i <= 16) u = (u << 4) | (unsigned long long) h;
  }
  /* TAI64 labels are 2^62 + 10 seconds ahead, as tai64nlocal counts them */
  if (u < 4611686018427387914ULL) return 0;
  *secs = u - 4611686018427387914ULL;
  return 1;
}

int tr_parse(tr_line *l, const char *s, size_t len)
{
  size_t i = 0, p;
  l->stamped = 0; l->n = 0;
  if (len && s[0] == '@') {
    if (!tr_tai64n(s, len, &l->when) || len < 26 || s[25] != ' ') return 0;
    l->stamped = 1;
    i = 26;
  }
  for (p = i; p < len && s[p] != ':' && s[p] != ' '; ++p) {}
  if (p == i || p >= len || p + 1 >= len || s[p] != ':' || s[p + 1] != ' ' || p - i >= 32) return 0;
  l->prog = s + i; l->proglen = p - i;
  i = p + 2;
  while (i < len) {
    size_t k = i, eq = 0;
    while (i < len && s[i] != ' ') { if (!eq && s[i] == '=') eq = i; ++i; }
    if (i > k) {
      if (!eq || eq == k) return 0; /* a word that is not key=value: a message, not a decision */
      if (l->n < TR_FIELDS) {
        tr_field *f = &l->f[l->n++];
        f->k = s + k; f->klen = eq - k;
        f->v = s + eq + 1; f->vlen = i - eq - 1;
      }
    }
    ++i;
  }
  return l->n > 0;
}

const char *tr_get(const tr_line *l, const char *key, size_t *vlen)
{
  unsigned int i;
  size_t kl = strlen(key);
  for (i = 0; i < l->n; ++i)
    if (l->f[i].klen == kl && !memcmp(l->f[i].k, key, kl)) {
      if (vlen) *vlen = l->f[i].vlen;
      return l->f[i].v;
    }
  return 0;
}

void tr_init(tr_stats *s, unsigned long long since)
{
  memset(s, 0, sizeof *s);
  s->since = since;
}

static void tallies_free(tr_tallies *t) { free(t->t); t->t = 0; t->len = t->a = 0; }

void tr_free(tr_stats *s)
{
  free(s->h);
  s->h = 0;
  free(s->trip);
  s->trip = 0; s->tripcap = s->triplen = 0;
  tallies_free(&s->bylink); tallies_free(&s->bylist); tallies_free(&s->byrule);
  tallies_free(&s->byreason); tallies_free(&s->rcptby);
  tallies_free(&s->sgreason); tallies_free(&s->sgby);
}

/* add n under "a b" (b may be empty); 0 no memory */
static int tally(tr_tallies *t, const char *a, size_t alen, const char *b, size_t blen, unsigned long n)
{
  char name[TR_NAME_MAX];
  unsigned int i;
  if (alen > 39) alen = 39;
  if (blen > 39) blen = 39;
  memcpy(name, a, alen);
  if (blen) { name[alen] = ' '; memcpy(name + alen + 1, b, blen); name[alen + 1 + blen] = 0; }
  else name[alen] = 0;
  for (i = 0; i < t->len; ++i)
    if (!strcmp(t->t[i].name, name)) { t->t[i].n += n; return 1; }
  /* names from the log are many when a client chose them (spamgrab's by=):
     past the bound they are "other", and the time per line stays bounded too */
  if (t->len >= TR_TALLIES_MAX - 1 && strcmp(name, "other")) {
    strcpy(name, "other");
    for (i = 0; i < t->len; ++i)
      if (!strcmp(t->t[i].name, name)) { t->t[i].n += n; return 1; }
  }
  if (t->len == t->a) {
    unsigned int a2 = t->a ? 2 * t->a : 16;
    tr_tally *m = realloc(t->t, a2 * sizeof *m);
    if (!m) return 0;
    t->t = m; t->a = a2;
  }
  strcpy(t->t[t->len].name, name);
  t->t[t->len++].n = n;
  return 1;
}

static size_t haship(const char *s)
{
  size_t h = 5381;
  for (; *s; ++s) h = h * 33 + (unsigned char) *s;
  return h;
}

static int grow(tr_stats *s)
{
  size_t cap = s->hcap ? 2 * s->hcap : 1024, i;
  tr_host *n = calloc(cap, sizeof *n);
  if (!n) return 0;
  for (i = 0; i < s->hcap; ++i)
    if (s->h[i].used) {
      size_t j = haship(s->h[i].ip) & (cap - 1);
      while (n[j].used) j = (j + 1) & (cap - 1);
      n[j] = s->h[i];
    }
  free(s->h);
  s->h = n; s->hcap = cap;
  return 1;
}

static tr_host *host(tr_stats *s, const char *ip, size_t len)
{
  char buf[SDU_IP_FMT + 8], canon[SDU_IP_FMT];
  sdu_ip a;
  size_t j;
  if (len >= sizeof buf) return 0;
  memcpy(buf, ip, len);
  buf[len] = 0;
  if (!sdu_ip_parse(&a, buf)) return 0;
  sdu_ip_fmt(canon, &a);
  if (2 * (s->hlen + 1) > s->hcap && s->hlen < TR_HOSTS_MAX && !grow(s)) return (tr_host *) -1;
  j = haship(canon) & (s->hcap - 1);
  while (s->h[j].used) {
    if (!strcmp(s->h[j].ip, canon)) return &s->h[j];
    j = (j + 1) & (s->hcap - 1);
  }
  /* memory bounded whatever the number of addresses (IPv6: a client has millions) */
  if (s->hlen >= TR_HOSTS_MAX) { ++s->overhosts; return &s->over; }
  s->h[j].used = 1;
  s->h[j].v6 = a.v6;
  strcpy(s->h[j].ip, canon);
  ++s->hlen;
  return &s->h[j];
}

static unsigned int progid(tr_stats *s, const char *p, size_t len)
{
  unsigned int i;
  if (len > 31) len = 31;
  for (i = 0; i < s->nprogs; ++i)
    if (strlen(s->prog[i]) == len && !memcmp(s->prog[i], p, len)) return i;
  if (s->nprogs == TR_PROGS) return TR_PROGS - 1;
  memcpy(s->prog[s->nprogs], p, len);
  s->prog[s->nprogs][len] = 0;
  return s->nprogs++;
}

/* the union of the lists a host was seen on, as far as it fits */
static void addlists(tr_host *h, const char *v, size_t len)
{
  size_t i = 0;
  while (i < len) {
    size_t e = i, hl = strlen(h->lists), j = 0, found = 0;
    while (e < len && v[e] != ',') ++e;
    while (j < hl) {
      size_t f = j;
      while (f < hl && h->lists[f] != ',') ++f;
      if (f - j == e - i && !memcmp(h->lists + j, v + i, e - i)) { found = 1; break; }
      j = f + 1;
    }
    if (!found && e > i && hl + (hl ? 1 : 0) + (e - i) < TR_LISTS_MAX) {
      if (hl) h->lists[hl++] = ',';
      memcpy(h->lists + hl, v + i, e - i);
      h->lists[hl + e - i] = 0;
    }
    i = e + 1;
  }
}

unsigned long tr_num(const char *v, size_t len)
{
  unsigned long n = 0;
  size_t i;
  for (i = 0; i < len && i < 9 && v[i] >= '0' && v[i] <= '9'; ++i) n = n * 10 + (unsigned long) (v[i] - '0');
  return n;
}

/* spamgrab's output inside qmail-send's log line: qmail-send writes every
   blank as '_' and qmail-local ends the program's output with '/'. Back into
   "[@stamp ]spamgrab: k=v k=v" in out; a '_' stays where the word after it
   is no key=value (a '_' inside a value). 1 done, 0 not such a line. */
static int fromqmail(const char *line, size_t len, char *out, size_t max, size_t *olen)
{
  static const char tag[] = "spamgrab:_";
  size_t i, o = 0, tl = sizeof tag - 1, st = 0;
  const char *p = 0;
  if (len && line[0] == '@' && len > 26) st = 26;
  for (i = st; i + tl <= len; ++i) {
    const char *c = memchr(line + i, 's', len - tl + 1 - i); /* memchr: fast to the next candidate */
    if (!c) break;
    i = (size_t) (c - line);
    if (!memcmp(c, tag, tl)) { p = c; break; }
  }
  if (!p || len - st + 16 > max) return 0;
  memcpy(out, line, st); o = st;
  memcpy(out + o, "spamgrab: ", 10); o += 10;
  for (i = (size_t) (p - line) + tl; i < len && line[i] != '/'; ++i) {
    char c = line[i];
    if (c == '_') {
      size_t j = i + 1;
      int kv = 0;
      while (j < len && line[j] != '_' && line[j] != '/') { if (line[j] == '=') kv = 1; ++j; }
      if (kv) c = ' ';
    }
    out[o++] = c;
  }
  *olen = o;
  return 1;
}

/* spamgrab's line: what it did with the double-bounces, and above all the
   Received lines "by" a name of none of our hosts (tcpserver -l0 writes "by 0") */
static int spamgrab(tr_stats *s, const tr_line *l)
{
  const char *v;
  size_t vlen;
  ++s->sglines;
  if ((v = tr_get(l, K_REASON, &vlen)) && !tally(&s->sgreason, v, vlen, "", 0, 1)) return -1;
  if ((v = tr_get(l, "by", &vlen)) && !tally(&s->sgby, v, vlen, "", 0, 1)) return -1;
  return 1;
}

/* the triplet's slot (0 no memory) */
static tr_triplet *triplet(tr_stats *s, unsigned long long h)
{
  size_t i;
  if (!h) h = 1; /* 0 marks a free slot */
  if (2 * (s->triplen + 1) > s->tripcap && s->triplen < TR_TRIPLETS_MAX) {
    size_t cap = s->tripcap ? 2 * s->tripcap : 1024, j;
    tr_triplet *t = calloc(cap, sizeof *t);
    if (!t) return 0;
    for (j = 0; j < s->tripcap; ++j)
      if (s->trip[j].h) {
        for (i = (size_t) (s->trip[j].h & (cap - 1)); t[i].h; i = (i + 1) & (cap - 1)) {}
        t[i] = s->trip[j];
      }
    free(s->trip);
    s->trip = t; s->tripcap = cap;
  }
  for (i = (size_t) (h & (s->tripcap - 1)); s->trip[i].h; i = (i + 1) & (s->tripcap - 1))
    if (s->trip[i].h == h) return &s->trip[i];
  if (s->triplen >= TR_TRIPLETS_MAX) { ++s->tripsover; return &s->tripover; } /* memory bounded */
  s->trip[i].h = h;
  s->trip[i].flags = 0;
  ++s->triplen;
  return &s->trip[i];
}

/* a greylisting decision: 1, or -1 no memory */
static int grey(tr_stats *s, const tr_line *l, const char *d, size_t dlen, int harvest)
{
  const char *v;
  size_t vlen, i;
  unsigned long long h = 0;
  tr_triplet *t = 0;
  if (harvest) { ++s->greywould; return 1; } /* the connection line counts it too */
  if ((v = tr_get(l, "triplet", &vlen)) && vlen >= 16) {
    for (i = 0; i < 16; ++i) {
      int x = hexval(v[i]);
      if (x < 0) break;
      h = (h << 4) | (unsigned long long) x;
    }
    if (i == 16 && !(t = triplet(s, h))) return -1;
  }
  if (is(d, dlen, "new")) {
    ++s->greynew;
    if (t) t->flags |= TR_GREYLISTED;
  } else {
    if (t) t->flags |= TR_CAMEBACK;
    if (is(d, dlen, "early")) ++s->greyearly;
    else if (is(d, dlen, "late")) ++s->greylate;
    else if (is(d, dlen, "pass")) ++s->greypass;
    else if (is(d, dlen, "known")) ++s->greyknown;
    else if (is(d, dlen, "auto")) ++s->greyauto;
  }
  return 1;
}

int tr_refuses(const char *action, size_t alen) { return isany(action, alen, A_REFUSE); }

int tr_decision(tr_dec *d, const char *line, size_t len)
{
  tr_line *l = &d->l;
  size_t i;
  d->kind = TR_K_NONE;
  if (len > TR_LINE_MAX) return TR_K_NONE;
  if (!tr_parse(l, line, len)) {
    size_t qlen;
    if (!fromqmail(line, len, d->q, sizeof d->q, &qlen) || !tr_parse(l, d->q, qlen)) return TR_K_NONE;
  }
  if (is(l->prog, l->proglen, "spamgrab")) return d->kind = TR_K_SPAMGRAB;
  if (!(d->ip = tr_get(l, K_IP, &d->iplen)) || !(d->action = tr_get(l, K_ACTION, &d->alen))) return TR_K_NONE;
  d->harvest = is(d->action, d->alen, A_HARVEST);
  d->refused = !d->harvest && isany(d->action, d->alen, A_REFUSE);
  if (tr_get(l, "grey", 0)) return d->kind = TR_K_GREY;
  if (tr_get(l, K_RCPT, 0)) return d->kind = TR_K_RCPT;
  for (i = 0; K_SENDER[i]; ++i) if (tr_get(l, K_SENDER[i], 0)) return d->kind = TR_K_SENDER;
  return d->kind = TR_K_CONN;
}

void tr_chart(tr_stats *s, unsigned long long now)
{
  s->hourend = (now / 3600 + 1) * 3600;
}

/* the chart's hour of a stamped line, or 0 */
static tr_hour *hourof(tr_stats *s, const tr_line *l)
{
  unsigned long long back;
  if (!s->hourend || !l->stamped || l->when >= s->hourend) return 0;
  back = (s->hourend - 1 - l->when) / 3600;
  return back < TR_HOURS ? &s->hour[TR_HOURS - 1 - back] : 0;
}

int tr_feed(tr_stats *s, const char *line, size_t len)
{
  tr_dec d;
  tr_line *l = &d.l;
  tr_host *h;
  tr_hour *hr;
  const char *v, *action;
  size_t vlen, alen;
  unsigned int i, link;
  int harvest;

  ++s->lines;
  if (!tr_decision(&d, line, len)) return 0;
  if (l->stamped && l->when < s->since) { ++s->old; return 0; }
  if (d.kind == TR_K_SPAMGRAB) {
    ++s->used;
    if (l->stamped) {
      if (!s->first || l->when < s->first) s->first = l->when;
      if (l->when > s->last) s->last = l->when;
    }
    return spamgrab(s, l);
  }
  h = host(s, d.ip, d.iplen);
  if (h == (tr_host *) -1) return -1;
  if (!h) return 0;
  ++s->used;
  if (l->stamped) {
    if (!s->first || l->when < s->first) s->first = l->when;
    if (l->when > s->last) s->last = l->when;
  }
  action = d.action; alen = d.alen;
  harvest = d.harvest;
  if ((v = tr_get(l, K_LISTS, &vlen)) && !is(v, vlen, "-")) addlists(h, v, vlen);
  if (d.kind == TR_K_GREY) { v = tr_get(l, "grey", &vlen); return grey(s, l, v, vlen, harvest); }

  if (d.kind == TR_K_RCPT) {
    const char *r = tr_get(l, K_REASON, &vlen);
    if (harvest) ++s->rcptwould;
    else if (d.refused) {
      ++s->rcptrefused; ++h->rcptrefused;
      if (!tally(&s->rcptby, l->prog, l->proglen, r ? r : "", r ? vlen : 0, 1)) return -1;
    } else if (isany(action, alen, A_ACCEPT)) ++s->rcptaccepted;
    return 1;
  }
  if (d.kind == TR_K_SENDER) {
    if (d.refused) ++s->sendersrefused;
    return 1;
  }

  if (!harvest && (v = tr_get(l, K_REASON, &vlen)) && is(v, vlen, "nonsmtp")) {
    ++s->nonsmtp;
    if (!isany(action, alen, A_REFUSE)) return 1; /* counted as a connection already */
  }

  /* a connection */
  link = progid(s, l->prog, l->proglen);
  ++h->conn[link];
  hr = hourof(s, l);
  if (hr) ++hr->conn[link];
  if (harvest) { ++s->would; ++h->would; }
  else if (d.refused) {
    const char *r;
    size_t rlen;
    ++s->refused; ++h->refused;
    if (hr) {
      if (is(action, alen, "tempfail") || is(action, alen, "failclosed")) ++hr->tempfail;
      else ++hr->refused[link];
    }
    if (!tally(&s->bylink, l->prog, l->proglen, "", 0, 1)) return -1;
    if ((v = tr_get(l, K_LISTS, &vlen)) && !is(v, vlen, "-")) {
      size_t a = 0;
      while (a < vlen) {
        size_t e = a;
        while (e < vlen && v[e] != ',') ++e;
        if (e > a && !tally(&s->bylist, v + a, e - a, "", 0, 1)) return -1;
        a = e + 1;
      }
    }
    if ((r = tr_get(l, K_RULE, &rlen)) && !tally(&s->byrule, l->prog, l->proglen, r, rlen, 1)) return -1;
    if ((r = tr_get(l, K_REASON, &rlen)) && !tally(&s->byreason, l->prog, l->proglen, r, rlen, 1)) return -1;
    snprintf(h->why, sizeof h->why, "%.*s:%.*s", (int) (l->proglen > 30 ? 30 : l->proglen), l->prog,
      (int) (alen > 30 ? 30 : alen), action);
  }
  for (i = 0; K_RCPTREFUSED[i]; ++i)
    if ((v = tr_get(l, K_RCPTREFUSED[i], &vlen))) {
      unsigned long n = tr_num(v, vlen);
      if (harvest) { s->rcptwould += n; continue; }
      s->rcptrefused += n; h->rcptrefused += n;
      if (n && !tally(&s->rcptby, l->prog, l->proglen, K_RCPTREFUSED[i], strlen(K_RCPTREFUSED[i]), n)) return -1;
    }
  if ((v = tr_get(l, K_MSGS, &vlen))) {
    unsigned long m = tr_num(v, vlen);
    s->msgs += m;
    /* greylisted, and nothing passed: the connection's outcome is the greylisting */
    if (hr && !harvest && !m && (v = tr_get(l, "greylisted", &vlen)) && tr_num(v, vlen)) ++hr->greylisted;
  }
  return 1;
}

unsigned long tr_conns(const tr_host *h)
{
  unsigned long m = 0;
  unsigned int i;
  for (i = 0; i < TR_PROGS; ++i) if (h->conn[i] > m) m = h->conn[i];
  return m;
}

unsigned long tr_total_conns(const tr_stats *s)
{
  unsigned long n = 0;
  size_t i;
  for (i = 0; i < s->hcap; ++i) if (s->h[i].used) n += tr_conns(&s->h[i]);
  return n + tr_conns(&s->over);
}

static int worse(const void *a, const void *b)
{
  const tr_host *x = *(tr_host *const *) a, *y = *(tr_host *const *) b;
  unsigned long cx = tr_conns(x), cy = tr_conns(y);
  if (cx != cy) return cx > cy ? -1 : 1;
  if (x->refused != y->refused) return x->refused > y->refused ? -1 : 1;
  if (x->rcptrefused != y->rcptrefused) return x->rcptrefused > y->rcptrefused ? -1 : 1;
  return strcmp(x->ip, y->ip);
}

long tr_worst(const tr_stats *s, unsigned long minconn, unsigned long max, tr_host ***out)
{
  size_t i, n = 0;
  tr_host **v = malloc((s->hlen ? s->hlen : 1) * sizeof *v);
  if (!v) return -1;
  for (i = 0; i < s->hcap; ++i) {
    tr_host *h = &s->h[i];
    if (!h->used || tr_conns(h) < minconn) continue;
    if (!h->lists[0] && !h->refused) continue; /* an unknown recipient alone is no reason */
    v[n++] = h;
  }
  qsort(v, n, sizeof *v, worse);
  if (n > max) n = max;
  *out = v;
  return (long) n;
}

static int cat(stralloc *out, const char *s) { return stralloc_cats(out, s); }

int tr_format(stralloc *out, tr_host **h, long n, int form, const char *timeout)
{
  char line[512];
  long i;
  if (form == TR_TABLE
    && !cat(out, "connections refused rcpts-refused address                                 lists refusal\n")) return 0;
  for (i = 0; i < n; ++i) {
    switch (form) {
      case TR_TABLE:
        snprintf(line, sizeof line, "%11lu %7lu %13lu %-39s %s%s%s\n", tr_conns(h[i]), h[i]->refused,
          h[i]->rcptrefused, h[i]->ip, h[i]->lists[0] ? h[i]->lists : "-",
          h[i]->why[0] ? " " : "", h[i]->why);
        break;
      case TR_NFT:
        snprintf(line, sizeof line, "add element inet sdu %s { %s timeout %s }\n",
          h[i]->v6 ? "blocked6" : "blocked", h[i]->ip, timeout);
        break;
      default:
        snprintf(line, sizeof line, "%s:deny\n", h[i]->ip);
    }
    if (!cat(out, line)) return 0;
  }
  return 1;
}

int tr_fmtime(stralloc *out, unsigned long long t)
{
  char b[32];
  struct tm tm;
  time_t tt = (time_t) t;
  if (!gmtime_r(&tt, &tm) || !strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm)) return cat(out, "?");
  return cat(out, b);
}

static int cmptally(const void *a, const void *b)
{
  const tr_tally *x = a, *y = b;
  if (x->n != y->n) return x->n > y->n ? -1 : 1;
  return strcmp(x->name, y->name);
}

void tr_sort(tr_tallies *t)
{
  if (t->len) qsort(t->t, t->len, sizeof *t->t, cmptally);
}

void tr_grey_gone(const tr_stats *s, unsigned long *trips, unsigned long *gone)
{
  size_t i;
  *trips = *gone = 0;
  for (i = 0; i < s->tripcap; ++i)
    if (s->trip[i].h && (s->trip[i].flags & TR_GREYLISTED)) {
      ++*trips;
      if (!(s->trip[i].flags & TR_CAMEBACK)) ++*gone;
    }
}

static int tallies(stralloc *out, const char *title, tr_tallies *t, unsigned long total)
{
  char line[200];
  unsigned int i;
  if (!t->len) return 1;
  tr_sort(t);
  snprintf(line, sizeof line, "  %s:\n", title);
  if (!cat(out, line)) return 0;
  for (i = 0; i < t->len; ++i) {
    snprintf(line, sizeof line, "    %-30s %8lu %5.1f%%\n", t->t[i].name, t->t[i].n,
      total ? 100.0 * (double) t->t[i].n / (double) total : 0.0);
    if (!cat(out, line)) return 0;
  }
  return 1;
}

int tr_summary(stralloc *out, const tr_stats *s0, unsigned long long now)
{
  tr_stats *s = (tr_stats *) s0; /* the tallies are sorted in place */
  char line[200];
  unsigned long conns = tr_total_conns(s);
  if (!cat(out, "period: ")) return 0;
  if (s->since) {
    if (!tr_fmtime(out, s->since) || !cat(out, " to ") || !tr_fmtime(out, now) || !cat(out, " UTC\n")) return 0;
  } else if (!cat(out, "all lines\n")) return 0;
  if (s->first) {
    if (!cat(out, "lines from: ") || !tr_fmtime(out, s->first) || !cat(out, " to ")
      || !tr_fmtime(out, s->last) || !cat(out, " UTC\n")) return 0;
  }
  snprintf(line, sizeof line, "lines: %lu read, %lu used, %lu before the period\n", s->lines, s->used, s->old);
  if (!cat(out, line)) return 0;
  snprintf(line, sizeof line, "connections: %lu from %lu hosts\n", conns, (unsigned long) s->hlen);
  if (!cat(out, line)) return 0;
  if (s->overhosts) {
    snprintf(line, sizeof line, "  and more hosts than the %lu counted one by one: %lu lines about them are in the totals only\n",
      (unsigned long) TR_HOSTS_MAX, s->overhosts);
    if (!cat(out, line)) return 0;
  }
  snprintf(line, sizeof line, "connections refused: %lu (%.1f%%)\n", s->refused,
    conns ? 100.0 * (double) s->refused / (double) conns : 0.0);
  if (!cat(out, line)) return 0;
  if (!tallies(out, "by link", &s->bylink, s->refused)) return 0;
  if (!tallies(out, "by list", &s->bylist, s->refused)) return 0;
  if (!tallies(out, "by rule", &s->byrule, s->refused)) return 0;
  if (!tallies(out, "by reason", &s->byreason, s->refused)) return 0;
  if (s->nonsmtp) {
    snprintf(line, sizeof line, "non-SMTP clients (an HTTP request as first line): %lu\n", s->nonsmtp);
    if (!cat(out, line)) return 0;
  }
  if (s->would) {
    snprintf(line, sizeof line, "connections that would have been refused (harvest): %lu\n", s->would);
    if (!cat(out, line)) return 0;
  }
  snprintf(line, sizeof line, "senders refused: %lu\n", s->sendersrefused);
  if (!cat(out, line)) return 0;
  snprintf(line, sizeof line, "recipients refused: %lu\n", s->rcptrefused);
  if (!cat(out, line)) return 0;
  if (!tallies(out, "by link and reason", &s->rcptby, s->rcptrefused)) return 0;
  if (s->rcptwould) {
    snprintf(line, sizeof line, "recipients that would have been refused (harvest): %lu\n", s->rcptwould);
    if (!cat(out, line)) return 0;
  }
  snprintf(line, sizeof line, "recipients accepted: %lu\n", s->rcptaccepted);
  if (!cat(out, line)) return 0;
  snprintf(line, sizeof line, "messages passed: %lu\n", s->msgs);
  if (!cat(out, line)) return 0;
  if (s->greynew || s->greyearly || s->greylate || s->greypass || s->greyknown || s->greyauto || s->greywould) {
    unsigned long trips, gone;
    tr_grey_gone(s, &trips, &gone);
    snprintf(line, sizeof line, "greylisting: %lu greylisted (%lu early retries, %lu late), %lu passed after retry,\n",
      s->greynew, s->greyearly, s->greylate, s->greypass);
    if (!cat(out, line)) return 0;
    snprintf(line, sizeof line, "  %lu passed as known triplets, %lu whitelisted (automatic whitelist)\n",
      s->greyknown, s->greyauto);
    if (!cat(out, line)) return 0;
    snprintf(line, sizeof line, "  greylisted triplets that never came back: %lu of %lu (%.1f%%)\n", gone, trips,
      trips ? 100.0 * (double) gone / (double) trips : 0.0);
    if (!cat(out, line)) return 0;
    if (s->tripsover) {
      snprintf(line, sizeof line, "  (of the first %lu triplets: %lu decisions about more are not in these two figures)\n",
        (unsigned long) TR_TRIPLETS_MAX, s->tripsover);
      if (!cat(out, line)) return 0;
    }
    if (s->greywould) {
      snprintf(line, sizeof line, "  would have been greylisted (harvest): %lu\n", s->greywould);
      if (!cat(out, line)) return 0;
    }
  }
  if (!s->sglines) return 1;
  snprintf(line, sizeof line, "spamgrab: %lu messages\n", s->sglines);
  if (!cat(out, line)) return 0;
  if (!tallies(out, "passed, by reason", &s->sgreason, s->sglines)) return 0;
  if (s->sgby.len) {
    if (!cat(out, "  WARNING: Received lines \"by\" a name that is none of spamgrab's hosts: no report was made\n"
        "  for these; check tcpserver's -l (the name in control/me) and spamgrab.conf's \"me\" lines\n")) return 0;
    if (!tallies(out, "by", &s->sgby, s->sglines)) return 0;
  }
  return 1;
}
