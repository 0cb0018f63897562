/* throttle_html.c: the morning summary as a self-contained HTML page (inline
   CSS and SVG, no script, no font or image from elsewhere), or a mail with it */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "throttle_html.h"

/* the chart's colours: passed, greylisted, tempfailed, then refused by each link */
static const char *const C_PASSED = "#6cb36c", *const C_GREY = "#6c9bd2", *const C_TEMP = "#e8b83e";
static const char *const C_LINK[] = { "#c9473b", "#8e5bb5", "#d9762b", "#4d6d8a", "#a23b72", "#3c8d8a" };
#define NCOLOURS (sizeof C_LINK / sizeof *C_LINK)

/* the chart's frame, in SVG units (pixels) */
#define W 700
#define H 250
#define LEFT 56
#define RIGHT 8
#define TOP 12
#define BOTTOM 28

static int cat(stralloc *out, const char *s) { return stralloc_cats(out, s); }

/* text from the log into the page: markup escaped, only 7-bit printable bytes */
static int esc(stralloc *out, const char *s)
{
  for (; *s; ++s) {
    const char *r = 0;
    char c[2] = { *s, 0 };
    switch (*s) {
      case '<': r = "&lt;"; break;
      case '>': r = "&gt;"; break;
      case '&': r = "&amp;"; break;
      case '"': r = "&quot;"; break;
      default: if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e) c[0] = '?'; r = c;
    }
    if (!cat(out, r)) return 0;
  }
  return 1;
}

/* 158,971 */
static int num(stralloc *out, unsigned long n)
{
  char d[32], g[48];
  size_t l, i, o = 0;
  l = (size_t) snprintf(d, sizeof d, "%lu", n);
  for (i = 0; i < l; ++i) {
    if (i && (l - i) % 3 == 0) g[o++] = ',';
    g[o++] = d[i];
  }
  g[o] = 0;
  return cat(out, g);
}

static int pct(stralloc *out, unsigned long n, unsigned long total)
{
  char b[32];
  snprintf(b, sizeof b, "%.1f%%", total ? 100.0 * (double) n / (double) total : 0.0);
  return cat(out, b);
}

static const char STYLE[] =
  "body{margin:0;padding:16px;background:#f4f5f7;color:#1f2328;"
  "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4}\n"
  ".page{max-width:760px;margin:0 auto;background:#fff;border:1px solid #d8dbe0;border-radius:6px;padding:20px 24px}\n"
  "h1{font-size:20px;margin:0 0 4px}\n"
  "h2{font-size:15px;margin:22px 0 8px;padding-bottom:3px;border-bottom:1px solid #e3e5e8}\n"
  ".sub{color:#59636e;font-size:12px}\n"
  "table{border-collapse:collapse}\n"
  ".tiles td{padding:8px 14px 8px 0;vertical-align:top}\n"
  ".big{font-size:24px;font-weight:bold}\n"
  ".lbl{color:#59636e;font-size:12px}\n"
  ".bad{color:#b3261e}\n"
  ".t{font-size:13px;margin:0 0 6px}\n"
  ".t th{text-align:left;color:#59636e;font-weight:normal;padding:2px 16px 2px 0;border-bottom:1px solid #e3e5e8}\n"
  ".t td{padding:2px 16px 2px 0;border-bottom:1px solid #f0f1f3}\n"
  ".t td.n,.t th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
  ".cols td.col{vertical-align:top;padding-right:28px}\n"
  ".warn{background:#fff4e5;border:1px solid #e8b83e;padding:8px;margin:8px 0;font-size:13px}\n"
  ".foot{color:#59636e;font-size:11px;margin-top:18px}\n";

/* one table of tallies: name, count, share of total */
static int table(stralloc *out, const char *title, const char *what, tr_tallies *t, unsigned long total)
{
  unsigned int i;
  if (!t->len) return 1;
  tr_sort(t);
  if (!cat(out, "<td class=\"col\"><table class=\"t\"><tr><th>") || !cat(out, title) || !cat(out, "</th><th class=\"n\">")
    || !cat(out, what) || !cat(out, "</th><th class=\"n\">share</th></tr>\n")) return 0;
  for (i = 0; i < t->len; ++i)
    if (!cat(out, "<tr><td>") || !esc(out, t->t[i].name) || !cat(out, "</td><td class=\"n\">") || !num(out, t->t[i].n)
      || !cat(out, "</td><td class=\"n\">") || !pct(out, t->t[i].n, total) || !cat(out, "</td></tr>\n")) return 0;
  return cat(out, "</table></td>\n");
}

static int tile(stralloc *out, unsigned long n, const char *label, const char *cls)
{
  return cat(out, "<td><div class=\"big") && cat(out, cls) && cat(out, "\">") && num(out, n)
    && cat(out, "</div><div class=\"lbl\">") && cat(out, label) && cat(out, "</div></td>\n");
}

/* a round step for the y axis: 1, 2 or 5 times a power of ten, about max/4 */
static unsigned long step(unsigned long max)
{
  unsigned long p = 1;
  while (p * 10 <= max / 4) p *= 10;
  if (p * 5 <= max / 4 + (max % 4 != 0)) return p * 5;
  if (p * 2 <= max / 4 + (max % 4 != 0)) return p * 2;
  return p;
}

/* stacked bars: connections per hour by outcome; returns 1, 0 no memory */
static int chart(stralloc *out, const tr_stats *s)
{
  unsigned long total[TR_HOURS], top = 0, st, y;
  unsigned int h, k, link[NCOLOURS], nl = 0, li;
  const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM, bw = pw / TR_HOURS;
  double scale;
  char b[320];

  /* the links that refused in these hours, each with a colour */
  for (k = 0; k < s->nprogs && nl < NCOLOURS; ++k)
    for (h = 0; h < TR_HOURS; ++h)
      if (s->hour[h].refused[k]) { link[nl++] = k; break; }
  for (h = 0; h < TR_HOURS; ++h) {
    const tr_hour *r = &s->hour[h];
    unsigned long t = 0, parts = r->tempfail + r->greylisted;
    for (k = 0; k < TR_PROGS; ++k) { if (r->conn[k] > t) t = r->conn[k]; parts += r->refused[k]; }
    total[h] = t > parts ? t : parts;
    if (total[h] > top) top = total[h];
  }
  st = step(top ? top : 4);
  top = (top / st + 1) * st;
  scale = ph / (double) top;
  snprintf(b, sizeof b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
    " font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\" role=\"img\""
    " aria-label=\"connections per hour, the last 24 hours\">\n", W, H + 26, W, H + 26);
  if (!cat(out, b)) return 0;
  for (y = 0; y <= top; y += st) {
    double yy = TOP + ph - (double) y * scale;
    snprintf(b, sizeof b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>"
      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#59636e\">%lu</text>\n",
      LEFT, yy, W - RIGHT, yy, y ? "#e3e5e8" : "#9aa1a9", LEFT - 6, yy + 4, y);
    if (!cat(out, b)) return 0;
  }
  for (h = 0; h < TR_HOURS; ++h) {
    const tr_hour *r = &s->hour[h];
    unsigned long part[3 + NCOLOURS], sum = 0;
    const char *colour[3 + NCOLOURS];
    unsigned int np = 0, i;
    double x = LEFT + h * bw + 2, yy = TOP + ph;
    unsigned long long start = s->hourend - (unsigned long long) (TR_HOURS - h) * 3600;
    time_t tt = (time_t) start;
    struct tm tm;
    for (li = 0; li < nl; ++li) sum += r->refused[link[li]];
    part[np] = total[h] - sum - r->tempfail - r->greylisted; colour[np++] = C_PASSED;
    part[np] = r->greylisted; colour[np++] = C_GREY;
    part[np] = r->tempfail; colour[np++] = C_TEMP;
    for (li = 0; li < nl; ++li) { part[np] = r->refused[link[li]]; colour[np++] = C_LINK[li]; }
    for (i = 0; i < np; ++i) {
      double hh = (double) part[i] * scale;
      if (!part[i]) continue;
      yy -= hh;
      snprintf(b, sizeof b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
        x, yy, bw - 4, hh, colour[i]);
      if (!cat(out, b)) return 0;
    }
    if (h % 3 == 0 && gmtime_r(&tt, &tm)) {
      snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#59636e\">%02d:00</text>\n",
        LEFT + h * bw + bw / 2, H - BOTTOM + 16, tm.tm_hour);
      if (!cat(out, b)) return 0;
    }
  }
  /* the legend under the axis */
  {
    double x = LEFT;
    const char *name[3 + NCOLOURS], *colour[3 + NCOLOURS];
    char lname[3 + NCOLOURS][48];
    unsigned int np = 0, i;
    name[np] = "passed"; colour[np++] = C_PASSED;
    name[np] = "greylisted"; colour[np++] = C_GREY;
    name[np] = "tempfailed"; colour[np++] = C_TEMP;
    for (li = 0; li < nl; ++li) {
      snprintf(lname[li], sizeof lname[li], "refused by %s", s->prog[link[li]]);
      name[np] = lname[li]; colour[np++] = C_LINK[li];
    }
    for (i = 0; i < np; ++i) {
      snprintf(b, sizeof b, "<rect x=\"%.1f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">",
        x, H + 6, colour[i], x + 14, H + 15);
      if (!cat(out, b) || !esc(out, name[i]) || !cat(out, "</text>\n")) return 0;
      x += 14 + 6.5 * (double) strlen(name[i]) + 16;
    }
  }
  return cat(out, "</svg>\n");
}

static int hosts(stralloc *out, tr_host **w, long n)
{
  long i;
  if (!n) return cat(out, "<p>None.</p>\n");
  if (!cat(out, "<table class=\"t\"><tr><th class=\"n\">connections</th><th class=\"n\">refused</th>"
      "<th class=\"n\">recipients refused</th><th>address</th><th>lists</th><th>last refusal</th></tr>\n")) return 0;
  for (i = 0; i < n; ++i)
    if (!cat(out, "<tr><td class=\"n\">") || !num(out, tr_conns(w[i])) || !cat(out, "</td><td class=\"n\">")
      || !num(out, w[i]->refused) || !cat(out, "</td><td class=\"n\">") || !num(out, w[i]->rcptrefused)
      || !cat(out, "</td><td>") || !esc(out, w[i]->ip) || !cat(out, "</td><td>")
      || !esc(out, w[i]->lists[0] ? w[i]->lists : "-") || !cat(out, "</td><td>")
      || !esc(out, w[i]->why[0] ? w[i]->why : "-") || !cat(out, "</td></tr>\n")) return 0;
  return cat(out, "</table>\n");
}

int tr_html(stralloc *out, const tr_stats *s0, tr_host **worst, long n, unsigned long long now)
{
  tr_stats *s = (tr_stats *) s0; /* the tallies are sorted in place */
  unsigned long conns = tr_total_conns(s);
  if (!cat(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>smtp: the last day</title>\n<style>\n")
    || !cat(out, STYLE) || !cat(out, "</style></head>\n<body><div class=\"page\">\n<h1>")) return 0;
  if (!pct(out, s->refused, conns) || !cat(out, " of ") || !num(out, conns) || !cat(out, " connections refused</h1>\n"))
    return 0;
  if (!cat(out, "<div class=\"sub\">")) return 0;
  if (s->since) {
    if (!cat(out, "period: ") || !tr_fmtime(out, s->since) || !cat(out, " to ") || !tr_fmtime(out, now)
      || !cat(out, " UTC")) return 0;
  } else if (!cat(out, "all lines")) return 0;
  if (s->first && (!cat(out, "; lines from ") || !tr_fmtime(out, s->first) || !cat(out, " to ")
      || !tr_fmtime(out, s->last))) return 0;
  if (!cat(out, "; ") || !num(out, s->lines) || !cat(out, " lines read, ") || !num(out, s->used) || !cat(out, " used</div>\n"))
    return 0;

  if (!cat(out, "<table class=\"tiles\"><tr>\n") || !tile(out, conns, "connections", "")
    || !tile(out, s->refused, "connections refused", " bad")
    || !tile(out, s->hlen, "hosts", "") || !tile(out, s->rcptrefused, "recipients refused", "")
    || !tile(out, s->rcptaccepted, "recipients accepted", "") || !tile(out, s->msgs, "messages passed", "")
    || !cat(out, "</tr></table>\n")) return 0;

  if (s->hourend) {
    if (!cat(out, "<h2>Connections per hour, the last 24 hours (UTC)</h2>\n") || !chart(out, s)) return 0;
  }

  if (!cat(out, "<h2>Connections refused: ") || !num(out, s->refused) || !cat(out, "</h2>\n")) return 0;
  if (s->refused) {
    if (!cat(out, "<table class=\"cols\"><tr>\n") || !table(out, "link", "refused", &s->bylink, s->refused)
      || !table(out, "list", "refused", &s->bylist, s->refused) || !cat(out, "</tr></table>\n")) return 0;
    if (s->byrule.len || s->byreason.len)
      if (!cat(out, "<table class=\"cols\"><tr>\n") || !table(out, "rule", "refused", &s->byrule, s->refused)
        || !table(out, "reason", "refused", &s->byreason, s->refused) || !cat(out, "</tr></table>\n")) return 0;
  }
  if (s->would && (!cat(out, "<p>Connections that would have been refused (harvest): ") || !num(out, s->would)
      || !cat(out, "</p>\n"))) return 0;

  if (!cat(out, "<h2>Senders and recipients</h2>\n<p>senders refused: ") || !num(out, s->sendersrefused)
    || !cat(out, "; recipients refused: ") || !num(out, s->rcptrefused) || !cat(out, "; accepted: ")
    || !num(out, s->rcptaccepted) || !cat(out, "; messages passed: ") || !num(out, s->msgs) || !cat(out, "</p>\n"))
    return 0;
  if (s->rcptwould && (!cat(out, "<p>Recipients that would have been refused (harvest): ") || !num(out, s->rcptwould)
      || !cat(out, "</p>\n"))) return 0;
  if (s->rcptby.len && (!cat(out, "<table class=\"cols\"><tr>\n")
      || !table(out, "recipients refused by link and reason", "refused", &s->rcptby, s->rcptrefused)
      || !cat(out, "</tr></table>\n"))) return 0;

  if (s->greynew || s->greyearly || s->greylate || s->greypass || s->greyknown || s->greyauto || s->greywould) {
    unsigned long trips, gone;
    tr_grey_gone(s, &trips, &gone);
    if (!cat(out, "<h2>Greylisting</h2>\n<table class=\"t\">\n<tr><td>greylisted</td><td class=\"n\">")
      || !num(out, s->greynew) || !cat(out, "</td></tr>\n<tr><td>early retries</td><td class=\"n\">")
      || !num(out, s->greyearly) || !cat(out, "</td></tr>\n<tr><td>late retries</td><td class=\"n\">")
      || !num(out, s->greylate) || !cat(out, "</td></tr>\n<tr><td>passed after retry</td><td class=\"n\">")
      || !num(out, s->greypass) || !cat(out, "</td></tr>\n<tr><td>passed as known triplets</td><td class=\"n\">")
      || !num(out, s->greyknown) || !cat(out, "</td></tr>\n<tr><td>whitelisted (automatic)</td><td class=\"n\">")
      || !num(out, s->greyauto) || !cat(out, "</td></tr>\n<tr><td>greylisted triplets that never came back</td>"
        "<td class=\"n\">") || !num(out, gone) || !cat(out, " of ") || !num(out, trips) || !cat(out, " (")
      || !pct(out, gone, trips) || !cat(out, ")</td></tr>\n")) return 0;
    if (s->tripsover && (!cat(out, "<tr><td>decisions about triplets past the first ") || !num(out, TR_TRIPLETS_MAX)
        || !cat(out, " (not in the line above)</td><td class=\"n\">") || !num(out, s->tripsover)
        || !cat(out, "</td></tr>\n"))) return 0;
    if (s->greywould && (!cat(out, "<tr><td>would have been greylisted (harvest)</td><td class=\"n\">")
        || !num(out, s->greywould) || !cat(out, "</td></tr>\n"))) return 0;
    if (!cat(out, "</table>\n")) return 0;
  }

  if (s->sglines) {
    if (!cat(out, "<h2>spamgrab: ") || !num(out, s->sglines) || !cat(out, " messages</h2>\n")) return 0;
    if (s->sgby.len && !cat(out, "<div class=\"warn\"><b>Warning:</b> Received lines &quot;by&quot; a name that is"
        " none of spamgrab's hosts: no report was made for these; check tcpserver's -l (the name in control/me)"
        " and spamgrab.conf's &quot;me&quot; lines.</div>\n")) return 0;
    if ((s->sgreason.len || s->sgby.len) && (!cat(out, "<table class=\"cols\"><tr>\n")
        || !table(out, "passed, by reason", "messages", &s->sgreason, s->sglines)
        || !table(out, "Received by", "messages", &s->sgby, s->sglines) || !cat(out, "</tr></table>\n"))) return 0;
  }

  if (!cat(out, "<h2>The worst hosts</h2>\n") || !hosts(out, worst, n)) return 0;
  return cat(out, "<div class=\"foot\">sdu-report</div>\n</div></body></html>\n");
}

int tr_mail_address_ok(const char *to)
{
  size_t i, l = strlen(to);
  if (!l || l > 256) return 0;
  for (i = 0; i < l; ++i) if ((unsigned char) to[i] < 0x20 || (unsigned char) to[i] > 0x7e) return 0;
  return 1;
}

/* 7-bit for Content-Transfer-Encoding: 7bit (the page is escaped already) */
static void ascii(stralloc *out, size_t from)
{
  size_t i;
  for (i = from; i < out->len; ++i)
    if ((unsigned char) out->s[i] > 0x7e || ((unsigned char) out->s[i] < 0x20 && out->s[i] != '\n' && out->s[i] != '\t'))
      out->s[i] = '?';
}

int tr_mail(stralloc *out, const tr_stats *s, tr_host **worst, long n, unsigned long long now, const char *to)
{
  char b[512], date[64], bound[64];
  time_t tt = (time_t) now;
  struct tm tm;
  unsigned long conns = tr_total_conns(s);
  size_t from;
  if (!gmtime_r(&tt, &tm) || !strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm)) return 0;
  snprintf(bound, sizeof bound, "sdu-report-%llu", now);
  if (!cat(out, "To: ") || !cat(out, to) || !cat(out, "\nSubject: smtp: ") || !pct(out, s->refused, conns)
    || !cat(out, " of ") || !num(out, conns) || !cat(out, " connections refused\nDate: ") || !cat(out, date)
    || !cat(out, "\nMIME-Version: 1.0\n")) return 0;
  snprintf(b, sizeof b, "Content-Type: multipart/alternative; boundary=\"%s\"\n\n"
    "The summary of sdu-report, as text and as HTML.\n\n--%s\n"
    "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n", bound, bound);
  if (!cat(out, b)) return 0;
  from = out->len;
  if (!tr_summary(out, s, now)) return 0;
  ascii(out, from);
  snprintf(b, sizeof b, "\n--%s\nContent-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n", bound);
  if (!cat(out, b)) return 0;
  from = out->len;
  if (!tr_html(out, s, worst, n, now)) return 0;
  ascii(out, from);
  snprintf(b, sizeof b, "\n--%s--\n", bound);
  return cat(out, b);
}
