/* throttle_metrics.c: counters of the sdu links' decision lines, kept from run to
   run, as Prometheus's text format for node_exporter's textfile collector */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "throttle_report.h"
#include "throttle_metrics.h"

/* Labels of bounded cardinality (never an address or a sender): every value
   outside a fixed known set is "other"; lists are named by the operator's
   policy, the first TM_LISTS of them are kept as they come. */
static const char *const V_LINK[] = { "rblcheck", "throttle", "rcptcheck", "spamgrab", 0 };
static const char *const V_ACTION[] = { "pass", "accept", "reject", "tempfail", "failclosed", "close", "harvest",
  "throttle", "tag", "greylist", "proxy", "report", "discard", "dryrun", "refuse", "sent", "hangup", "none", 0 };
static const char *const V_REASON[] = { "none", "rule",
  "relayclient", "rblcheck", "noip", "rate", "concurrency", "barelf", "nonsmtp", "pregreet",
  "syntax", "blacklist", "postmaster", "abuse", "notable", "tablefail", "notcovered", "table", "dated",
  "statefail", "counted", "expired", "exact", "default", "catchall", "unknown", "ipmefail", "literal",
  "throttled", "blacklisted", "bounced", "greylisted",
  "not-local", "no-trusted-received", "not-a-report", "bad-to", "contact", "inject", "review", "state", "tagkey", 0 };
static const char *const V_GREY[] = { "new", "early", "late", "pass", "known", "auto", "harvest", 0 };
static const char *const V_KIND[] = { "double", "single", "truncated", "garbage", "toolarge", "manual", "resend",
  "none", 0 };
static const char *const *const known[TM_LABELS] = { V_LINK, V_ACTION, V_REASON, 0, V_GREY, V_KIND };
static const char *const labelname[TM_LABELS] = { "link", "action", "reason", "list", "decision", "kind" };

/* the recipients a link in the middle refused, in its connection line */
static const char *const K_RCPTREFUSED[] = { "throttled", "blacklisted", "bounced", "greylisted", 0 };

enum { M_LINES, M_CONN, M_CONNREF, M_LISTREF, M_SENDERREF, M_RCPT, M_RCPTREF, M_MSGS, M_GREY, M_PREGREET,
  M_PREGREETBYTES, M_NONSMTP, M_SGMSG, M_SGREASON, M_SGSENT, M_SGSAVED, M_SGFOREIGN, M_LAST, M_N };
static const struct { const char *name, *help; int a, b, gauge; } def[M_N] = {
  { "sdu_log_lines_total", "Log lines read.", TM_L_NONE, TM_L_NONE, 0 },
  { "sdu_connections_total", "Connections decided, by link (a connection passes several) and action.",
    TM_L_LINK, TM_L_ACTION, 0 },
  { "sdu_connection_refusals_total", "Connections refused, by link and reason (rule: a policy rule).",
    TM_L_LINK, TM_L_REASON, 0 },
  { "sdu_list_refusals_total", "Connections refused while the client was on the list.", TM_L_LIST, TM_L_NONE, 0 },
  { "sdu_sender_refusals_total", "Senders refused, by link and reason.", TM_L_LINK, TM_L_REASON, 0 },
  { "sdu_recipients_total", "Recipients decided, by link and action.", TM_L_LINK, TM_L_ACTION, 0 },
  { "sdu_recipient_refusals_total", "Recipients refused, by link and reason.", TM_L_LINK, TM_L_REASON, 0 },
  { "sdu_messages_total", "Messages passed downstream, by link.", TM_L_LINK, TM_L_NONE, 0 },
  { "sdu_greylist_decisions_total", "Greylisting decisions per recipient (harvest: would have been greylisted).",
    TM_L_GREY, TM_L_NONE, 0 },
  { "sdu_pregreet_total", "Clients that talked before the greeting, by action.", TM_L_ACTION, TM_L_NONE, 0 },
  { "sdu_pregreet_bytes_total", "Bytes clients sent before the greeting.", TM_L_NONE, TM_L_NONE, 0 },
  { "sdu_nonsmtp_total", "Clients whose first line was an HTTP request, by link and action.",
    TM_L_LINK, TM_L_ACTION, 0 },
  { "sdu_spamgrab_messages_total", "Messages spamgrab handled, by kind and action.", TM_L_KIND, TM_L_ACTION, 0 },
  { "sdu_spamgrab_reasons_total", "Messages spamgrab passed, refused or put off, by reason.",
    TM_L_REASON, TM_L_NONE, 0 },
  { "sdu_spamgrab_reports_sent_total", "Abuse reports spamgrab sent.", TM_L_NONE, TM_L_NONE, 0 },
  { "sdu_spamgrab_reports_saved_total", "Reports spamgrab saved for review.", TM_L_NONE, TM_L_NONE, 0 },
  { "sdu_spamgrab_foreign_received_total",
    "Double-bounces whose Received line names none of spamgrab's hosts: no report made.", TM_L_NONE, TM_L_NONE, 0 },
  { "sdu_log_last_line_timestamp_seconds", "The stamp of the latest log line read.", TM_L_NONE, TM_L_NONE, 1 },
};

const char *tm_name(unsigned int i) { return i < M_N ? def[i].name : 0; }

void tm_init(tm_metrics *m)
{
  unsigned int k, i;
  memset(m, 0, sizeof *m);
  for (k = 0; k < TM_LABELS; ++k) {
    tm_vocab *v = &m->voc[k];
    strcpy(v->v[v->n++], "other"); /* value 0 */
    if (known[k]) for (i = 0; known[k][i]; ++i) strcpy(v->v[v->n++], known[k][i]);
    else v->open = 1;
  }
}

static int safe(const char *s, size_t len)
{
  size_t i;
  if (!len || len > TM_VALUE_MAX) return 0;
  for (i = 0; i < len; ++i)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')
        || s[i] == '-' || s[i] == '_' || s[i] == '.')) return 0;
  return 1;
}

/* the value's number in the label's vocabulary: 0 is "other", and so is the
   name "other" itself (a list of that name, or "other" read back from the
   state, would be a second series with the same labels) */
static unsigned short value(tm_vocab *v, const char *s, size_t len)
{
  unsigned int i;
  if (!s || len > TM_VALUE_MAX) return 0;
  for (i = 0; i < v->n; ++i)
    if (!strncmp(v->v[i], s, len) && !v->v[i][len]) return (unsigned short) i;
  if (!v->open || v->n > TM_LISTS || !safe(s, len)) return 0;
  memcpy(v->v[v->n], s, len);
  v->v[v->n][len] = 0;
  return (unsigned short) v->n++;
}

static unsigned short valuez(tm_vocab *v, const char *s) { return value(v, s, s ? strlen(s) : 0); }

static tm_series *series(tm_metrics *m, unsigned int metric, unsigned short a, unsigned short b)
{
  unsigned int i = (metric * 2654435761u ^ a * 40503u ^ b * 131u) & (TM_SERIES - 1);
  for (; m->s[i].used; i = (i + 1) & (TM_SERIES - 1))
    if (m->s[i].metric == metric && m->s[i].a == a && m->s[i].b == b) return &m->s[i];
  if (2 * (m->nseries + 1) > TM_SERIES) return 0; /* cannot happen with the labels bounded */
  m->s[i].used = 1;
  m->s[i].metric = (unsigned short) metric; m->s[i].a = a; m->s[i].b = b;
  ++m->nseries;
  return &m->s[i];
}

static void add(tm_metrics *m, unsigned int metric, unsigned short a, unsigned short b, unsigned long long n)
{
  tm_series *s = series(m, metric, a, b);
  if (s) s->n += n;
}

/* a label's value from the line's key: its number, 0 ("other") when odd */
static unsigned short lv(tm_metrics *m, int label, const tr_line *l, const char *key)
{
  size_t len;
  const char *v = tr_get(l, key, &len);
  return v ? value(&m->voc[label], v, len) : valuez(&m->voc[label], "none");
}

/* why a line refused: its reason=, "rule" for a policy rule, else "none" */
static unsigned short why(tm_metrics *m, const tr_line *l)
{
  if (tr_get(l, "reason", 0) || !tr_get(l, "rule", 0)) return lv(m, TM_L_REASON, l, "reason");
  return valuez(&m->voc[TM_L_REASON], "rule");
}

int tm_feed(tm_metrics *m, const char *line, size_t len)
{
  tr_dec d;
  tr_line *l = &d.l;
  const char *v;
  size_t vlen;
  unsigned short link, act;
  unsigned int i;

  add(m, M_LINES, 0, 0, 1);
  if (!tr_decision(&d, line, len)) return 0;
  if (l->stamped && l->when > m->last) m->last = l->when;
  if (d.kind == TR_K_SPAMGRAB) {
    add(m, M_SGMSG, lv(m, TM_L_KIND, l, "kind"), lv(m, TM_L_ACTION, l, "action"), 1);
    if (tr_get(l, "reason", 0)) add(m, M_SGREASON, lv(m, TM_L_REASON, l, "reason"), 0, 1);
    if ((v = tr_get(l, "sent", &vlen))) add(m, M_SGSENT, 0, 0, tr_num(v, vlen));
    if ((v = tr_get(l, "saved", &vlen))) add(m, M_SGSAVED, 0, 0, tr_num(v, vlen));
    if (tr_get(l, "by", 0)) add(m, M_SGFOREIGN, 0, 0, 1);
    return 1;
  }
  link = value(&m->voc[TM_L_LINK], l->prog, l->proglen);
  act = value(&m->voc[TM_L_ACTION], d.action, d.alen);
  if ((v = tr_get(l, "pregreet", &vlen)) && tr_num(v, vlen)) {
    add(m, M_PREGREET, act, 0, 1);
    if ((v = tr_get(l, "bytes", &vlen))) add(m, M_PREGREETBYTES, 0, 0, tr_num(v, vlen));
  }
  if ((v = tr_get(l, "reason", &vlen)) && vlen == 7 && !memcmp(v, "nonsmtp", 7)) add(m, M_NONSMTP, link, act, 1);
  /* the responder's last word on a connection its link refused already */
  if (d.alen == 6 && !memcmp(d.action, "hangup", 6)) return 1;
  switch (d.kind) {
    case TR_K_GREY:
      if (d.harvest) add(m, M_GREY, valuez(&m->voc[TM_L_GREY], "harvest"), 0, 1);
      else add(m, M_GREY, lv(m, TM_L_GREY, l, "grey"), 0, 1);
      return 1;
    case TR_K_RCPT:
      add(m, M_RCPT, link, act, 1);
      if (d.refused) add(m, M_RCPTREF, link, why(m, l), 1);
      return 1;
    case TR_K_SENDER:
      if (d.refused) add(m, M_SENDERREF, link, why(m, l), 1);
      return 1;
  }
  add(m, M_CONN, link, act, 1);
  if (d.refused) {
    add(m, M_CONNREF, link, why(m, l), 1);
    if ((v = tr_get(l, "lists", &vlen)) && !(vlen == 1 && *v == '-')) {
      size_t a = 0;
      while (a < vlen) {
        size_t e = a;
        while (e < vlen && v[e] != ',') ++e;
        if (e > a) add(m, M_LISTREF, value(&m->voc[TM_L_LIST], v + a, e - a), 0, 1);
        a = e + 1;
      }
    }
  }
  if (!d.harvest)
    for (i = 0; K_RCPTREFUSED[i]; ++i)
      if ((v = tr_get(l, K_RCPTREFUSED[i], &vlen)) && tr_num(v, vlen))
        add(m, M_RCPTREF, link, valuez(&m->voc[TM_L_REASON], K_RCPTREFUSED[i]), tr_num(v, vlen));
  if ((v = tr_get(l, "msgs", &vlen))) add(m, M_MSGS, link, 0, tr_num(v, vlen));
  return 1;
}

static int cat(stralloc *out, const char *s) { return stralloc_cats(out, s); }

static const char *lname(const tm_metrics *m, int label, unsigned short i)
{
  return label == TM_L_NONE ? "-" : m->voc[label].v[i];
}

int tm_save(stralloc *out, const tm_metrics *m)
{
  char line[256];
  unsigned int i;
  snprintf(line, sizeof line, "last %llu\n", m->last);
  if (!cat(out, line)) return 0;
  for (i = 0; i < TM_SERIES; ++i) {
    const tm_series *s = &m->s[i];
    if (!s->used) continue;
    snprintf(line, sizeof line, "c %s %s %s %llu\n", def[s->metric].name, lname(m, def[s->metric].a, s->a),
      lname(m, def[s->metric].b, s->b), s->n);
    if (!cat(out, line)) return 0;
  }
  return 1;
}

/* the next word of a state line */
static const char *word(const char **p, const char *end, size_t *len)
{
  const char *w;
  while (*p < end && **p == ' ') ++*p;
  w = *p;
  while (*p < end && **p != ' ') ++*p;
  *len = (size_t) (*p - w);
  return *len ? w : 0;
}

static unsigned long long number(const char *s, size_t len, int *ok)
{
  unsigned long long n = 0;
  size_t i;
  *ok = len > 0 && len <= 19;
  for (i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') { *ok = 0; return 0; }
    n = n * 10 + (unsigned long long) (s[i] - '0');
  }
  return n;
}

static int label(tm_metrics *m, int kind, const char *w, size_t len, unsigned short *id)
{
  if (kind == TM_L_NONE) { *id = 0; return len == 1 && *w == '-'; }
  *id = value(&m->voc[kind], w, len);
  return 1;
}

int tm_load(tm_metrics *m, const char *line, size_t len)
{
  const char *p = line, *end = line + len, *w, *name, *a, *b, *n;
  size_t wl, nl, al, bl, cl;
  unsigned int i;
  unsigned short ia, ib;
  unsigned long long u;
  int ok;
  tm_series *s;
  if (!(w = word(&p, end, &wl))) return 0;
  if (wl == 4 && !memcmp(w, "last", 4)) {
    if (!(n = word(&p, end, &cl))) return 0;
    u = number(n, cl, &ok);
    if (!ok) return 0;
    m->last = u;
    return 1;
  }
  if (wl != 1 || *w != 'c' || !(name = word(&p, end, &nl)) || !(a = word(&p, end, &al))
      || !(b = word(&p, end, &bl)) || !(n = word(&p, end, &cl)) || word(&p, end, &wl)) return 0;
  u = number(n, cl, &ok);
  if (!ok) return 0;
  for (i = 0; i < M_N; ++i) if (strlen(def[i].name) == nl && !memcmp(def[i].name, name, nl)) break;
  if (i == M_N || def[i].gauge) return 0;
  if (!label(m, def[i].a, a, al, &ia) || !label(m, def[i].b, b, bl, &ib)) return 0;
  if (!(s = series(m, i, ia, ib))) return 0;
  s->n += u;
  return 1;
}

/* a series with its label values' names, to sort them */
typedef struct tm_row { const char *a, *b; const tm_series *s; } tm_row;
static int byvalues(const void *x, const void *y)
{
  const tm_row *a = x, *b = y;
  int c = strcmp(a->a, b->a);
  return c ? c : strcmp(a->b, b->b);
}

int tm_prom(stralloc *out, const tm_metrics *m)
{
  char line[512];
  tm_row *v = malloc(TM_SERIES * sizeof *v);
  unsigned int i, j, k;
  int ok = 0;
  if (!v) return 0;
  for (i = 0; i < M_N; ++i) {
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", def[i].name, def[i].help, def[i].name,
      def[i].gauge ? "gauge" : "counter");
    if (!cat(out, line)) goto done;
    if (def[i].gauge) {
      if (m->last) {
        snprintf(line, sizeof line, "%s %llu\n", def[i].name, m->last);
        if (!cat(out, line)) goto done;
      }
      continue;
    }
    for (k = j = 0; j < TM_SERIES; ++j)
      if (m->s[j].used && m->s[j].metric == i) {
        v[k].a = lname(m, def[i].a, m->s[j].a); v[k].b = lname(m, def[i].b, m->s[j].b);
        v[k++].s = &m->s[j];
      }
    if (def[i].a == TM_L_NONE) {
      snprintf(line, sizeof line, "%s %llu\n", def[i].name, k ? v[0].s->n : 0ULL);
      if (!cat(out, line)) goto done;
      continue;
    }
    qsort(v, k, sizeof *v, byvalues);
    for (j = 0; j < k; ++j) {
      if (def[i].b == TM_L_NONE)
        snprintf(line, sizeof line, "%s{%s=\"%s\"} %llu\n", def[i].name, labelname[def[i].a], v[j].a, v[j].s->n);
      else
        snprintf(line, sizeof line, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", def[i].name, labelname[def[i].a], v[j].a,
          labelname[def[i].b], v[j].b, v[j].s->n);
      if (!cat(out, line)) goto done;
    }
  }
  ok = 1;
done:
  free(v);
  return ok;
}
