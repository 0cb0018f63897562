/* t_spamgrab_parse.c: spamgrab's parser on the real qmail samples (truth in INDEX.tsv) and made cases */
#include <stdlib.h>
#include <stdio.h>
#include "sdu_t.h"
#include "../../spamgrab/spamgrab_parse.h"

#define DATA "tests/data/spamgrab/"

static const char *const hosts[] = { "mx.example.net", "backend.example.net", 0 };
static char *kept[128];
static unsigned int nkept;

static int parsefile(const char *name, sg_parsed *p, int manual)
{
  char path[256];
  size_t len;
  char *m;
  int k;
  snprintf(path, sizeof path, DATA "%s", name);
  m = t_slurp(path, &len);
  if (!m) { printf("not ok - read %s\n", path); sdu_t_failed = 1; return -1; }
  k = sg_parse(p, m, len, manual, hosts);
  /* the spans point into m: keep it until the end */
  if (nkept < sizeof kept / sizeof kept[0]) kept[nkept++] = m; else free(m);
  return k;
}

static int hasrcpt(const sg_parsed *p, const char *r, size_t len)
{
  unsigned int i;
  for (i = 0; i < p->nrcpt; ++i) if (strlen(p->rcpt[i]) == len && !memcmp(p->rcpt[i], r, len)) return 1;
  return 0;
}

/* every row of INDEX.tsv: the client IP, its name, the forged sender, the recipients */
static void samples(void)
{
  FILE *f = fopen(DATA "INDEX.tsv", "r");
  char line[2048], name[128];
  int rows = 0;
  if (!f) { T_OK(0, "INDEX.tsv readable"); return; }
  while (fgets(line, sizeof line, f)) {
    char *col[9];
    int n = 0;
    char *s = line;
    sg_parsed p;
    line[strcspn(line, "\n")] = 0;
    while (n < 9) { col[n++] = s; s = strchr(s, '\t'); if (!s) break; *s++ = 0; }
    if (n < 8 || !strcmp(col[0], "file")) continue;
    ++rows;
    parsefile(col[0], &p, 0);
    snprintf(name, sizeof name, "%s: double-bounce with its original", col[0]);
    T_EQI(p.kind, SG_DOUBLE, name);
    snprintf(name, sizeof name, "%s: trusted Received line found", col[0]);
    T_OK(p.client.found, name);
    snprintf(name, sizeof name, "%s: client ip", col[0]);
    T_EQS(p.client.ip_s, col[1], name);
    snprintf(name, sizeof name, "%s: client name", col[0]);
    T_EQS(p.client.rdns, col[3], name);
    snprintf(name, sizeof name, "%s: written by our host", col[0]);
    T_EQS(p.client.by, "mx.example.net", name);
    snprintf(name, sizeof name, "%s: forged envelope sender", col[0]);
    T_EQS(p.mailfrom, col[5], name);
    {
      char *r = col[6], *c;
      unsigned int want = 0;
      int all = 1;
      for (;;) {
        c = strchr(r, ',');
        if (!hasrcpt(&p, r, c ? (size_t) (c - r) : strlen(r))) all = 0;
        ++want;
        if (!c) break;
        r = c + 1;
      }
      snprintf(name, sizeof name, "%s: original recipients", col[0]);
      T_OK(all && want == p.nrcpt, name);
    }
    snprintf(name, sizeof name, "%s: no trusted tag", col[0]);
    T_OK(!p.client.tag, name);
    snprintf(name, sizeof name, "%s: arrival date from our line", col[0]);
    T_OK(!strncmp(p.client.date, "23 Nov 2026 00:", 15), name);
  }
  fclose(f);
  T_EQI(rows, 11, "INDEX.tsv has every sample");
}

static void made(void)
{
  sg_parsed p;
  struct { const char *file; int kind; const char *ip; const char *from; const char *rcpt; int ho; } c[] = {
    { "dsn-inner.eml", SG_DOUBLE, "198.51.100.99", "fake1@dsn-sender.test", "ghost@example.net", 0 },
    { "mime-enclosed.eml", SG_DOUBLE, "203.0.113.77", "fake2@mime-sender.test", "nobody@example.net", 0 },
    { "exim-inner.eml", SG_DOUBLE, "198.51.100.55", "fake3@exim-sender.test", "lost@example.net", 0 },
    { "sendmail-headers.eml", SG_DOUBLE, "198.51.100.56", "fake4@sm-sender.test", "who@example.net", 1 },
    { "ipv6.eml", SG_DOUBLE, "2001:db8::25", "fake5@v6-sender.test", "v6user@example.net", 0 },
    { "tag-dialup.eml", SG_DOUBLE, "198.51.100.77", "fake6@tag-sender.test", "dialme@example.net", 0 },
    { "tag-wrongip.eml", SG_DOUBLE, "198.51.100.78", "fake7@tag-sender.test", "someone@example.net", 0 },
    { "tag-none.eml", SG_DOUBLE, "198.51.100.80", "fake8@tag-sender.test", "clean@example.net", 0 },
    { "norecv.eml", SG_DOUBLE, 0, "fake9@local.test", "someone@example.net", 0 },
    { "forged-top.eml", SG_DOUBLE, 0, "fake10@forged.test", "someone@example.net", 0 },
    { "truncated.eml", SG_TRUNCATED, 0, 0, 0, 0 },
    { "truncated2.eml", SG_TRUNCATED, 0, 0, 0, 0 },
    { "single-01.eml", SG_SINGLE, 0, 0, 0, 0 },
    { "single-03.eml", SG_SINGLE, 0, 0, 0, 0 },
  };
  unsigned int i;
  char name[160];
  for (i = 0; i < sizeof c / sizeof c[0]; ++i) {
    parsefile(c[i].file, &p, 0);
    snprintf(name, sizeof name, "%s: kind", c[i].file);
    T_EQI(p.kind, c[i].kind, name);
    if (c[i].kind != SG_DOUBLE) continue;
    snprintf(name, sizeof name, "%s: client %s", c[i].file, c[i].ip ? c[i].ip : "not found");
    if (c[i].ip) T_OK(p.client.found && !strcmp(p.client.ip_s, c[i].ip), name);
    else T_OK(!p.client.found, name);
    snprintf(name, sizeof name, "%s: envelope sender", c[i].file);
    T_EQS(p.mailfrom, c[i].from, name);
    snprintf(name, sizeof name, "%s: recipient", c[i].file);
    if (c[i].rcpt) T_OK(p.nrcpt == 1 && !strcmp(p.rcpt[0], c[i].rcpt), name);
    else T_EQI(p.nrcpt, 0, name);
    snprintf(name, sizeof name, "%s: headers only", c[i].file);
    T_EQI(p.headers_only, c[i].ho, name);
  }
  parsefile("exim-two.eml", &p, 0);
  T_OK(p.kind == SG_DOUBLE && p.nrcpt == 2, "exim: two addresses in the failed list, no reason or pipe counted");
  T_EQS(p.rcpt[0], "lost@example.net", "exim: first recipient");
  T_EQS(p.rcpt[1], "second@example.net", "exim: second recipient, its colon dropped");
  parsefile("ipv6.eml", &p, 0);
  T_OK(p.client.tag && !strcmp(p.client.lists, "pbl"), "ipv6: the tag below our line counts");
  T_OK(p.client.ip.v6, "ipv6: a v6 address");
  parsefile("tag-dialup.eml", &p, 0);
  T_OK(p.client.tag && !strcmp(p.client.lists, "dul,pbl"), "tag: lists read");
  T_EQS(p.client.rdns, "dyn-7.pool.example-isp.test", "tag: client name");
  parsefile("tag-wrongip.eml", &p, 0);
  T_OK(!p.client.tag && p.client.untrusted_tags == 1 && !*p.client.lists, "tag for another address ignored");
  parsefile("tag-none.eml", &p, 0);
  T_OK(p.client.tag && !*p.client.lists, "tag with lists=- is on no list");
  parsefile("forged-top.eml", &p, 0);
  T_OK(!p.client.found && !p.client.tag, "a line of ours below someone else's is not trusted");
  parsefile("db13.eml", &p, 0);
  T_OK(!p.client.tag && p.client.untrusted_tags == 1, "db13: forged tag noticed and ignored");
  T_EQS(p.client.ip_s, "203.0.113.190", "db13: the forged Received line changes nothing");
  parsefile("db28.eml", &p, 0);
  T_OK(p.orig.len > 0 && p.client.found, "db28: original without header fields of its own");
  /* the manual mode: the spam itself */
  parsefile("db01.eml", &p, 1);
  T_EQI(p.kind, SG_OTHER, "manual: the message is the original");
  T_OK(!p.client.found, "manual: the outer bounce has no Received line of ours");
}

static void pieces(void)
{
  sg_received r;
  sdu_ip ip;
  char lists[64];
  size_t h, b;
  const char *rc;
  sg_span o;
  int ho;

  rc = " from host.example (HELO x.y) (info@192.0.2.7)\n  by MX.Example.NET with SMTP; 23 Nov 2026 00:36:27 -0000";
  T_EQI(sg_received_parse(rc, strlen(rc), &r), 1, "received: qmail form");
  T_OK(r.ip.a[0] == 192 && r.ip.a[3] == 7, "received: ip after ident");
  T_EQS(r.helo, "x.y", "received: helo");
  T_EQS(r.by, "MX.Example.NET", "received: by");
  T_EQS(r.date, "23 Nov 2026 00:36:27 -0000", "received: date");
  rc = " from mail.example ([192.0.2.8] helo=bad)\n\tby mx.example.net with esmtp (Exim 4.96)\n\tid 1; Mon, 23 Nov 2026 00:00:00 +0000";
  T_EQI(sg_received_parse(rc, strlen(rc), &r), 1, "received: Exim form");
  T_OK(r.ip.a[3] == 8 && !strcmp(r.helo, "bad"), "received: Exim ip and helo");
  rc = " from unknown (HELO a) ([IPv6:2001:db8::1]) by mx.example.net with SMTP; x";
  T_EQI(sg_received_parse(rc, strlen(rc), &r), 1, "received: IPv6 literal");
  T_OK(r.ip.v6 && r.ip.a[15] == 1, "received: v6 address");
  rc = " by mx.example.net (Postfix, from userid 0)";
  T_EQI(sg_received_parse(rc, strlen(rc), &r), 0, "received: no from part");
  rc = " from a (no address here) by mx.example.net with SMTP";
  T_EQI(sg_received_parse(rc, strlen(rc), &r), -1, "received: no address");

  rc = "ip=192.0.2.7 lists=dul,pbl action=throttle";
  T_OK(sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists) && !strcmp(lists, "dul,pbl") && ip.a[3] == 7, "tag: the format");
  rc = " lists=- ip=2001:db8::2";
  T_OK(sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists) && !*lists && ip.v6, "tag: any order, none, v6");
  rc = "ip=192.0.2.7";
  T_OK(!sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists), "tag: lists missing");
  rc = "ip=192.0.2.7 lists=a;b";
  T_OK(!sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists), "tag: odd list names");
  rc = "ip=192.0.2.7 lists=a lists=b";
  T_OK(!sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists), "tag: twice");
  rc = "ip=192.0.2.7 lists=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  T_OK(!sg_tag_parse(rc, strlen(rc), &ip, lists, sizeof lists), "tag: lists longer than the buffer");

  T_OK(sg_split("\nbody", 5, &h, &b) && h == 0 && b == 1, "split: no fields");
  T_OK(sg_split("A: b\r\n\r\nbody", 13, &h, &b) && h == 6 && b == 8, "split: CRLF");
  T_OK(!sg_split("hello world\n\n", 13, &h, &b), "split: not a message");
  T_OK(sg_split("A: b\n c", 8, &h, &b) && h == 8 && b == 8, "split: no body");
  rc = "Subject: x\nContent-Type: multipart/report; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: message/rfc822\n\nA: 1\n\nz\n--b--\n";
  T_OK(sg_original(rc, strlen(rc), &o, &ho) && !ho, "original: MIME");
  T_EQB(o.s, o.len, "A: 1\n\nz", "original: the part, without the line end before the delimiter");
  rc = "Subject: x\nContent-Type: multipart/report; boundary=\"b\"\n\n--b\nContent-Type: message/rfc822\n\nA: 1\n\ncut";
  T_OK(sg_original(rc, strlen(rc), &o, &ho), "original: MIME without its close delimiter");
  T_EQB(o.s, o.len, "A: 1\n\ncut", "original: to the end");
  rc = "Subject: x\nContent-Type: multipart/report; boundary=\"b\"\n\n--bc\nContent-Type: message/rfc822\n\nA: 1\n";
  T_OK(!sg_original(rc, strlen(rc), &o, &ho), "original: a longer boundary is not the delimiter");
}

int main(void)
{
  samples();
  made();
  pieces();
  while (nkept) free(kept[--nkept]);
  T_DONE();
}
