/* spamgrab_tag.c: rblcheck's tag believed only with the site key's MAC and a date near our Received line's */
#include <string.h>
#include "spamgrab_tag.h"

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int isdig(char c) { return c >= '0' && c <= '9'; }
static int isalph(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* days from 1970-01-01 to y-m-d (proleptic Gregorian) */
static long long days(long long y, unsigned int m, unsigned int d)
{
  long long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int mdays(unsigned long y, unsigned int m)
{
  static const unsigned char n[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
  return n[m - 1];
}

/* at most max digits at *s: the number, or -1 */
static long num(const char **s, unsigned int min, unsigned int max)
{
  long v = 0;
  unsigned int n = 0;
  while (n < max && isdig(**s)) { v = v * 10 + (**s - '0'); ++*s; ++n; }
  return n < min ? -1 : v;
}

static void blanks(const char **s)
{
  while (**s == ' ' || **s == '\t') ++*s;
}

static int epoch(unsigned long y, unsigned int mo, unsigned int d, unsigned int h, unsigned int mi,
  unsigned int sec, long offmin, unsigned long long *t)
{
  long long v;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || (int) d > mdays(y, mo) ||
      h > 23 || mi > 59 || sec > 60) return 0;
  v = days((long long) y, mo, d) * 86400 + (long long) h * 3600 + (long long) mi * 60 + sec - offmin * 60;
  if (v < 0) return 0;
  *t = (unsigned long long) v;
  return 1;
}

int sg_date_parse(const char *s, unsigned long long *t)
{
  static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  long d, y, h, mi, sec = 0, off = 0;
  unsigned int mo = 0, i;
  blanks(&s);
  /* the day name */
  if (isalph(*s)) {
    while (isalph(*s)) ++s;
    blanks(&s);
    if (*s == ',') ++s;
    blanks(&s);
  }
  if ((d = num(&s, 1, 2)) < 0) return 0;
  blanks(&s);
  if (!isalph(s[0]) || !isalph(s[1]) || !isalph(s[2]) || isalph(s[3])) return 0;
  for (i = 0; i < 12; ++i)
    if (lower(s[0]) == months[3 * i] && lower(s[1]) == months[3 * i + 1] && lower(s[2]) == months[3 * i + 2]) mo = i + 1;
  if (!mo) return 0;
  s += 3;
  blanks(&s);
  {
    const char *y0 = s;
    if ((y = num(&s, 2, 4)) < 0) return 0;
    if (s - y0 == 2) y += y < 50 ? 2000 : 1900;  /* RFC 5322's obsolete two-digit years */
    else if (s - y0 == 3) y += 1900;
  }
  blanks(&s);
  if ((h = num(&s, 2, 2)) < 0 || *s++ != ':' || (mi = num(&s, 2, 2)) < 0) return 0;
  if (*s == ':') { ++s; if ((sec = num(&s, 2, 2)) < 0) return 0; }
  blanks(&s);
  if (*s == '+' || *s == '-') {
    int neg = *s++ == '-';
    long z4 = num(&s, 4, 4);
    if (z4 < 0 || isdig(*s) || (z4 % 100) > 59) return 0;
    off = (z4 / 100) * 60 + z4 % 100;
    if (neg) off = -off;
  } else if (isalph(*s)) {
    static const struct { const char *name; int off; } zones[] = {
      { "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 }, { "edt", -4 }, { "est", -5 }, { "cdt", -5 },
      { "cst", -6 }, { "mdt", -6 }, { "mst", -7 }, { "pdt", -7 }, { "pst", -8 }, { 0, 0 }
    };
    char z[5];
    unsigned int n = 0;
    while (isalph(s[n]) && n < 4) { z[n] = (char) lower(s[n]); ++n; }
    z[n] = 0;
    for (i = 0; zones[i].name; ++i) if (!strcmp(z, zones[i].name)) off = zones[i].off * 60;
  } else if (*s) return 0;
  return epoch((unsigned long) y, mo, (unsigned int) d, (unsigned int) h, (unsigned int) mi, (unsigned int) sec, off, t);
}

int sg_tag_date(const char *s, size_t len, unsigned long long *t)
{
  const char *p = s;
  long y, mo, d, h, mi, sec;
  if (len != 20) return 0;
  if ((y = num(&p, 4, 4)) < 0 || *p++ != '-' || (mo = num(&p, 2, 2)) < 0 || *p++ != '-' ||
      (d = num(&p, 2, 2)) < 0 || *p++ != 'T' || (h = num(&p, 2, 2)) < 0 || *p++ != ':' ||
      (mi = num(&p, 2, 2)) < 0 || *p++ != ':' || (sec = num(&p, 2, 2)) < 0 || *p++ != 'Z') return 0;
  return epoch((unsigned long) y, (unsigned int) mo, (unsigned int) d, (unsigned int) h, (unsigned int) mi,
    (unsigned int) sec, 0, t);
}

/* the value of word "key=" in a line of blank-separated words */
static int word(const char *line, size_t len, const char *key, const char **v, size_t *vlen)
{
  size_t i = 0, k = strlen(key);
  while (i < len) {
    size_t e = i;
    while (e < len && line[e] != ' ') ++e;
    if (e - i > k && !memcmp(line + i, key, k)) { *v = line + i + k; *vlen = e - i - k; return 1; }
    i = e + 1;
  }
  return 0;
}

static void untrust(sg_client *c, const char *why)
{
  c->tag = 0;
  c->lists[0] = 0;
  ++c->untrusted_tags;
  c->tagstate = why;
}

int sg_tag_check(sg_client *c, const sdu_tagkeys *k)
{
  unsigned long long td, rd;
  const char *v;
  size_t vlen;
  unsigned int which;
  c->tagstate = c->tag ? "trusted" : "none";
  if (!c->tag || !k || !k->n) return 0;
  switch (sdu_tag_verify(k, c->tagline.s, c->tagline.len, &which)) {
    case SDU_TAG_FAIL: return -1;
    case SDU_TAG_NOMAC: untrust(c, "nomac"); return 0;
    case SDU_TAG_BADMAC: untrust(c, "badmac"); return 0;
  }
  /* a right MAC on a tag of another time: copied from an older message */
  if (!word(c->tagline.s, c->tagline.len, "date=", &v, &vlen) || !sg_tag_date(v, vlen, &td) ||
      !sg_date_parse(c->date, &rd) || (td > rd ? td - rd : rd - td) > SG_TAG_WINDOW)
    untrust(c, "stale");
  return 0;
}
