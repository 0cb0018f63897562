/* t_spamgrab_report.c: spamgrab's ARF reports field by field, the cache value format, the registered domain */
#include <stdlib.h>
#include <stdio.h>
#include "sdu_t.h"
#include "../../spamgrab/spamgrab_parse.h"
#include "../../spamgrab/spamgrab_report.h"
#include "../../spamgrab/spamgrab_cache.h"
#include "../../spamgrab/spamgrab_contact.h"
#include "../../spamgrab/spamgrab_out.h"

static const char *const hosts[] = { "mx.example.net", 0 };

/* the n-th part (0-based) between "--bnd" lines of body */
static int part(const char *body, const char *bnd, int n, const char **s, size_t *len)
{
  char delim[128];
  const char *p = body, *e;
  int i;
  snprintf(delim, sizeof delim, "\n--%s", bnd);
  for (i = 0; i <= n; ++i) {
    p = strstr(p, delim);
    if (!p) return 0;
    p += strlen(delim);
  }
  if (*p != '\n') return 0;
  ++p;
  e = strstr(p, delim);
  if (!e) return 0;
  *s = p;
  *len = (size_t) (e - p);
  return 1;
}

static int field(const char *h, size_t hlen, const char *name, const char *want)
{
  sg_span v;
  char buf[512];
  if (!sg_field_find(h, hlen, name, &v)) return 0;
  sg_unfold(buf, sizeof buf, v.s, v.len);
  return !strcmp(buf, want);
}

static int count(const char *h, size_t hlen, const char *name)
{
  size_t pos = 0;
  sg_span n, v;
  int k = 0;
  while (sg_field_next(h, hlen, &pos, &n, &v)) if (n.len == strlen(name) && !strncasecmp(n.s, name, n.len)) ++k;
  return k;
}

/* the report, 0-terminated for the string functions below */
static int build(stralloc *out, const sg_report_in *in)
{
  if (!sg_report(out, in) || !stralloc_0(out)) return 0;
  --out->len;
  return 1;
}

static void arf(void)
{
  size_t len, hlen, body, plen, ph, pb;
  char *m = t_slurp("tests/data/spamgrab/db18.eml", &len);
  sg_parsed p;
  sg_report_in in;
  stralloc out = { 0 };
  sg_span v;
  char bnd[128], ct[512];
  const char *s, *b;
  if (!m) { T_OK(0, "db18 readable"); return; }
  sg_parse(&p, m, len, 0, hosts);
  memset(&in, 0, sizeof in);
  in.type = SG_R_RELAY;
  in.from = "abuse-desk@example.net";
  in.to = "abuse@isp.test";
  in.lists = "";
  in.me = "mx.example.net";
  in.p = &p;
  in.whole = m;
  in.wholelen = len;
  in.maxsize = 65536;
  in.now = 1795400000ULL;
  in.uniq = 42;
  T_OK(build(&out, &in), "relay report built");
  T_OK(sg_split(out.s, out.len, &hlen, &body), "report: a message");
  T_OK(field(out.s, hlen, "From", "abuse-desk@example.net"), "report: From takes replies");
  T_OK(field(out.s, hlen, "To", "abuse@isp.test"), "report: To");
  T_OK(field(out.s, hlen, "Date", "Mon, 23 Nov 2026 02:13:20 +0000"), "report: Date");
  T_OK(field(out.s, hlen, "MIME-Version", "1.0"), "report: MIME-Version");
  T_OK(field(out.s, hlen, "Auto-Submitted", "auto-generated"), "report: Auto-Submitted");
  T_OK(sg_field_find(out.s, hlen, "Subject", &v) && memmem(v.s, v.len, "203.0.113.45", 12), "report: Subject names the host");
  T_OK(sg_field_find(out.s, hlen, "Content-Type", &v), "report: Content-Type");
  sg_unfold(ct, sizeof ct, v.s, v.len);
  T_OK(!strncmp(ct, "multipart/report; report-type=feedback-report; boundary=\"", 57), "report: multipart/report, feedback-report");
  b = strchr(ct, '"');
  snprintf(bnd, sizeof bnd, "%.*s", (int) (strrchr(ct, '"') - b - 1), b + 1);
  T_OK(strstr(out.s, bnd) && !memmem(m, len, bnd, strlen(bnd)), "report: the boundary is not in the enclosed message");
  {
    char close[140];
    snprintf(close, sizeof close, "\n--%s--\n", bnd);
    T_OK(out.len > strlen(close) && !memcmp(out.s + out.len - strlen(close), close, strlen(close)), "report: ends with the close delimiter");
  }
  /* part 1: for people */
  T_OK(part(out.s, bnd, 0, &s, &plen), "part 1 found");
  sg_split(s, plen, &ph, &pb);
  T_OK(field(s, ph, "Content-Type", "text/plain; charset=us-ascii"), "part 1: text/plain");
  T_OK(memmem(s, plen, "rather not receive these reports", 32) != 0, "part 1: the opt-out sentence (RFC 6650)");
  T_OK(memmem(s, plen, "203.0.113.45", 12) != 0, "part 1: names the host");
  T_OK(!memmem(s, plen, "was cut", 7), "part 1: no cut note when nothing was cut");
  /* part 2: for machines */
  T_OK(part(out.s, bnd, 1, &s, &plen), "part 2 found");
  sg_split(s, plen, &ph, &pb);
  T_OK(field(s, ph, "Content-Type", "message/feedback-report"), "part 2: message/feedback-report");
  s += pb;
  plen -= pb;
  T_OK(field(s, plen, "Feedback-Type", "abuse"), "ARF: Feedback-Type: abuse");
  T_OK(field(s, plen, "User-Agent", SG_USER_AGENT), "ARF: User-Agent");
  T_OK(field(s, plen, "Version", "1"), "ARF: Version: 1");
  T_OK(field(s, plen, "Source-IP", "203.0.113.45"), "ARF: Source-IP");
  T_OK(field(s, plen, "Arrival-Date", "23 Nov 2026 00:36:51 -0000"), "ARF: Arrival-Date from our Received line");
  T_OK(field(s, plen, "Original-Mail-From", "<singles@dating-singles.test>"), "ARF: Original-Mail-From");
  T_EQI(count(s, plen, "Original-Rcpt-To"), 3, "ARF: one Original-Rcpt-To per recipient");
  T_OK(field(s, plen, "Original-Rcpt-To", "<lonely@example.net>"), "ARF: Original-Rcpt-To");
  T_OK(field(s, plen, "Reported-Domain", "dating-singles.test"), "ARF: Reported-Domain");
  T_OK(field(s, plen, "Reporting-MTA", "dns; mx.example.net"), "ARF: Reporting-MTA");
  T_EQI(count(s, plen, "Feedback-Type") + count(s, plen, "Version") + count(s, plen, "User-Agent"), 3, "ARF: the required fields once each");
  /* part 3: the evidence, the whole double-bounce */
  T_OK(part(out.s, bnd, 2, &s, &plen), "part 3 found");
  sg_split(s, plen, &ph, &pb);
  T_OK(field(s, ph, "Content-Type", "message/rfc822"), "part 3: message/rfc822");
  T_OK(plen - pb == len && !memcmp(s + pb, m, len), "part 3: the whole double-bounce, unchanged");

  /* cut to a size, with a note */
  in.maxsize = 1024;
  T_OK(build(&out, &in), "cut report built");
  T_OK(part(out.s, bnd, 0, &s, &plen) && memmem(s, plen, "was cut to", 10), "cut: the note says so");
  T_OK(part(out.s, bnd, 2, &s, &plen), "cut: part 3 found");
  sg_split(s, plen, &ph, &pb);
  T_OK(plen - pb <= 1024 && plen - pb > 900 && s[plen - 1] == '\n' && !memcmp(s + pb, m, plen - pb), "cut: a prefix of at most 1024 bytes, at a line end");

  /* the dial-up complaint: the original only */
  in.maxsize = 65536;
  in.type = SG_R_DIALUP;
  in.lists = "dul";
  T_OK(build(&out, &in), "dial-up report built");
  T_OK(part(out.s, bnd, 2, &s, &plen), "dial-up: part 3 found");
  sg_split(s, plen, &ph, &pb);
  T_OK(plen - pb == p.orig.len && !memcmp(s + pb, p.orig.s, p.orig.len), "dial-up: the original message only");
  T_OK(part(out.s, bnd, 0, &s, &plen) && memmem(s, plen, "dial-up", 7), "dial-up: says why");

  /* the operator report names the list */
  in.type = SG_R_OPERATOR;
  in.list = "orbs";
  T_OK(build(&out, &in), "operator report built");
  sg_split(out.s, out.len, &hlen, &body);
  T_OK(field(out.s, hlen, "X-Spamgrab", "type=operator ip=203.0.113.45 list=orbs"), "operator: the X-Spamgrab field for -s");
  free(m);

  /* only headers: text/rfc822-headers */
  m = t_slurp("tests/data/spamgrab/sendmail-headers.eml", &len);
  if (m) {
    sg_parse(&p, m, len, 0, hosts);
    in.p = &p; in.whole = m; in.wholelen = len; in.type = SG_R_DIALUP;
    T_OK(build(&out, &in) && part(out.s, bnd, 2, &s, &plen), "headers only: report built");
    sg_split(s, plen, &ph, &pb);
    T_OK(field(s, ph, "Content-Type", "text/rfc822-headers"), "headers only: text/rfc822-headers");
    free(m);
  }
  /* a message that holds the first boundary gets another */
  {
    const char *trap = "Received: from x (192.0.2.9) by mx.example.net with SMTP; d\n\n=_spamgrab_1795400000_42_0\n";
    sg_parse(&p, trap, strlen(trap), 1, hosts);
    in.p = &p; in.whole = trap; in.wholelen = strlen(trap); in.type = SG_R_RELAY;
    T_OK(build(&out, &in) && strstr(out.s, "boundary=\"=_spamgrab_1795400000_42_1\""), "boundary: changed when the message holds it");
  }
  stralloc_free(&out);
}

static void cache_format(void)
{
  sg_host h, g;
  char buf[400];
  memset(&h, 0, sizeof h);
  h.first = 1; h.last = 2; h.reported = 0; h.seen = 7; strcpy(h.lists, "dul,pbl");
  T_OK(sg_host_fmt(buf, sizeof buf, &h) > 0 && !strcmp(buf, "1 2 0 7 dul,pbl"), "cache: value format");
  T_OK(sg_host_scan(buf, strlen(buf), &g) && g.first == 1 && g.last == 2 && g.seen == 7 && !strcmp(g.lists, "dul,pbl"), "cache: read back");
  *h.lists = 0;
  sg_host_fmt(buf, sizeof buf, &h);
  T_OK(sg_host_scan(buf, strlen(buf), &g) && !*g.lists, "cache: no lists as -");
  T_OK(!sg_host_scan("1 2 x", 5, &g), "cache: malformed value refused");
  T_OK(sg_host_fmt(buf, 5, &h) == -1, "cache: too small a buffer");
}

static void domains(void)
{
  char d[256];
  T_OK(sg_registered_domain(0, "dsl-1.pool.example.co.uk", d, sizeof d) == 1 && !strcmp(d, "example.co.uk"), "PSL: example.co.uk, not co.uk");
  T_OK(sg_registered_domain(0, "Mail.Example.COM.", d, sizeof d) == 1 && !strcmp(d, "example.com"), "PSL: case and trailing dot");
  T_OK(sg_registered_domain(0, "co.uk", d, sizeof d) == 0, "PSL: a public suffix has none");
  T_OK(sg_registered_domain(0, "unknown", d, sizeof d) == 0, "PSL: not a host name");
  T_OK(sg_registered_domain(0, "a b.example.com", d, sizeof d) == 0, "PSL: bad characters");
  T_OK(sg_registered_domain("/nonexistent/psl.dat", "a.example.com", d, sizeof d) == -1, "PSL: an unreadable list is an error");
  T_OK(sg_addr_ok("abuse@example.com"), "address: plain");
  T_OK(!sg_addr_ok("-oQ/tmp/x@example.com"), "address: no leading dash (an option to the injector)");
  T_OK(!sg_addr_ok("abuse"), "address: needs a domain");
  T_OK(!sg_addr_ok("a b@example.com"), "address: no blanks");
}

int main(void)
{
  arf();
  cache_format();
  domains();
  T_DONE();
}
