/* spamgrab_report.c: abuse reports in the Abuse Reporting Format (RFC 5965), with RFC 6650's manners */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "spamgrab_report.h"

void sg_date(char *out, unsigned long long t)
{
  static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t tt = (time_t) t;
  struct tm tm;
  /* libowfat's fmt_* are declared pure: the compiler may drop their writes */
  if (!gmtime_r(&tt, &tm) || tm.tm_year > 8000) { strcpy(out, "Thu, 1 Jan 1970 00:00:00 +0000"); return; }
  snprintf(out, 40, "%s, %d %s %d %02d:%02d:%02d +0000", day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon],
    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *sg_domain(const char *addr)
{
  const char *at = strrchr(addr, '@');
  return at ? at + 1 : "";
}

static int catu(stralloc *out, unsigned long long u)
{
  char num[32];
  int n = snprintf(num, sizeof num, "%llu", u);
  return n > 0 && stralloc_catb(out, num, (size_t) n);
}

static int has8bit(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; ++i) if ((unsigned char) s[i] >= 128) return 1;
  return 0;
}

static int contains(const char *s, size_t len, const char *w, size_t wl)
{
  size_t i;
  if (wl > len) return 0;
  for (i = 0; i + wl <= len; ++i) if (s[i] == w[0] && !memcmp(s + i, w, wl)) return 1;
  return 0;
}

#define CATS(x) if (!stralloc_cats(out, (x))) return 0
#define CATU(x) if (!catu(out, (unsigned long long) (x))) return 0

int sg_report(stralloc *out, const sg_report_in *in)
{
  const sg_parsed *p = in->p;
  const sg_client *c = &p->client;
  const char *att;
  size_t attlen, full;
  char date[40], bnd[80];
  int cut = 0, eight, headers = 0;
  unsigned int i, k = 0;
  size_t n;

  if (in->type == SG_R_DIALUP) { att = p->orig.s; full = p->orig.len; headers = p->headers_only; }
  else { att = in->whole; full = in->wholelen; }
  attlen = full;
  if (attlen > in->maxsize) {
    /* cut at a line end, so that the part stays a message */
    attlen = in->maxsize;
    while (attlen > 0 && att[attlen - 1] != '\n') --attlen;
    if (!attlen) attlen = in->maxsize;
    cut = 1;
  }
  eight = has8bit(att, attlen);
  for (;;) {
    n = (size_t) snprintf(bnd, sizeof bnd, "=_spamgrab_%llu_%lu_%u", in->now, in->uniq, k);
    if (!contains(att, attlen, bnd, n)) break;
    ++k;
  }
  sg_date(date, in->now);

  out->len = 0;
  CATS("From: "); CATS(in->from); CATS("\n");
  CATS("To: "); CATS(in->to); CATS("\n");
  CATS("Subject: abuse report: ");
  CATS(in->type == SG_R_DIALUP ? "spam from a dial-up host, " :
       in->type == SG_R_RELAY ? "spam relayed by " : "spam from ");
  CATS(c->ip_s);
  if (in->type == SG_R_OPERATOR) { CATS(" (for "); CATS(in->list); CATS(")"); }
  CATS("\n");
  CATS("Date: "); CATS(date); CATS("\n");
  CATS("Message-ID: <"); CATU(in->now);
  CATS("."); CATU(in->uniq); CATS("."); CATU(k); CATS(".spamgrab@"); CATS(in->me); CATS(">\n");
  CATS("Auto-Submitted: auto-generated\n");
  CATS("X-Spamgrab: type=");
  CATS(in->type == SG_R_DIALUP ? "dialup" : in->type == SG_R_RELAY ? "relay" : "operator");
  CATS(" ip="); CATS(c->ip_s);
  if (in->type == SG_R_OPERATOR) { CATS(" list="); CATS(in->list); }
  CATS("\nMIME-Version: 1.0\n");
  CATS("Content-Type: multipart/report; report-type=feedback-report;\n\tboundary=\""); CATS(bnd); CATS("\"\n");
  if (eight) CATS("Content-Transfer-Encoding: 8bit\n");
  CATS("\nThis is an abuse report in the Abuse Reporting Format (RFC 5965).\n");

  /* 1: for people */
  CATS("\n--"); CATS(bnd); CATS("\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n");
  CATS("This is an automatic report from "); CATS(in->me); CATS(".\n\n");
  CATS("The host "); CATS(c->ip_s);
  if (*c->rdns && strcmp(c->rdns, "unknown")) { CATS(" ("); CATS(c->rdns); CATS(")"); }
  CATS(", which introduced itself as "); CATS(*c->helo ? c->helo : "nothing");
  CATS(",\nsent us spam on "); CATS(*c->date ? c->date : "an unknown date");
  CATS(" with a forged envelope sender.\nOur rejection of it went to that forged address and came back to us:\na double-bounce, and backscatter for whoever owns the address.\n\n");
  if (in->type == SG_R_DIALUP) {
    CATS("The host is listed as a dial-up or end-user address (");
    CATS(in->lists && *in->lists ? in->lists : "-");
    CATS("),\nso it should not send mail directly: it is most likely an infected machine\nof one of your customers. The spam is attached.\n");
  } else if (in->type == SG_R_RELAY) {
    CATS("The host is not listed as a dial-up address: it is most likely an open\nrelay, an open proxy or a compromised server in your network. Attached is\nthe whole double-bounce, with the original message and our Received line.\n");
  } else {
    CATS("We submit this host for your list "); CATS(in->list);
    CATS(". It is not listed there now.\nIt looks like an open relay, an open proxy or a compromised server.\nAttached is the whole double-bounce, with the original message.\n");
  }
  if (cut) {
    CATS("\nThe attached message was cut to "); CATU((unsigned long) attlen);
    CATS(" of its "); CATU((unsigned long) full); CATS(" bytes.\n");
  }
  CATS("\nThe line that our mail server wrote on receiving it:\n  from ");
  CATS(c->rdns); CATS(" ("); CATS(c->ip_s); CATS(") by "); CATS(c->by); CATS("\n");
  CATS("\nIf you would rather not receive these reports, reply to this message\nand say so: we will stop sending them to you. Replies reach a person.\n");

  /* 2: for machines */
  CATS("\n--"); CATS(bnd); CATS("\nContent-Type: message/feedback-report\n\n");
  CATS("Feedback-Type: abuse\nUser-Agent: " SG_USER_AGENT "\nVersion: 1\n");
  CATS("Source-IP: "); CATS(c->ip_s); CATS("\n");
  if (*c->date) { CATS("Arrival-Date: "); CATS(c->date); CATS("\n"); }
  if (*p->mailfrom) { CATS("Original-Mail-From: <"); CATS(p->mailfrom); CATS(">\n"); }
  for (i = 0; i < p->nrcpt; ++i) { CATS("Original-Rcpt-To: <"); CATS(p->rcpt[i]); CATS(">\n"); }
  CATS("Reporting-MTA: dns; "); CATS(in->me); CATS("\n");
  if (*c->rdns && strcmp(c->rdns, "unknown")) { CATS("Source: "); CATS(c->rdns); CATS("\n"); }
  if (*sg_domain(p->mailfrom)) { CATS("Reported-Domain: "); CATS(sg_domain(p->mailfrom)); CATS("\n"); }

  /* 3: the evidence */
  CATS("\n--"); CATS(bnd);
  CATS(headers ? "\nContent-Type: text/rfc822-headers\n" : "\nContent-Type: message/rfc822\n");
  if (eight) CATS("Content-Transfer-Encoding: 8bit\n");
  CATS("Content-Disposition: inline\n\n");
  if (!stralloc_catb(out, att, attlen)) return 0;
  if (attlen && att[attlen - 1] != '\n') CATS("\n");
  CATS("\n--"); CATS(bnd); CATS("--\n");
  return 1;
}
