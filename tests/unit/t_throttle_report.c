/* t_throttle_report.c: sdu-report's line parser, counting and output forms */
#include <stdlib.h>
#include <string.h>
#include "sdu_t.h"
#include "../../throttle/throttle_report.h"

#define T0 "@400000006553f10a00000000 " /* 1700000000 */
#define T1 "@400000006553ff1a00000000 " /* 1700003600 */

static const char *const lines[] = {
  "rblcheck: ip=192.0.2.7 lists=dul,orbs score=2 action=reject rule=12 ms=3",
  T1 "rblcheck: ip=192.0.2.7 lists=dul,orbs score=2 action=reject rule=12 ms=3",
  T1 "rblcheck: ip=192.0.2.7 lists=dul score=1 action=reject rule=12 ms=3",
  T1 "rblcheck: ip=198.51.100.1 lists=- score=0 action=pass ms=2",
  T1 "throttle: ip=198.51.100.1 lists=- action=proxy rcpts=3 throttled=2 msgs=1",
  T1 "rcptcheck: ip=198.51.100.1 from=a@example.org rcpt=x@example.net action=reject reason=nouser",
  T1 "rcptcheck: ip=198.51.100.1 from=a@example.org rcpt=y@example.net action=accept reason=table",
  T1 "rblcheck: ip=198.51.100.1 lists=- score=0 action=pass ms=2",
  T1 "throttle: ip=198.51.100.1 lists=- action=tempfail reason=rate conn=31",
  T1 "rblcheck: ip=2001:DB8::1 lists=spamhaus score=1 action=throttle ms=2",
  T1 "throttle: ip=2001:db8::1 lists=spamhaus action=proxy rcpts=1 throttled=4 msgs=0",
  T1 "rblcheck: ip=203.0.113.5 lists=- score=0 action=harvest would=reject ms=1",
  T1 "rblcheck: warning: list x answered 127.0.0.1, not a listing: ignored",
  T1 "tcpserver: status: 1/40",
  T0 "rblcheck: ip=192.0.2.99 lists=dul score=1 action=reject rule=3 ms=3",
  "not a log line at all",
  T1 "rblcheck: ip=unknown lists=- action=pass reason=noip",
  0
};

int main(void)
{
  tr_stats s;
  tr_line l;
  tr_host **w;
  stralloc out = {0};
  unsigned long long t;
  const char *v;
  size_t vl;
  long n;
  int i;

  T_OK(tr_tai64n("@400000006553f10a00000000", 25, &t) && t == 1700000000ULL, "tai64n stamp read");
  T_OK(!tr_tai64n("@40000000g553f10a00000000", 25, &t), "a bad stamp is not one");
  T_OK(tr_parse(&l, "throttle: ip=1.2.3.4 action=pass", 32) && !l.stamped && l.n == 2, "line without a stamp");
  T_OK(l.proglen == 8 && !memcmp(l.prog, "throttle", 8), "its program");
  v = tr_get(&l, "action", &vl);
  T_OK(v && vl == 4 && !memcmp(v, "pass", 4), "its action");
  T_OK(!tr_get(&l, "lists", 0), "a missing key");
  T_OK(!tr_parse(&l, "throttle: warning: x", 20), "a warning is not a decision");
  T_OK(tr_parse(&l, T1 "x: a=b", 32) && l.stamped && l.when == 1700003600ULL, "stamped line");

  tr_init(&s, 1700001000ULL);
  for (i = 0; lines[i]; ++i) tr_feed(&s, lines[i], strlen(lines[i]));
  T_EQI(s.old, 1, "one line before the period skipped");
  T_EQI(tr_total_conns(&s), 7, "connections: the most any link saw, per host");
  T_EQI(s.hlen, 4, "hosts (IPv6 address made canonical)");
  T_EQI(s.refused, 4, "connections refused");
  T_EQI(s.would, 1, "would have been refused");
  T_EQI(s.rcptrefused, 7, "recipients refused: rcptcheck's and throttle's counters");
  T_EQI(s.rcptaccepted, 1, "recipients accepted");
  T_EQI(s.msgs, 1, "messages passed");

  n = tr_worst(&s, 1, 10, &w);
  T_EQI(n, 3, "worst hosts: listed or refused ones only");
  T_OK(n == 3 && !strcmp(w[0]->ip, "192.0.2.7") && !strcmp(w[1]->ip, "198.51.100.1") && !strcmp(w[2]->ip, "2001:db8::1"),
    "ranked by connections");
  T_EQS(w[0]->lists, "dul,orbs", "the union of a host's lists");
  tr_format(&out, w, n, TR_NFT, "6h");
  T_EQB(out.s, out.len, "add element inet sdu blocked { 192.0.2.7 timeout 6h }\n"
    "add element inet sdu blocked { 198.51.100.1 timeout 6h }\n"
    "add element inet sdu blocked6 { 2001:db8::1 timeout 6h }\n", "nft commands");
  out.len = 0;
  tr_format(&out, w, 1, TR_TCPRULES, 0);
  T_EQB(out.s, out.len, "192.0.2.7:deny\n", "tcprules lines, cut to N");
  out.len = 0;
  tr_format(&out, w, n, TR_TABLE, 0);
  T_OK(out.len && strstr(out.s, "          3       3             0 192.0.2.7 "), "table row");
  free(w);
  n = tr_worst(&s, 3, 10, &w);
  T_EQI(n, 1, "minimum connections");
  free(w);

  out.len = 0;
  tr_summary(&out, &s, 1700003600ULL);
  if (!stralloc_0(&out)) return 111;
  T_OK(strstr(out.s, "connections: 7 from 4 hosts\n") != 0, "summary: connections");
  T_OK(strstr(out.s, "connections refused: 4 (57.1%)\n") != 0, "summary: refused with the share");
  T_OK(strstr(out.s, "    rblcheck                              3  75.0%\n") != 0, "summary: by link");
  T_OK(strstr(out.s, "    dul                                   3") != 0, "summary: by list");
  T_OK(strstr(out.s, "    rblcheck 12                           3") != 0, "summary: by rule");
  T_OK(strstr(out.s, "    throttle rate                         1") != 0, "summary: by reason");
  T_OK(strstr(out.s, "    throttle throttled                    6") != 0, "summary: recipients by link and reason");
  T_OK(strstr(out.s, "period: 2023-11-14 22:30:00 to 2023-11-14 23:13:20 UTC\n") != 0, "summary: period");
  T_OK(strstr(out.s, "spamgrab") == 0, "summary: no spamgrab part without its lines");
  tr_free(&s);

  /* clients whose first line was HTTP: the proxy's refusal counts as one,
     the responder's hangup of a client refused already adds no connection */
  {
    static const char *const ns[] = {
      "rblcheck: ip=192.0.2.20 lists=- score=0 action=pass ms=2",
      "throttle: ip=192.0.2.20 lists=- action=proxy",
      "rcptcheck: ip=192.0.2.20 action=reject reason=nonsmtp",
      "rblcheck: ip=192.0.2.21 lists=sbl score=1 action=reject rule=2 ms=2",
      "rblcheck: ip=192.0.2.21 action=hangup reason=nonsmtp",
      "rcptcheck: ip=192.0.2.22 action=harvest would=reject reason=nonsmtp",
      0
    };
    tr_init(&s, 0);
    for (i = 0; ns[i]; ++i) tr_feed(&s, ns[i], strlen(ns[i]));
    T_EQI(s.nonsmtp, 2, "nonsmtp: refused by the proxy, hung up on by the responder");
    T_EQI(tr_total_conns(&s), 3, "nonsmtp: no connection counted twice");
    T_EQI(s.refused, 2, "nonsmtp: no refusal counted twice");
    T_EQI(s.would, 1, "nonsmtp: harvest counts as would have been refused");
    out.len = 0;
    tr_summary(&out, &s, 1700003600ULL);
    if (!stralloc_0(&out)) return 111;
    T_OK(strstr(out.s, "non-SMTP clients (an HTTP request as first line): 2\n") != 0, "summary: non-SMTP clients");
    T_OK(strstr(out.s, "    rcptcheck nonsmtp                     1") != 0, "summary: nonsmtp by reason");
    tr_free(&s);
  }

  /* spamgrab's lines from qmail-send's log: the Received lines "by 0" (tcpserver -l0) counted */
  tr_init(&s, 1700000000ULL);
  {
    static const char d7[] = T1 "delivery 7: success: spamgrab:_kind=double_ip=-_action=pass_reason=no-trusted-received_by=0/did_1+0+1/";
    T_EQI(tr_feed(&s, d7, sizeof d7 - 1), 1, "qmail-send's log line of spamgrab: used");
  }
  {
    static const char *const more[] = {
      T1 "delivery 8: success: spamgrab:_kind=double_ip=-_action=pass_reason=no-trusted-received_by=0/did_1+0+1/",
      T1 "delivery 9: success: spamgrab:_action=pass_reason=not-local_check=queue/did_1+0+1/",
      T1 "spamgrab: kind=double ip=- action=pass reason=no-trusted-received by=mx_b.example.net",
      T1 "delivery 10: success: spamgrab:_kind=double_ip=192.0.2.7_lists=-_tag=none_known=0_decision=relay_sent=1_saved=2_action=report/",
      0 };
    for (i = 0; more[i]; ++i) tr_feed(&s, more[i], strlen(more[i]));
  }
  T_EQI(s.sglines, 5, "spamgrab: every line counted");
  T_EQI(tr_total_conns(&s), 0, "spamgrab: its ip= is no connection");
  out.len = 0;
  tr_summary(&out, &s, 1700003600ULL);
  if (!stralloc_0(&out)) return 111;
  T_OK(strstr(out.s, "spamgrab: 5 messages\n") != 0, "summary: spamgrab's messages");
  T_OK(strstr(out.s, "    no-trusted-received                   3") != 0, "summary: spamgrab by reason");
  T_OK(strstr(out.s, "WARNING: Received lines \"by\" a name") != 0, "summary: the warning about foreign names");
  T_OK(strstr(out.s, "    0                                     2  40.0%\n") != 0, "summary: by 0, twice");
  T_OK(strstr(out.s, "    mx_b.example.net                      1") != 0, "summary: a name with '_' kept whole");
  tr_free(&s);

  /* greylisting: one line per decision, no connection; the triplets that came back */
  {
    static const char *const grey[] = {
      "throttle: ip=192.0.2.7 lists=pbl action=tempfail grey=new triplet=00000000000000aa0000000000000000",
      "throttle: ip=192.0.2.7 lists=pbl action=tempfail grey=new triplet=00000000000000bb0000000000000000",
      "throttle: ip=192.0.2.8 lists=- action=tempfail grey=new triplet=00000000000000cc0000000000000000",
      "throttle: ip=192.0.2.7 lists=pbl action=tempfail grey=early triplet=00000000000000aa0000000000000000",
      "throttle: ip=192.0.2.7 lists=pbl action=pass grey=pass triplet=00000000000000aa0000000000000000",
      "throttle: ip=192.0.2.9 lists=pbl action=tempfail grey=late triplet=00000000000000dd0000000000000000",
      "throttle: ip=192.0.2.7 lists=pbl action=pass grey=known triplet=00000000000000aa0000000000000000",
      "throttle: ip=192.0.2.10 lists=- action=pass grey=auto triplet=00000000000000ee0000000000000000",
      "throttle: ip=192.0.2.11 lists=- action=harvest grey=new triplet=00000000000000ff0000000000000000",
      "throttle: ip=192.0.2.7 lists=pbl action=proxy rcpts=1 greylisted=3 greypassed=2 msgs=1",
      0 };
    tr_init(&s, 0);
    for (i = 0; grey[i]; ++i) tr_feed(&s, grey[i], strlen(grey[i]));
    T_EQI(tr_total_conns(&s), 1, "grey: decision lines are no connections");
    T_OK(s.greynew == 3 && s.greyearly == 1 && s.greypass == 1 && s.greylate == 1 && s.greyknown == 1
      && s.greyauto == 1 && s.greywould == 1, "grey: each decision counted");
    T_EQI(s.rcptrefused, 3, "grey: the connection line's greylisted= are recipients refused");
    T_EQI(s.refused, 0, "grey: a greylisted recipient refuses no connection");
    out.len = 0;
    tr_summary(&out, &s, 1700003600ULL);
    if (!stralloc_0(&out)) return 111;
    T_OK(strstr(out.s, "greylisting: 3 greylisted (1 early retries, 1 late), 1 passed after retry,\n") != 0,
      "grey summary: greylisted, retries, passed");
    T_OK(strstr(out.s, "  1 passed as known triplets, 1 whitelisted (automatic whitelist)\n") != 0,
      "grey summary: known and whitelisted");
    T_OK(strstr(out.s, "  greylisted triplets that never came back: 2 of 3 (66.7%)\n") != 0,
      "grey summary: 2 of the 3 greylisted triplets never came back (the late one was never new here)");
    T_OK(strstr(out.s, "  would have been greylisted (harvest): 1\n") != 0, "grey summary: harvest");
    T_OK(strstr(out.s, "    throttle greylisted ") != 0, "grey summary: recipients refused by throttle greylisted");
    tr_free(&s);
  }
  stralloc_free(&out);
  T_DONE();
}
