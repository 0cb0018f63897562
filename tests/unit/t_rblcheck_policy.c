/* t_rblcheck_policy.c: rblcheck's policy parser and its decisions, without sockets */
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "sdu_t.h"
#include "sdu_msg.h"
#include "../../rblcheck/rblcheck_policy.h"

static const char issue[] =
  "# lists: name, zone, and optionally which answers count and a weight\n"
  "list orbs  relays.orbs.example\n"
  "list rss   relays.rss.example\n"
  "list rbl   rbl.example\n"
  "list dul   dialups.example\n"
  "list sbl   zen.example   =127.0.0.2-127.0.0.3   weight 3\n"
  "list pbl   zen.example   =127.0.0.10-127.0.0.11\n"
  "\n"
  "# rules: first match wins\n"
  "rule orbs & (rss | rbl)   reject   \"553 sorry, %ip is listed in %lists (%txt)\"\n"
  "rule dul | pbl            throttle 1\n"
  "rule rss                  tempfail 90%\n"
  "rule score >= 3           reject\n"
  "rule rdns ~ *.example.sa  reject   \"553 no mail from this network\"\n"
  "rule any                  tag\n";

enum { ORBS, RSS, RBL, DUL, SBL, PBL };

static int parse(rblcheck_policy *p, const char *text, stralloc *err)
{
  sdu_config c;
  int r;
  if (sdu_config_from_buf(&c, "policy", text, strlen(text)) == -1) return -1;
  err->len = 0;
  r = rblcheck_policy_parse(p, &c, err);
  sdu_config_free(&c);
  return r;
}

static void check_error(const char *text, const char *want)
{
  rblcheck_policy p;
  stralloc err = {0};
  int r = parse(&p, text, &err);
  char name[160];
  snprintf(name, sizeof name, "error: %s", want);
  T_EQI(r, 0, name);
  if (r == 0) T_EQS(err.s, want, "  its message");
  rblcheck_policy_free(&p);
  stralloc_free(&err);
}

static void all(rblcheck_ctx *x, int state)
{
  unsigned int i;
  for (i = 0; i < x->p->nlists; ++i) x->state[i] = (unsigned char) state;
}

int main(void)
{
  rblcheck_policy p;
  rblcheck_ctx x;
  rblcheck_verdict v;
  stralloc err = {0}, sa = {0};
  unsigned char b4[4];
  unsigned long ms;
  char dir[100], path[200], text[400];
  unsigned int i;

  /* --- the policy of the issue, as written ---------------------------- */
  T_EQI(parse(&p, issue, &err), 1, "the issue's policy parses");
  T_EQI(p.nlists, 6, "six lists");
  T_EQI(p.nzones, 5, "five zones: sbl and pbl share one query");
  T_EQI(p.list[SBL].zi, p.list[PBL].zi, "sbl and pbl on one zone");
  T_OK(p.list[ORBS].zi != p.list[RSS].zi, "orbs and rss on two zones");
  T_EQI(p.list[SBL].weight, 3, "weight 3");
  T_EQI(p.list[PBL].weight, 1, "weight 1 by default");
  T_EQI(p.list[SBL].nranges, 1, "sbl has one answer range");
  T_EQI(p.nrules, 6, "six rules");
  T_EQI(p.needtxt, 1, "%txt asks for TXT records");
  T_EQI(p.rule[1].action, RBLCHECK_A_THROTTLE, "throttle");
  T_EQI(p.rule[1].throttle, 1, "throttle 1");
  T_EQI(p.rule[2].percent, 90, "tempfail 90%");
  T_EQI(p.rule[0].line, 10, "rule 0 on line 10");

  /* --- answers -------------------------------------------------------- */
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_NXDOMAIN, "", 0, b4), RBLCHECK_NO, "NXDOMAIN: not listed");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\177\0\0\2", 4, b4), RBLCHECK_YES, "127.0.0.2: listed");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\177\1\2\3", 4, b4), RBLCHECK_YES, "any 127/8 answer without a filter");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\177\377\377\376", 4, b4), RBLCHECK_BAD, "127.255.255.254: an error, not a listing");
  T_OK(!memcmp(b4, "\177\377\377\376", 4), "the bad answer is kept for the warning");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\177\377\377\374", 4, b4), RBLCHECK_BAD, "127.255.255.252: an error");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\177\377\377\373", 4, b4), RBLCHECK_YES, "127.255.255.251: a listing");
  T_EQI(rblcheck_classify(&p.list[ORBS], SDU_DNS_OK, "\12\0\0\2", 4, b4), RBLCHECK_BAD, "10.0.0.2: outside 127/8, an error");
  T_EQI(rblcheck_classify(&p.list[SBL], SDU_DNS_OK, "\177\0\0\2\177\377\377\377", 8, b4), RBLCHECK_BAD, "an error code among listings: an error");
  T_EQI(rblcheck_classify(&p.list[SBL], SDU_DNS_OK, "\177\0\0\3", 4, b4), RBLCHECK_YES, "sbl: 127.0.0.3 in its range");
  T_EQI(rblcheck_classify(&p.list[SBL], SDU_DNS_OK, "\177\0\0\4", 4, b4), RBLCHECK_NO, "sbl: 127.0.0.4 is not sbl's");
  T_EQI(rblcheck_classify(&p.list[PBL], SDU_DNS_OK, "\177\0\0\4\177\0\0\13", 8, b4), RBLCHECK_YES, "pbl: 127.0.0.11 among others");
  T_EQI(rblcheck_classify(&p.list[PBL], SDU_DNS_TIMEOUT, "", 0, b4), RBLCHECK_FAIL, "timeout: failed");
  T_EQI(rblcheck_classify(&p.list[PBL], SDU_DNS_FAIL, "", 0, b4), RBLCHECK_FAIL, "server failure: failed");
  T_EQI(rblcheck_classify(&p.list[PBL], SDU_DNS_PENDING, "", 0, b4), RBLCHECK_PENDING, "no answer yet");

  /* --- absorb: one zen query answers two lists ------------------------- */
  {
    sdu_dnsq q[10];
    memset(q, 0, sizeof q);
    for (i = 0; i < 10; ++i) q[i].status = SDU_DNS_NXDOMAIN;
    q[p.list[SBL].zi].status = SDU_DNS_OK;
    stralloc_copyb(&q[p.list[SBL].zi].answer, "\177\0\0\2\177\0\0\12", 8);
    q[5 + p.list[SBL].zi].status = SDU_DNS_OK;
    stralloc_copyb(&q[5 + p.list[SBL].zi].answer, "first\0second\0", 13);
    q[p.list[RBL].zi].status = SDU_DNS_PENDING;
    rblcheck_ctx_init(&x, &p);
    rblcheck_absorb(&x, q, 1);
    T_EQI(x.state[SBL], RBLCHECK_YES, "absorb: sbl from the zen answer");
    T_EQI(x.state[PBL], RBLCHECK_YES, "absorb: pbl from the same answer");
    T_EQI(x.state[RBL], RBLCHECK_PENDING, "absorb: rbl still pending");
    T_EQI(x.state[ORBS], RBLCHECK_NO, "absorb: orbs not listed");
    T_EQB(x.txt[p.list[SBL].zi], x.txtlen[p.list[SBL].zi], "first", "absorb: the first TXT record");
    sdu_dnsq_free(q, 10);
  }

  /* --- decisions ------------------------------------------------------ */
  rblcheck_ctx_init(&x, &p);
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "nothing answered: no verdict");
  all(&x, RBLCHECK_NO);
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "on no list: a verdict");
  T_EQI(v.action, RBLCHECK_A_PASS, "on no list: pass (one exec)");
  T_OK(!v.header && !v.refuse && v.rule == -1, "pass: no header, no refusal, no rule");

  all(&x, RBLCHECK_PENDING);
  x.state[ORBS] = RBLCHECK_NO;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "orbs not listed, dul unknown: rule 2 undecided");

  all(&x, RBLCHECK_PENDING);
  x.state[ORBS] = RBLCHECK_YES;
  x.state[RSS] = RBLCHECK_YES;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "rule 1 matches but its %txt is not there yet");
  x.txtst[p.list[ORBS].zi] = SDU_DNS_OK;
  x.txt[p.list[ORBS].zi] = "orbs says \001no\001";
  x.txtlen[p.list[ORBS].zi] = 14;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "orbs & rss with orbs's TXT: decided without waiting for the rest");
  T_EQI(v.action, RBLCHECK_A_REJECT, "  reject");
  T_EQI(v.rule, 0, "  by rule 1");
  T_OK(v.refuse && !v.header, "  refused, no header");
  sa.len = 0;
  T_OK(rblcheck_text(&sa, &x, v.text, "192.0.2.7"), "text");
  T_EQB(sa.s, sa.len, "553 sorry, 192.0.2.7 is listed in orbs,rss (orbs says _no_)", "  %ip %lists %txt substituted, TXT made printable");

  all(&x, RBLCHECK_NO);
  x.state[DUL] = RBLCHECK_YES;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "dul");
  T_OK(v.action == RBLCHECK_A_THROTTLE && v.throttle == 1 && v.header && !v.refuse, "dul: throttle 1, tagged");

  all(&x, RBLCHECK_NO);
  x.state[PBL] = RBLCHECK_YES;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "pbl");
  T_EQI(v.action, RBLCHECK_A_THROTTLE, "pbl: throttle");

  all(&x, RBLCHECK_NO);
  x.state[RSS] = RBLCHECK_YES;
  x.roll = 89;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "rss");
  T_OK(v.action == RBLCHECK_A_TEMPFAIL && v.refuse, "rss, roll 89: tempfail");
  sa.len = 0;
  rblcheck_text(&sa, &x, v.text, "2001:db8::1");
  T_EQB(sa.s, sa.len, "451 4.7.1 2001:db8::1 is listed in rss, try again later", "  the default tempfail text");
  x.roll = 90;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "rss again");
  T_OK(v.action == RBLCHECK_A_LEAK && !v.refuse && v.header, "rss, roll 90: leaks through, tagged");

  all(&x, RBLCHECK_NO);
  x.state[SBL] = RBLCHECK_YES;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "sbl");
  T_OK(v.action == RBLCHECK_A_REJECT && v.rule == 3 && v.score == 3, "sbl: score >= 3 rejects");
  sa.len = 0;
  rblcheck_text(&sa, &x, v.text, "192.0.2.7");
  T_EQB(sa.s, sa.len, "553 5.7.1 192.0.2.7 is listed in sbl", "  the default reject text");

  all(&x, RBLCHECK_PENDING);
  x.state[SBL] = RBLCHECK_YES;
  x.state[ORBS] = RBLCHECK_NO;
  x.state[DUL] = RBLCHECK_NO;
  x.state[PBL] = RBLCHECK_NO;
  x.state[RSS] = RBLCHECK_NO;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "score >= 3 known before rbl answers");
  T_EQI(v.action, RBLCHECK_A_REJECT, "  reject");

  all(&x, RBLCHECK_NO);
  x.rdns = "Mail.Example.SA";
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "rdns");
  T_OK(v.action == RBLCHECK_A_REJECT && v.rule == 4, "rdns ~ *.example.sa rejects, case ignored");
  x.rdns = "example.sa.example.com";
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_PASS, "rdns elsewhere: pass");
  x.rdns = 0;

  all(&x, RBLCHECK_NO);
  x.state[RBL] = RBLCHECK_YES;
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_TAG && v.header && v.rule == 5, "rbl only: tag");
  sa.len = 0;
  T_OK(rblcheck_header(&sa, &x, &v, "192.0.2.7", (time_t) 1795000000, 0), "header");
  T_EQB(sa.s, sa.len, "X-RBLCheck: ip=192.0.2.7 lists=rbl score=1 action=tag date=2026-11-18T11:06:40Z\n", "  the header line");
  {
    /* signed: the MAC computed apart, with python3's hmac (key bytes 0..31) */
    sdu_tagkeys k;
    unsigned int b;
    memset(&k, 0, sizeof k);
    k.n = 1;
    for (b = 0; b < SDU_TAG_KEY_BYTES; ++b) k.key[0][b] = (unsigned char) b;
    sa.len = 0;
    T_OK(rblcheck_header(&sa, &x, &v, "192.0.2.7", (time_t) 1795000000, &k) == 1, "signed header");
    T_EQB(sa.s, sa.len, "X-RBLCheck: ip=192.0.2.7 lists=rbl score=1 action=tag date=2026-11-18T11:06:40Z"
      " mac=62ce601ef96762e23d8a12efb0a537b460d9329a3946edbf1a7865b079a93497\n", "  the signed line: one physical line, mac last");
    k.n = 0;
    sa.len = 0;
    rblcheck_header(&sa, &x, &v, "192.0.2.7", (time_t) 1795000000, &k);
    T_EQB(sa.s, sa.len, "X-RBLCheck: ip=192.0.2.7 lists=rbl score=1 action=tag date=2026-11-18T11:06:40Z\n", "  no key in the set: no mac");
  }

  /* failures: open by default, closed with -c */
  all(&x, RBLCHECK_NO);
  x.state[RBL] = RBLCHECK_FAIL;
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_PASS, "a failed list: not listed (-C)");
  x.failclosed = 1;
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_FAILCLOSED && v.refuse && v.text[0] == '4', "a failed list with -c: 451");
  x.state[RBL] = RBLCHECK_BAD;
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_FAILCLOSED, "a bad answer with -c: 451");
  x.state[SBL] = RBLCHECK_YES;
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_REJECT, "-c: a listing that rejects still rejects");
  x.failclosed = 0;
  all(&x, RBLCHECK_NO);
  x.state[RBL] = RBLCHECK_PENDING;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "one list pending: undecided");
  T_EQI(rblcheck_decide(&x, 1, &v), 1, "final: decided");
  T_EQI(v.action, RBLCHECK_A_PASS, "final: the pending list counts as not listed");
  x.failclosed = 1;
  rblcheck_decide(&x, 1, &v);
  T_EQI(v.action, RBLCHECK_A_FAILCLOSED, "final with -c: the pending list counts as failed");
  x.failclosed = 0;

  /* harvest: nothing refused */
  all(&x, RBLCHECK_NO);
  x.state[SBL] = RBLCHECK_YES;
  x.harvest = 1;
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_HARVEST && v.would == RBLCHECK_A_REJECT && !v.refuse && v.header, "harvest: tagged, would reject");
  sa.len = 0;
  rblcheck_header(&sa, &x, &v, "192.0.2.7", (time_t) 0, 0);
  T_EQB(sa.s, sa.len, "X-RBLCheck: ip=192.0.2.7 lists=sbl score=3 action=harvest would=reject date=1970-01-01T00:00:00Z\n", "  the harvest header");
  x.state[SBL] = RBLCHECK_NO;
  x.state[DUL] = RBLCHECK_YES;
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_THROTTLE && !v.would, "harvest: throttle stays throttle");
  x.harvest = 0;

  /* %txt: bounded to 200 printable bytes, first listed list in policy order */
  {
    char big[500];
    for (i = 0; i < sizeof big; ++i) big[i] = (char) (i % 7 == 0 ? '\033' : 'a' + i % 26);
    all(&x, RBLCHECK_NO);
    x.state[RSS] = RBLCHECK_YES;
    x.state[ORBS] = RBLCHECK_YES;
    x.txtst[p.list[ORBS].zi] = SDU_DNS_NXDOMAIN;
    x.txtst[p.list[RSS].zi] = SDU_DNS_OK;
    x.txt[p.list[RSS].zi] = big;
    x.txtlen[p.list[RSS].zi] = sizeof big;
    sa.len = 0;
    rblcheck_text(&sa, &x, "%txt", "192.0.2.7");
    T_EQI(sa.len, RBLCHECK_TXT_MAX, "%txt: 500 bytes cut to 200");
    for (i = 0; i < sa.len && sa.s[i] >= 32 && sa.s[i] < 127; ++i) {}
    T_EQI(i, sa.len, "%txt: every byte printable");
    T_EQI(sa.s[0], '_', "%txt: a control byte became _");
    T_EQI(sa.s[1], 'b', "%txt: from rss, orbs had none");
    sa.len = 0;
    rblcheck_text(&sa, &x, "100%% %bogus", "192.0.2.7");
    T_EQB(sa.s, sa.len, "100% %bogus", "%% and an unknown % kept");
  }
  rblcheck_policy_free(&p);

  /* --- more syntax ---------------------------------------------------- */
  T_EQI(parse(&p, "list a a.example\nlist b b.example\nrule !a&!(b|a) accept\nrule a tag\nrule (a) reject go-away\n", &err), 1, "compact conditions and a one-word text");
  T_EQS(p.texts.s, "553 go-away", "a text without a code gets 553");
  rblcheck_ctx_init(&x, &p);
  all(&x, RBLCHECK_NO);
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_ACCEPT && !v.header && !v.refuse, "accept: untouched");
  x.state[0] = RBLCHECK_YES;
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_TAG, "a: tag");
  rblcheck_policy_free(&p);

  /* greylist: passed on, tagged, for throttle to greylist */
  T_EQI(parse(&p, "list pbl pbl.example\nrule pbl greylist\n", &err), 1, "greylist action");
  T_EQI(p.rule[0].action, RBLCHECK_A_GREYLIST, "greylist: parsed");
  T_EQS(rblcheck_actionname(RBLCHECK_A_GREYLIST), "greylist", "greylist: its log name");
  rblcheck_ctx_init(&x, &p);
  x.state[0] = RBLCHECK_YES;
  rblcheck_decide(&x, 0, &v);
  T_OK(v.action == RBLCHECK_A_GREYLIST && v.header && !v.refuse, "pbl: greylist, tagged, passed on");
  rblcheck_policy_free(&p);
  T_EQI(parse(&p, "list pbl pbl.example\nrule pbl greylist 5\n", &err), 0, "greylist takes no argument");
  rblcheck_policy_free(&p);

  T_EQI(parse(&p, "list a a.example\nrule nordns tempfail 0% \"try later\"\nrule a reject\n", &err), 1, "nordns, tempfail 0%");
  T_EQS(p.texts.s, "451 try later", "a tempfail text without a code gets 451");
  T_EQI(p.needtxt, 0, "no %txt: no TXT queries");
  rblcheck_ctx_init(&x, &p);
  x.state[0] = RBLCHECK_YES;
  x.roll = 0;
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_LEAK, "tempfail 0% never refuses");
  x.rdns = "a.example";
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_REJECT, "with a name: nordns false, next rule");
  rblcheck_policy_free(&p);

  /* pregreet: a condition known once the client talked, or when the
     answers are final; greetwait: after the answers, for the silent only */
  T_EQI(parse(&p, "list pbl pbl.example\nrule pregreet & pbl tempfail 100%\nrule pbl greetwait 2.5\n"
    "rule pregreet reject \"554 5.7.1 too early\"\nrule any tag\n", &err), 1, "pregreet and greetwait parse");
  T_EQI(p.rule[1].action, RBLCHECK_A_GREETWAIT, "greetwait: an action");
  T_EQI(p.rule[1].wait, 2500, "greetwait 2.5: 2500 ms");
  T_OK(p.rule[0].pregreet && !p.rule[1].pregreet && p.rule[2].pregreet, "rules that name pregreet are marked");
  T_EQS(rblcheck_actionname(RBLCHECK_A_GREETWAIT), "greetwait", "greetwait: its log name");
  rblcheck_ctx_init(&x, &p);
  x.state[0] = RBLCHECK_NO;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "not watched: pregreet is false, decided at once");
  T_EQI(v.action, RBLCHECK_A_PASS, "  pass");
  x.watch = 1;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "watched and silent: pregreet not known while the answers come");
  T_EQI(rblcheck_decide(&x, 1, &v), 1, "final: silent is not pregreet");
  T_EQI(v.action, RBLCHECK_A_PASS, "  a clean silent client: pass, no wait");
  x.pregreet = 1;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "talked: known at once");
  T_OK(v.action == RBLCHECK_A_REJECT && v.refuse && v.rule == 2, "  rule 3 rejects");
  x.state[0] = RBLCHECK_PENDING;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "talked, pbl unknown: rule 1 undecided");
  x.state[0] = RBLCHECK_YES;
  x.roll = 50;
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "talked and on pbl");
  T_OK(v.action == RBLCHECK_A_TEMPFAIL && v.refuse && v.rule == 0, "  pregreet & pbl: tempfail");
  x.pregreet = 0;
  T_EQI(rblcheck_decide(&x, 0, &v), 0, "on pbl, silent: the wait comes after the answers");
  T_EQI(rblcheck_decide(&x, 1, &v), 1, "on pbl, silent, final");
  T_OK(v.action == RBLCHECK_A_GREETWAIT && v.greetwait == 2500 && !v.refuse && !v.header, "  greetwait 2.5 s");
  x.waited = 1;
  T_EQI(rblcheck_decide(&x, 1, &v), 1, "after the wait, still silent");
  T_OK(v.action == RBLCHECK_A_TAG && v.header, "  tagged");
  x.waited = 0;
  x.watch = 0;
  rblcheck_decide(&x, 1, &v);
  T_EQI(v.action, RBLCHECK_A_TAG, "not watched: no greetwait (nothing to see)");
  rblcheck_policy_free(&p);
  check_error("rule any greetwait\n", "policy line 1: greetwait needs seconds");
  check_error("rule any greetwait 61\n", "policy line 1: bad greetwait seconds (at most 60) 61");
  check_error("rule any greetwait 5 x\n", "policy line 1: unexpected x");
  check_error("list pregreet p.example\n", "policy line 1: list name is a keyword: pregreet");

  T_EQI(parse(&p, "list a a.example\nrule score>=2 reject\nrule a tag\nlist b b.example weight 2\n", &err), 1, "score>=2 in one word, lists after rules");
  rblcheck_policy_free(&p);
  T_EQI(parse(&p, "", &err), 1, "an empty policy");
  rblcheck_ctx_init(&x, &p);
  T_EQI(rblcheck_decide(&x, 0, &v), 1, "empty policy: decided at once");
  T_EQI(v.action, RBLCHECK_A_PASS, "empty policy: pass");
  rblcheck_policy_free(&p);

  /* globs from a file */
  snprintf(dir, sizeof dir, "tests/tmp/t_rblcheck_policy.%ld", (long) getpid());
  mkdir("tests", 0755);
  mkdir("tests/tmp", 0755);
  T_OK(mkdir(dir, 0755) == 0 || errno == EEXIST, "scratch dir");
  snprintf(path, sizeof path, "%s/tlds", dir);
  T_OK(T_WRITES(path, "# bad neighbourhoods\n*.sa *.RO\n\n*.example.invalid # one more\n") == 0, "glob file written");
  snprintf(text, sizeof text, "rule rdns ~ @%s reject\n", path);
  T_EQI(parse(&p, text, &err), 1, "rdns ~ @FILE");
  T_EQI(p.nglobs, 3, "three globs read");
  rblcheck_ctx_init(&x, &p);
  x.rdns = "x.y.ro";
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_REJECT, "x.y.ro matches *.RO from the file");
  x.rdns = "mail.example.invalid";
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_REJECT, "third glob of the file");
  x.rdns = "rom.example";
  rblcheck_decide(&x, 0, &v);
  T_EQI(v.action, RBLCHECK_A_PASS, "rom.example matches none");
  rblcheck_policy_free(&p);
  snprintf(path, sizeof path, "%s/badtlds", dir);
  T_OK(T_WRITES(path, "*.sa\n*.ro \"unterminated\n") == 0, "bad glob file written");
  snprintf(text, sizeof text, "rule rdns ~ @%s reject\n", path);
  {
    char want[300];
    snprintf(want, sizeof want, "%s line 2: unterminated quote", path);
    check_error(text, want);
  }
  snprintf(text, sizeof text, "rule rdns ~ @%s/none reject\n", dir);
  {
    char want[300];
    snprintf(want, sizeof want, "policy line 1: unable to read globs from %s/none", dir);
    check_error(text, want);
  }
  unlink(path);
  snprintf(path, sizeof path, "%s/tlds", dir);
  unlink(path);
  rmdir(dir);

  /* --- globs ---------------------------------------------------------- */
  T_OK(rblcheck_glob("*.example.sa", "a.b.example.sa"), "glob: * spans dots");
  T_OK(!rblcheck_glob("*.example.sa", "example.sa"), "glob: *. needs the dot");
  T_OK(rblcheck_glob("mail?.example", "MAIL1.example"), "glob: ? and case");
  T_OK(!rblcheck_glob("mail?.example", "mail.example"), "glob: ? is one byte");
  T_OK(rblcheck_glob("*", ""), "glob: * matches nothing");
  T_OK(rblcheck_glob("a*b*c", "axxbyybzc"), "glob: backtracking");
  T_OK(!rblcheck_glob("a*b*c", "axxbyybz"), "glob: backtracking fails");

  /* --- -t and $RBLCHECK ---------------------------------------------- */
  T_OK(rblcheck_seconds("10", &ms) && ms == 10000, "-t 10");
  T_OK(rblcheck_seconds("0.5", &ms) && ms == 500, "-t 0.5");
  T_OK(rblcheck_seconds(".25", &ms) && ms == 250, "-t .25");
  T_OK(rblcheck_seconds("2.125", &ms) && ms == 2125, "-t 2.125");
  T_OK(!rblcheck_seconds("2.1255", &ms), "-t: at most milliseconds");
  T_OK(!rblcheck_seconds("0", &ms), "-t 0 refused");
  T_OK(!rblcheck_seconds("5s", &ms), "-t 5s refused");
  T_OK(!rblcheck_seconds("", &ms), "-t '' refused");
  T_OK(!rblcheck_seconds(".", &ms), "-t . refused");
  T_OK(!rblcheck_seconds("3601", &ms), "-t: at most an hour");
  T_EQI(rblcheck_envrule(0, &sa), 0, "RBLCHECK unset: look up");
  T_EQI(rblcheck_envrule("", &sa), 1, "RBLCHECK empty: pass");
  T_EQI(rblcheck_envrule("-go away", &sa), 2, "RBLCHECK -text: permanent");
  T_EQS(sa.s, "553 go away", "  553 and the text");
  T_EQI(rblcheck_envrule("slow down", &sa), 3, "RBLCHECK text: temporary");
  T_EQS(sa.s, "451 slow down", "  451 and the text");
  T_EQI(rblcheck_envrule("554 go", &sa), 3, "RBLCHECK with a 5xx code but no '-': temporary");
  T_EQS(sa.s, "451 554 go", "  still 451");
  T_EQI(rblcheck_envrule("-554 5.7.1 go", &sa), 2, "RBLCHECK -554: permanent");
  T_EQS(sa.s, "554 5.7.1 go", "  its own 5xx code kept");

  /* --- every mistake, with its line ------------------------------------ */
  check_error("list orbs relays.orbs.example\nrule orbs & (rss | rbl) reject\n", "policy line 2: unknown list rss");
  check_error("list a a.example\n\n\n\n\n\nrule orbz tag\n", "policy line 7: unknown list orbz");
  check_error("lists a a.example\n", "policy line 1: unknown keyword lists");
  check_error("\"list\" a a.example\n", "policy line 1: unknown keyword list");
  check_error("list a\n", "policy line 1: list needs a name and a zone");
  check_error("list 1a a.example\n", "policy line 1: bad list name 1a");
  check_error("list a.b a.example\n", "policy line 1: bad list name a.b");
  check_error("list abcdefghijabcdefghijabcde a.example\n", "policy line 1: bad list name abcdefghijabcdefghijabcde");
  check_error("list tag a.example\n", "policy line 1: list name is a keyword: tag");
  check_error("list any a.example\n", "policy line 1: list name is a keyword: any");
  check_error("list a a.example\nlist a b.example\n", "policy line 2: list defined twice: a");
  check_error("list a a..example\n", "policy line 1: bad zone a..example");
  check_error("list a a/example\n", "policy line 1: bad zone a/example");
  check_error("list a .\n", "policy line 1: bad zone .");
  check_error("list a a.example =127.0.0.2-\n", "policy line 1: bad answer filter =127.0.0.2-");
  check_error("list a a.example =127.0.0.3-127.0.0.2\n", "policy line 1: bad answer filter =127.0.0.3-127.0.0.2");
  check_error("list a a.example =10.0.0.2\n", "policy line 1: answer filter outside 127.0.0.0/8: =10.0.0.2");
  check_error("list a a.example =127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9\n",
    "policy line 1: too many answer ranges: =127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9");
  check_error("list a a.example weight\n", "policy line 1: weight needs a number");
  check_error("list a a.example weight x\n", "policy line 1: bad weight x");
  check_error("list a a.example weight 1001\n", "policy line 1: bad weight 1001");
  check_error("list a a.example ttl 5\n", "policy line 1: unknown list option ttl");
  check_error("list a a.example\nrule tag\n", "policy line 2: rule without a condition");
  check_error("list a a.example\nrule a\n", "policy line 2: rule without an action");
  check_error("list a a.example\nrule a \"tag\"\n", "policy line 2: rule without an action");
  check_error("list a a.example\nrule a & tag\n", "policy line 2: condition ends too early");
  check_error("list a a.example\nrule (a b) tag\n", "policy line 2: expected ) before b");
  check_error("list a a.example\nrule !(a | b) tag\n", "policy line 2: unknown list b");
  check_error("list a a.example\nrule (a tag\n", "policy line 2: expected ) before the action");
  check_error("list a a.example\nrule a) tag\n", "policy line 2: unexpected )");
  check_error("list a a.example\nrule a a tag\n", "policy line 2: unexpected a");
  check_error("list a a.example\nrule | a tag\n", "policy line 2: unexpected |");
  check_error("list a a.example\nrule score > 2 tag\n", "policy line 2: expected >= in >");
  check_error("list a a.example\nrule score 2 tag\n", "policy line 2: score needs >= and a number");
  check_error("list a a.example\nrule score >= x tag\n", "policy line 2: bad score x");
  check_error("list a a.example\nrule rdns *.sa tag\n", "policy line 2: rdns needs ~ and a glob");
  check_error("list a a.example\nrule rdns ~ tag\n", "policy line 2: rdns needs ~ and a glob");
  check_error("rule ((((((((((((((((((((((((((((((((((any)))))))))))))))))))))))))))))))))) tag\n", "policy line 1: condition nested too deeply");
  check_error("list a a.example\nrule a reject \"450 no\"\n", "policy line 2: reject needs a 5xx code: 450 no");
  check_error("list a a.example\nrule a tempfail \"550 no\"\n", "policy line 2: tempfail needs a 4xx code: 550 no");
  check_error("list a a.example\nrule a reject no mail here\n", "policy line 2: put the text in quotes: no");
  check_error("list a a.example\nrule a reject \"%host is bad\"\n", "policy line 2: unknown % escape in text: %host is bad");
  check_error("list a a.example\nrule a tempfail 101%\n", "policy line 2: bad percentage 101%");
  check_error("list a a.example\nrule a tempfail x%\n", "policy line 2: bad percentage x%");
  check_error("list a a.example\nrule a throttle\n", "policy line 2: throttle needs a number");
  check_error("list a a.example\nrule a throttle -1\n", "policy line 2: bad throttle number -1");
  check_error("list a a.example\nrule a throttle 3 more\n", "policy line 2: unexpected more");
  check_error("list a a.example\nrule a tag now\n", "policy line 2: unexpected now");
  check_error("list a a.example\nrule a accept \"x\"\n", "policy line 2: unexpected x");
  check_error("list a a.example\nrule a reject \"unterminated\n", "policy line 2: unterminated quote");
  {
    char big[600];
    memset(big, 'x', sizeof big);
    memcpy(big, "list a a.example\nrule a reject \"", 32);
    strcpy(big + 32 + 401, "\"\n");
    {
      rblcheck_policy pp;
      int r = parse(&pp, big, &err);
      T_EQI(r, 0, "error: a text over 400 bytes");
      T_OK(r == 0 && !strncmp(err.s, "policy line 2: text too long: xxxxxxxx", 38), "  its message");
      rblcheck_policy_free(&pp);
    }
  }
  sa.len = 0;
  for (i = 0; i <= RBLCHECK_LISTS_MAX; ++i) {
    char line[64];
    snprintf(line, sizeof line, "list l%u l%u.example\n", i, i);
    stralloc_cats(&sa, line);
  }
  stralloc_0(&sa);
  check_error(sa.s, "policy line 33: too many lists: l32");
  sa.len = 0;
  for (i = 0; i <= RBLCHECK_RULES_MAX; ++i) stralloc_cats(&sa, "rule any tag\n");
  stralloc_0(&sa);
  check_error(sa.s, "policy line 129: too many rules");

  stralloc_free(&sa);
  stralloc_free(&err);
  T_DONE();
}
