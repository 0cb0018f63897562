/* t_rcptcheck_session.c: rcptcheck's answers to MAIL and RCPT, without sockets */
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sdu_t.h"
#include "sdu_smtp.h"
#include "../../rcptcheck/rcptcheck_build.h"
#include "../../rcptcheck/rcptcheck_session.h"

/* a counter in memory */
static char ckey[8][64]; static unsigned long cval[8]; static int cn, cfail;
static int cget(void *ctx, const char *k, size_t l, unsigned long *n)
{
  int i;
  (void) ctx;
  if (cfail) return -1;
  *n = 0;
  for (i = 0; i < cn; ++i) if (strlen(ckey[i]) == l && !memcmp(ckey[i], k, l)) *n = cval[i];
  return 0;
}
static int cadd(void *ctx, const char *k, size_t l)
{
  int i;
  (void) ctx;
  for (i = 0; i < cn; ++i) if (strlen(ckey[i]) == l && !memcmp(ckey[i], k, l)) { ++cval[i]; return 0; }
  memcpy(ckey[cn], k, l); ckey[cn][l] = 0; cval[cn++] = 1;
  return 0;
}
static unsigned long long clock_now;
static unsigned long long fakenow(void) { return clock_now; }

static int rcpt(rc_session *s, const char *arg) { return rc_session_rcpt(s, arg, strlen(arg)); }
static int mail(rc_session *s, const char *arg) { return rc_session_mail(s, arg, strlen(arg)); }

int main(void)
{
  rc_build b;
  rc_table t;
  rc_session s;
  rc_rules rules = {0};
  rc_senders senders = {0};
  rc_counter counter = { 0, cget, cadd };
  const char *why, *rl = "*[0-9]@*  Local parts never end in digits\n";
  const char *sl = "linkedin.com  553 5.7.1 no LinkedIn here\n";
  const char *list[] = { "steve@example.org", "joe-default@example.org", "@catchall.example",
    "forged@example.org -553 this address has never sent mail; please do not bounce forged spam to it",
    "abuse@refusing.example -550 no abuse desk here", "refusing.example", "x@refusing.example",
    "steve@mx.example.net", 0 };
  char file[128];
  int i, r;

  setenv("TZ", "UTC0", 1);
  mkdir("tests/tmp", 0755);
  snprintf(file, sizeof file, "tests/tmp/t_rcptcheck_session.%ld.cdb", (long) getpid());
  rc_build_start(&b, file, 0);
  for (i = 0; list[i]; ++i) rc_build_line(&b, list[i], strlen(list[i]), &why);
  T_EQI(rc_build_me(&b, "MX.example.net.", 15, &why), 0, "the name of this host's literals");
  T_EQI(rc_build_finish(&b), 0, "table built");
  rc_table_init(&t);
  T_EQI(rc_table_open(&t, file), 0, "table opened");
  rc_rules_loadbuf(&rules, "rules", rl, strlen(rl), 0);
  rc_senders_loadbuf(&senders, "senders", sl, strlen(sl), 0);

  rc_session_init(&s, &t);
  s.logfd = -1;
  s.rules = &rules;
  s.senders = &senders;
  s.maxrefused = 0;
  T_EQI(mail(&s, "FROM:<Someone@Example.NET>"), SDU_PASS, "sender passes");
  T_EQI(mail(&s, "FROM:<>"), SDU_PASS, "null sender passes");
  T_EQI(mail(&s, "FROM:<nodomain>"), SDU_ANSWER, "sender without domain");
  T_EQS(s.reply.s, "553 5.1.7 address must contain a domain", "its reply");
  T_EQI(mail(&s, "FROM:x@y.example"), SDU_ANSWER, "sender without brackets");
  T_OK(s.reply.s[0] == '5' && s.reply.s[1] == '0' && s.reply.s[2] == '1', "gets 501");
  T_EQI(mail(&s, "FROM:<bob@mail.LinkedIn.com>"), SDU_ANSWER, "blacklisted domain's subdomain");
  T_EQS(s.reply.s, "553 5.7.1 no LinkedIn here", "blacklist text");
  mail(&s, "FROM:<a@b.example>");

  T_EQI(rcpt(&s, "TO:<steve@example.org>"), SDU_PASS, "known address");
  T_EQI(rcpt(&s, "TO:<Steve@EXAMPLE.org>"), SDU_PASS, "known address in other case");
  T_EQI(rcpt(&s, "TO:<joe-lists-x@example.org>"), SDU_PASS, "-default");
  T_EQI(rcpt(&s, "TO:<jim@example.org>"), SDU_ANSWER, "unknown address");
  T_EQS(s.reply.s, "550 5.1.1 sorry, no mailbox here by that name", "unknown reply");
  T_EQI(rcpt(&s, "TO:<forged@example.org>"), SDU_ANSWER, "joe-jobbed address");
  T_EQS(s.reply.s, "553 this address has never sent mail; please do not bounce forged spam to it", "its own text");
  T_EQI(rcpt(&s, "TO:<anyone@catchall.example>"), SDU_PASS, "catch-all");
  T_EQI(rcpt(&s, "TO:<x@relay.example>"), SDU_PASS, "domain not covered");
  T_EQI(rcpt(&s, "TO:<x7@relay.example>"), SDU_PASS, "rules do not apply to domains not covered");
  T_EQI(rcpt(&s, "TO:<steve7@example.org>"), SDU_ANSWER, "local-part rule");
  T_EQS(s.reply.s, "550 5.1.1 Local parts never end in digits", "rule text");
  T_EQI(rcpt(&s, "TO:<postmaster@example.org>"), SDU_PASS, "postmaster@ a covered domain");
  T_EQI(rcpt(&s, "TO:<Postmaster>"), SDU_PASS, "bare postmaster");
  T_EQI(rcpt(&s, "TO:<abuse@example.org>"), SDU_PASS, "abuse@");
  T_EQI(rcpt(&s, "TO:<postmaster@refusing.example>"), SDU_PASS, "postmaster@ a domain without catch-all");
  T_EQI(rcpt(&s, "TO:<abuse@refusing.example>"), SDU_ANSWER, "abuse@ refused by the table");
  T_EQS(s.reply.s, "550 no abuse desk here", "its text");
  T_EQI(rcpt(&s, "TO:<y@refusing.example>"), SDU_ANSWER, "bare domain line: covered, nothing else");
  s.abuse = 0;
  T_EQI(rcpt(&s, "TO:<abuse@example.org>"), SDU_ANSWER, "abuse@ like any other address when switched off");
  s.abuse = 1;
  T_EQI(rcpt(&s, "TO:<@a,@b:x@y>"), SDU_PASS, "source route dropped: x@y not covered");
  T_EQI(rcpt(&s, "TO:<@a,@b:jim@example.org>"), SDU_ANSWER, "source route dropped: jim refused");
  T_EQI(rcpt(&s, "TO:jim@example.org"), SDU_ANSWER, "no brackets");
  T_OK(!strncmp(s.reply.s, "501 ", 4), "501 for no brackets");
  {
    char big[400];
    memcpy(big, "TO:<", 4); memset(big + 4, 'a', 300); strcpy(big + 304, "@example.org>");
    T_EQI(rcpt(&s, big), SDU_ANSWER, "300-byte local part");
    T_OK(s.reply.s[0] == '5' && strstr(s.reply.s, "too long"), "its reply: too long");
  }
  T_EQI(rc_session_rcpt(&s, "TO:<a\0b@example.org>", 20), SDU_ANSWER, "NUL byte");
  T_OK(s.reply.s[0] == '5', "5xx for NUL");

  /* the limit */
  s.maxrefused = 3; s.refused = 0;
  T_EQI(rcpt(&s, "TO:<u1@example.org>"), SDU_ANSWER, "refusal 1");
  T_EQI(rcpt(&s, "TO:<steve@example.org>"), SDU_PASS, "valid ones do not count");
  T_EQI(rcpt(&s, "TO:<u2@example.org>"), SDU_ANSWER, "refusal 2");
  T_EQI(rcpt(&s, "TO:<u3@example.org>"), SDU_CLOSE, "refusal 3 closes");
  T_EQS(s.reply.s, "421 4.7.0 too many refused recipients, closing connection", "with 421");

  /* harvest */
  s.maxrefused = 1; s.refused = 0; s.harvest = 1;
  mail(&s, "FROM:<bob@linkedin.com>");
  T_EQI(s.headerchanged, 1, "harvest: sender tagged");
  T_EQI(rcpt(&s, "TO:<ua@example.org>"), SDU_PASS, "harvest: unknown passes");
  T_EQI(rcpt(&s, "TO:<ub@example.org>"), SDU_PASS, "harvest: no limit");
  T_OK(strstr(s.header.s, "X-Rcptcheck: harvest would refuse rcpt=<ua@example.org> reason=unknown\n") != 0, "harvest tag for ua");
  T_OK(strstr(s.header.s, "from=<bob@linkedin.com> reason=blacklist") != 0, "harvest tag for the sender");
  rc_session_rset(&s);
  T_EQI(s.header.len, 0, "tags end with the transaction");
  s.harvest = 0; s.maxrefused = 0;

  /* dated and counted (the rules would see digits at the end) */
  s.rules = 0;
  T_EQI(rcpt(&s, "TO:<steve.date.20-10-2026@example.org>"), SDU_ANSWER, "dated form off by default");
  s.expire = 1;
  s.now = fakenow;
  clock_now = 1792454400ULL + 3600; /* 2026-10-20 01:00 UTC */
  T_EQI(rcpt(&s, "TO:<steve.date.20-10-2026@example.org>"), SDU_PASS, "dated, that day");
  clock_now = 1792454400ULL + 86400;
  T_EQI(rcpt(&s, "TO:<steve.date.20-10-2026@example.org>"), SDU_ANSWER, "dated, the day after");
  T_EQS(s.reply.s, "550 5.1.1 sorry, this address has expired", "expired text");
  T_EQI(rcpt(&s, "TO:<jim.date.20-10-2030@example.org>"), SDU_ANSWER, "dated form of an unknown user");
  T_EQS(s.reply.s, "550 5.1.1 sorry, no mailbox here by that name", "is just unknown");
  T_EQI(rcpt(&s, "TO:<steve.2.count@example.org>"), SDU_ANSWER, "counted form needs the state store");
  s.counter = &counter;
  /* every recipient passed on so far gets its reply from downstream */
  while (s.flen) rc_session_reply(&s, SDU_V_RCPT, 250);
  for (i = 0; i < 3; ++i) {
    rc_session_reply(&s, SDU_V_MAIL, 250);
    r = rcpt(&s, "TO:<steve.2.count@example.org>");
    rc_session_reply(&s, SDU_V_RCPT, 250);
    rc_session_reply(&s, SDU_V_DOT, 250);
    if (i < 2) T_EQI(r, SDU_PASS, "counted: within the count");
    else T_EQI(r, SDU_ANSWER, "counted: the third message is refused");
  }
  T_EQI(cn == 1 ? (long) cval[0] : -1, 2, "two messages counted");
  rc_session_reply(&s, SDU_V_MAIL, 250);
  r = rcpt(&s, "TO:<steve.5.count@example.org>");
  rc_session_reply(&s, SDU_V_RCPT, 550);
  rc_session_reply(&s, SDU_V_DOT, 250);
  T_EQI(cn, 1, "a recipient refused downstream is not counted");
  r = rcpt(&s, "TO:<steve.5.count@example.org>");
  rc_session_reply(&s, SDU_V_RCPT, 250);
  rc_session_reply(&s, SDU_V_DOT, 554);
  T_EQI(cn, 1, "a message refused at the end of data is not counted");
  /* a MAIL that downstream refuses leaves its transaction as it was: the
     recipients accepted before it are counted when that message is taken */
  rc_session_reply(&s, SDU_V_MAIL, 250);
  r = rcpt(&s, "TO:<steve.5.count@example.org>");
  rc_session_reply(&s, SDU_V_RCPT, 250);
  rc_session_reply(&s, SDU_V_MAIL, 555);
  rc_session_reply(&s, SDU_V_EHLO, 503);
  rc_session_reply(&s, SDU_V_DOT, 250);
  T_EQI(cn == 2 ? (long) cval[1] : -1, 1, "a refused MAIL (and a refused EHLO) keep the accepted recipients counted");
  rc_session_reply(&s, SDU_V_MAIL, 250);
  r = rcpt(&s, "TO:<steve.5.count@example.org>");
  rc_session_reply(&s, SDU_V_RCPT, 250);
  rc_session_reply(&s, SDU_V_RSET, 250);
  rc_session_reply(&s, SDU_V_DOT, 250);
  T_EQI(cn == 2 ? (long) cval[1] : -1, 1, "an accepted RSET ends the transaction");
  cfail = 1;
  T_EQI(rcpt(&s, "TO:<steve.5.count@example.org>"), SDU_PASS, "state store failure: fail open");
  s.failclosed = 1;
  T_EQI(rcpt(&s, "TO:<steve.5.count@example.org>"), SDU_ANSWER, "state store failure: fail closed");
  T_OK(!strncmp(s.reply.s, "451 ", 4), "with 451");
  cfail = 0;

  /* address literals: this host's are checked as its name, as qmail-smtpd rewrites them */
  {
    rc_ipme ipme;
    sdu_ip ip;
    char logname[160], *log;
    memset(&ipme, 0, sizeof ipme);
    T_EQI(rc_literal_ip("[192.000.002.001]", 17, &ip), 1, "literal with leading zeros");
    T_OK(!ip.v6 && ip.a[0] == 192 && ip.a[1] == 0 && ip.a[2] == 2 && ip.a[3] == 1, "read as decimal");
    T_EQI(rc_literal_ip("[ipv6:2001:db8::25]", 19, &ip), 1, "IPv6 literal");
    T_OK(ip.v6 && ip.a[0] == 0x20 && ip.a[15] == 0x25, "its address");
    T_EQI(rc_literal_ip("[ipv6:::ffff:192.0.2.1]", 23, &ip), 1, "v4-mapped literal");
    T_OK(!ip.v6 && ip.a[0] == 192 && ip.a[3] == 1, "is v4");
    T_EQI(rc_literal_ip("example.org", 11, &ip), 0, "a name is no literal");
    T_EQI(rc_literal_ip("[1.2.3]", 7, &ip), 0, "three parts");
    /* the interfaces of this machine: loopback is up wherever the tests run */
    sdu_ip_parse(&ip, "127.0.0.1");
    T_EQI(rc_ipme_is(&ipme, &ip), 1, "127.0.0.1 is one of this host's addresses (getifaddrs)");
    sdu_ip_parse(&ip, "192.0.2.254");
    T_EQI(rc_ipme_is(&ipme, &ip), 0, "192.0.2.254 is not");
    rc_ipme_free(&ipme);

    /* a fixed host for the session: TCPLOCALIP and two interfaces */
    memset(&ipme, 0, sizeof ipme);
    sdu_ip_parse(&ipme.local, "198.51.100.7"); ipme.havelocal = 1;
    ipme.ifs = calloc(2, sizeof *ipme.ifs);
    sdu_ip_parse(&ipme.ifs[0], "192.0.2.1");
    sdu_ip_parse(&ipme.ifs[1], "2001:db8::25");
    ipme.n = 2; ipme.loaded = 1;
    s.failclosed = 0; s.expire = 0; s.refused = 0;
    T_EQI(rcpt(&s, "TO:<nobody@[192.0.2.1]>"), SDU_PASS, "without ipme no literal is ours (as before)");
    s.ipme = &ipme;
    T_EQI(rcpt(&s, "TO:<nobody@[198.51.100.7]>"), SDU_ANSWER, "unknown user at the literal of TCPLOCALIP");
    T_EQS(s.reply.s, "550 5.1.1 sorry, no mailbox here by that name", "550 as at mx.example.net");
    T_EQI(rcpt(&s, "TO:<Steve@[198.51.100.7]>"), SDU_PASS, "a valid user at TCPLOCALIP's literal");
    T_EQI(rcpt(&s, "TO:<nobody@[192.0.2.1]>"), SDU_ANSWER, "unknown user at an interface's literal");
    T_EQI(rcpt(&s, "TO:<nobody@[192.000.002.001]>"), SDU_ANSWER, "with leading zeros, as qmail reads them");
    T_EQI(rcpt(&s, "TO:<nobody@[IPv6:2001:DB8::25]>"), SDU_ANSWER, "at an IPv6 literal of an interface");
    T_EQI(rcpt(&s, "TO:<nobody@[IPv6:::ffff:192.0.2.1]>"), SDU_ANSWER, "at a v4-mapped literal");
    T_EQI(rcpt(&s, "TO:<nobody@[0.0.0.0]>"), SDU_ANSWER, "at 0.0.0.0, this host");
    T_EQI(rcpt(&s, "TO:<steve@[192.0.2.1]>"), SDU_PASS, "a valid user at an interface's literal");
    T_EQI(rcpt(&s, "TO:<postmaster@[192.0.2.1]>"), SDU_PASS, "postmaster at a literal");
    T_EQI(rcpt(&s, "TO:<nobody@[203.0.113.9]>"), SDU_PASS, "another host's literal is passed on");
    T_EQI(rcpt(&s, "TO:<nobody@[IPv6:2001:db8::26]>"), SDU_PASS, "another host's IPv6 literal is passed on");
    T_EQI(s.refused, 6, "six refusals");
    s.refused = 0;

    /* a table that names no host: ours, but nothing to check it as */
    snprintf(logname, sizeof logname, "%s.log", file);
    s.logfd = open(logname, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc_table_close(&t);
    rc_build_start(&b, file, 0);
    rc_build_line(&b, "steve@mx.example.net", 20, &why);
    T_EQI(rc_build_finish(&b), 0, "a table without a name");
    rc_table_init(&t);
    rc_table_open(&t, file);
    T_EQI(rcpt(&s, "TO:<nobody@[192.0.2.1]>"), SDU_PASS, "no name in the table: passed on");
    close(s.logfd); s.logfd = -1;
    log = t_slurp(logname, 0);
    T_OK(log && strstr(log, "rcpt=nobody@[192.0.2.1] action=pass reason=literal"), "logged as reason=literal");
    free(log); unlink(logname);
    s.ipme = 0;
    rc_ipme_free(&ipme);
  }

  /* no table */
  rc_table_close(&t);
  s.failclosed = 0;
  T_EQI(rcpt(&s, "TO:<jim@example.org>"), SDU_PASS, "no table: fail open");
  s.failclosed = 1; s.refused = 0;
  T_EQI(rcpt(&s, "TO:<jim@example.org>"), SDU_ANSWER, "no table: fail closed");
  T_EQS(s.reply.s, "451 4.3.0 unable to check recipients, try again later", "with 451");
  T_EQI(s.refused, 0, "temporary failures do not count as refusals");

  rc_session_free(&s);
  rc_rules_free(&rules);
  rc_senders_free(&senders);
  unlink(file);
  T_DONE();
}
