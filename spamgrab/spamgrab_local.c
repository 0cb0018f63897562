/* spamgrab_local.c: is this a double-bounce that our own qmail-send wrote? */
#include <string.h>
#include "spamgrab_parse.h"
#include "spamgrab_local.h"

static int lc(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* qmail-send's envelope sender for a double-bounce */
#define DOUBLEBOUNCE "#@[]"

static size_t lineend(const char *s, size_t len, size_t pos)
{
  const char *nl = pos < len ? memchr(s + pos, '\n', len - pos) : 0;
  return nl ? (size_t) (nl - s) : len;
}

static int startswith(const char *s, size_t len, const char *p)
{
  size_t n = strlen(p);
  return len >= n && !memcmp(s, p, n);
}

/* qmail-local's "Return-Path: <addr>" line: 1 and addr==#@[] in *dbl, 0 not that line */
static int rpline(const char *s, size_t len, int *dbl)
{
  static const char rp[] = "Return-Path: <";
  size_t n = sizeof rp - 1;
  if (len && s[len - 1] == '\r') --len;
  if (!startswith(s, len, rp) || len < n + 1 || s[len - 1] != '>') return 0;
  *dbl = len - n - 1 == sizeof DOUBLEBOUNCE - 1 && !memcmp(s + n, DOUBLEBOUNCE, sizeof DOUBLEBOUNCE - 1);
  return 1;
}

/* qmail-queue's line "Received: (qmail PID invoked for bounce); DATE", exactly as it writes it */
static int queueline(const char *s, size_t len, const char **date, size_t *datelen)
{
  static const char a[] = "Received: (qmail ", b[] = " invoked for bounce); ";
  size_t i = sizeof a - 1, d;
  if (len && s[len - 1] == '\r') --len;
  if (!startswith(s, len, a)) return 0;
  for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; ++i) ;
  if (i == d || i - d > 20 || !startswith(s + i, len - i, b)) return 0;
  i += sizeof b - 1;
  if (i >= len) return 0;
  *date = s + i;
  *datelen = len - i;
  return 1;
}

static int isreceived(const char *s, size_t len)
{
  static const char r[] = "received";
  size_t i;
  if (len != sizeof r - 1) return 0;
  for (i = 0; i < len; ++i) if (lc(s[i]) != r[i]) return 0;
  return 1;
}

int sg_local(const char *msg, size_t len, const char *sender, const char **date, size_t *datelen)
{
  size_t pos = 0, e, hlen, body, fpos;
  int haverp = 0, rpdouble = 0;
  const char *dd;
  size_t dl;
  sg_span n, v;

  /* qmail-local's lines, where it delivered to a Maildir (or preline added them) */
  e = lineend(msg, len, pos);
  if (rpline(msg + pos, e - pos, &rpdouble)) {
    haverp = 1;
    pos = e < len ? e + 1 : len;
    e = lineend(msg, len, pos);
    if (startswith(msg + pos, e - pos, "Delivered-To: ")) { pos = e < len ? e + 1 : len; e = lineend(msg, len, pos); }
  }
  if (sender ? strcmp(sender, DOUBLEBOUNCE) != 0 : !haverp) return SG_LOCAL_SENDER;
  if (haverp && !rpdouble) return SG_LOCAL_SENDER;
  if (!queueline(msg + pos, e - pos, &dd, &dl)) return SG_LOCAL_QUEUE;
  if (date) { *date = dd; *datelen = dl; }
  /* qmail-send's own header (Date, From, To, Subject) has no Received field */
  if (!sg_split(msg + pos, len - pos, &hlen, &body)) return SG_LOCAL_QUEUE;
  fpos = 0;
  if (!sg_field_next(msg + pos, hlen, &fpos, &n, &v)) return SG_LOCAL_QUEUE;
  if (fpos != (e < len ? e + 1 : len) - pos) return SG_LOCAL_QUEUE; /* folded: not as qmail-queue writes it */
  while (sg_field_next(msg + pos, hlen, &fpos, &n, &v))
    if (isreceived(n.s, n.len)) return SG_LOCAL_RECEIVED;
  return SG_LOCAL_OK;
}

int sg_local_bounce(const char *m, size_t len)
{
  size_t e = lineend(m, len, 0), l = e, hlen, body, fpos = 0;
  const char *dd;
  size_t dl;
  sg_span n, v;
  if (l && m[l - 1] == '\r') --l;
  if (l != sizeof "Return-Path: <>" - 1 || memcmp(m, "Return-Path: <>", l) || e >= len) return SG_LOCAL_BOUNCE;
  m += e + 1; len -= e + 1;
  e = lineend(m, len, 0);
  if (!queueline(m, e, &dd, &dl)) return SG_LOCAL_BOUNCE;
  if (!sg_split(m, len, &hlen, &body)) return SG_LOCAL_BOUNCE;
  if (!sg_field_next(m, hlen, &fpos, &n, &v)) return SG_LOCAL_BOUNCE;
  if (fpos != (e < len ? e + 1 : len)) return SG_LOCAL_BOUNCE; /* folded */
  while (sg_field_next(m, hlen, &fpos, &n, &v))
    if (isreceived(n.s, n.len)) return SG_LOCAL_BOUNCE;
  return SG_LOCAL_OK;
}

const char *sg_local_why(int r)
{
  switch (r) {
    case SG_LOCAL_OK: return "ok";
    case SG_LOCAL_SENDER: return "sender";
    case SG_LOCAL_QUEUE: return "queue";
    case SG_LOCAL_BOUNCE: return "bounce";
    default: return "received";
  }
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian) */
static long long days(long long y, unsigned int m, unsigned int d)
{
  long long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int num(const char *s, size_t len, size_t *i, unsigned int maxdigits, unsigned long *v)
{
  size_t d = *i;
  *v = 0;
  while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - d < maxdigits) *v = *v * 10 + (unsigned long) (s[(*i)++] - '0');
  return *i > d;
}

int sg_qmaildate(const char *s, size_t len, unsigned long long *t)
{
  static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  unsigned long d, y, hh, mm, ss;
  unsigned int m;
  size_t i = 0;
  long long secs;
  if (!num(s, len, &i, 2, &d) || i >= len || s[i++] != ' ' || i + 4 > len) return 0;
  for (m = 0; m < 12; ++m) if (!memcmp(s + i, mon + 3 * m, 3)) break;
  if (m == 12 || s[i + 3] != ' ') return 0;
  i += 4;
  if (!num(s, len, &i, 4, &y) || i >= len || s[i++] != ' ') return 0;
  if (!num(s, len, &i, 2, &hh) || i >= len || s[i++] != ':') return 0;
  if (!num(s, len, &i, 2, &mm) || i >= len || s[i++] != ':') return 0;
  if (!num(s, len, &i, 2, &ss)) return 0;
  if (d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60) return 0;
  /* qmail-queue writes UTC ("-0000"); anything else is not its line */
  if (len - i != 6 || memcmp(s + i, " -0000", 6)) return 0;
  secs = days((long long) y, m + 1, (unsigned int) d) * 86400 + (long long) (hh * 3600 + mm * 60 + ss);
  *t = (unsigned long long) secs;
  return 1;
}

static int ieqs(const char *a, size_t n, const char *b)
{
  size_t i;
  if (strlen(b) != n) return 0;
  for (i = 0; i < n; ++i) if (lc(a[i]) != lc(b[i])) return 0;
  return 1;
}

static int iprefix(const char *a, const char *b, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) if (lc(a[i]) != lc(b[i])) return 0;
  return 1;
}

int sg_foreign_by(const char *h, size_t hlen, const char *const *hosts, char *by, size_t max)
{
  size_t pos = 0;
  sg_span n, v;
  sg_received r;
  unsigned int i;
  while (sg_field_next(h, hlen, &pos, &n, &v)) {
    size_t k = 0, bl;
    if (!ieqs(n.s, n.len, "Received")) continue;
    while (k < v.len && (v.s[k] == ' ' || v.s[k] == '\t')) ++k;
    if (k < v.len && v.s[k] == '(') continue;  /* qmail-queue's own line */
    if (!sg_received_parse(v.s, v.len, &r) || !*r.by) return 0;
    bl = strlen(r.by);
    if (bl && r.by[bl - 1] == '.') --bl;
    for (i = 0; hosts && hosts[i]; ++i) {
      size_t m = strlen(hosts[i]);
      if (m && hosts[i][m - 1] == '.') --m;
      if (m == bl && iprefix(r.by, hosts[i], m)) return 0;
    }
    if (bl >= max) bl = max - 1;
    memcpy(by, r.by, bl);
    by[bl] = 0;
    return 1;
  }
  return 0;
}
