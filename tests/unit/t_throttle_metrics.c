/* t_throttle_metrics.c: sdu-report's counters: what each line counts, labels
   bounded (never an address), the state kept from run to run, the text format */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_t.h"
#include "../../throttle/throttle_metrics.h"

#define T1 "@400000006553ff1a00000000 " /* 1700003600 */
#define T2 "@400000006553ff1b00000000 " /* 1700003601 */

static const char *const lines[] = {
  T1 "rblcheck: ip=192.0.2.7 lists=dul,orbs score=2 action=reject rule=12 ms=3",
  T2 "rblcheck: ip=198.51.100.1 lists=- score=0 action=pass ms=2",
  T1 "throttle: ip=198.51.100.1 lists=- action=proxy rcpts=3 throttled=2 greylisted=1 msgs=1",
  T1 "rcptcheck: ip=198.51.100.1 from=a@example.org rcpt=x@example.net action=reject reason=unknown",
  T1 "rcptcheck: ip=198.51.100.1 from=a@example.org rcpt=y@example.net action=accept reason=table",
  T1 "rcptcheck: ip=198.51.100.1 from=b@example.org action=reject reason=blacklist",
  T1 "throttle: ip=198.51.100.1 lists=- action=tempfail reason=rate conn=31",
  T1 "rblcheck: ip=203.0.113.5 lists=- score=0 action=harvest would=reject ms=1",
  T1 "throttle: ip=192.0.2.9 lists=pbl action=tempfail grey=new triplet=00000000000000aa0000000000000000",
  T1 "throttle: ip=192.0.2.9 lists=pbl action=pass grey=pass triplet=00000000000000aa0000000000000000",
  T1 "throttle: ip=192.0.2.11 lists=- action=harvest grey=new triplet=00000000000000ff0000000000000000",
  T1 "rblcheck: ip=192.0.2.66 lists=- score=0 action=reject rule=3 pregreet=1 bytes=18 ms=3",
  T1 "rblcheck: ip=192.0.2.67 action=reject reason=nonsmtp",
  T1 "rblcheck: ip=192.0.2.68 action=reject reason=192.0.2.68",
  T1 "rblcheck: ip=192.0.2.68 action=hangup reason=nonsmtp",
  T1 "newlink: ip=192.0.2.69 action=zap reason=made-up",
  T1 "delivery 10: success: spamgrab:_kind=double_ip=192.0.2.7_lists=-_tag=none_known=0_decision=relay_sent=1_saved=2_action=report/",
  T1 "spamgrab: kind=double ip=- action=pass reason=no-trusted-received by=0",
  T1 "rblcheck: warning: list x answered 127.0.0.1, not a listing: ignored",
  "tcpserver: status: 1/40",
  0
};

static int has(const stralloc *s, const char *line)
{
  char want[512];
  snprintf(want, sizeof want, "\n%s\n", line);
  return s->len && memmem(s->s, s->len, want, strlen(want)) != 0;
}

int main(void)
{
  static tm_metrics m, m2;
  stralloc out = {0}, st = {0}, out2 = {0};
  char name[64];
  unsigned int i;
  size_t a;

  tm_init(&m);
  for (i = 0; lines[i]; ++i) tm_feed(&m, lines[i], strlen(lines[i]));
  T_OK(tm_prom(&out, &m) && stralloc_0(&out) && out.len--, "text format written");
  T_OK(has(&out, "sdu_log_lines_total 20"), "every line read counted");
  T_OK(has(&out, "sdu_connections_total{link=\"rblcheck\",action=\"reject\"} 4"), "connections by link and action");
  T_OK(has(&out, "sdu_connections_total{link=\"rblcheck\",action=\"harvest\"} 1"), "harvest is an action");
  T_OK(has(&out, "sdu_connections_total{link=\"other\",action=\"other\"} 1"), "an unknown link and action: other");
  T_OK(has(&out, "sdu_connection_refusals_total{link=\"rblcheck\",reason=\"rule\"} 2"), "a policy rule's refusal");
  T_OK(has(&out, "sdu_connection_refusals_total{link=\"rblcheck\",reason=\"nonsmtp\"} 1"), "reason nonsmtp");
  T_OK(has(&out, "sdu_connection_refusals_total{link=\"rblcheck\",reason=\"other\"} 1"), "an odd reason: other");
  T_OK(has(&out, "sdu_nonsmtp_total{link=\"rblcheck\",action=\"reject\"} 1")
    && has(&out, "sdu_nonsmtp_total{link=\"rblcheck\",action=\"hangup\"} 1"), "non-SMTP clients");
  T_OK(!strstr(out.s, "sdu_connections_total{link=\"rblcheck\",action=\"hangup\"}")
    && has(&out, "sdu_connections_total{link=\"rblcheck\",action=\"reject\"} 4"),
    "the responder's hangup after a refusal is no connection more");
  T_OK(has(&out, "sdu_connection_refusals_total{link=\"throttle\",reason=\"rate\"} 1"), "throttle's rate");
  T_OK(has(&out, "sdu_list_refusals_total{list=\"dul\"} 1") && has(&out, "sdu_list_refusals_total{list=\"orbs\"} 1"),
    "refusals per list");
  T_OK(has(&out, "sdu_sender_refusals_total{link=\"rcptcheck\",reason=\"blacklist\"} 1"), "senders refused");
  T_OK(has(&out, "sdu_recipients_total{link=\"rcptcheck\",action=\"accept\"} 1"), "recipients by action");
  T_OK(has(&out, "sdu_recipient_refusals_total{link=\"rcptcheck\",reason=\"unknown\"} 1"), "recipients refused by reason");
  T_OK(has(&out, "sdu_recipient_refusals_total{link=\"throttle\",reason=\"throttled\"} 2")
    && has(&out, "sdu_recipient_refusals_total{link=\"throttle\",reason=\"greylisted\"} 1"),
    "the counters of a link in the middle");
  T_OK(has(&out, "sdu_messages_total{link=\"throttle\"} 1"), "messages");
  T_OK(has(&out, "sdu_greylist_decisions_total{decision=\"new\"} 1") && has(&out, "sdu_greylist_decisions_total{decision=\"pass\"} 1")
    && has(&out, "sdu_greylist_decisions_total{decision=\"harvest\"} 1"), "greylisting decisions");
  T_OK(has(&out, "sdu_pregreet_total{action=\"reject\"} 1") && has(&out, "sdu_pregreet_bytes_total 18"), "pregreet");
  T_OK(has(&out, "sdu_spamgrab_messages_total{kind=\"double\",action=\"report\"} 1")
    && has(&out, "sdu_spamgrab_messages_total{kind=\"double\",action=\"pass\"} 1"), "spamgrab's decisions");
  T_OK(has(&out, "sdu_spamgrab_reports_sent_total 1") && has(&out, "sdu_spamgrab_reports_saved_total 2"), "spamgrab's reports");
  T_OK(has(&out, "sdu_spamgrab_reasons_total{reason=\"no-trusted-received\"} 1")
    && has(&out, "sdu_spamgrab_foreign_received_total 1"), "spamgrab's reasons, the foreign Received lines");
  T_OK(has(&out, "sdu_log_last_line_timestamp_seconds 1700003601"), "the latest stamp");
  T_OK(has(&out, "# TYPE sdu_log_last_line_timestamp_seconds gauge") && has(&out, "# TYPE sdu_connections_total counter"),
    "types");
  T_OK(!memmem(out.s, out.len, "192.0.2", 7) && !memmem(out.s, out.len, "example", 7), "no address is a label");
  for (i = 0; tm_name(i); ++i)
    if (!strstr(tm_name(i), "_total") && !strstr(tm_name(i), "_seconds")) break;
  T_OK(i > 10 && !tm_name(i), "every name ends in _total or a unit");

  /* the state: saved, loaded into a new run, the same text; more lines add up */
  T_OK(tm_save(&st, &m), "state written");
  tm_init(&m2);
  for (a = 0; a < st.len;) {
    char *nl = memchr(st.s + a, '\n', st.len - a);
    if (!nl) break;
    if (!tm_load(&m2, st.s + a, (size_t) (nl - st.s - a))) break;
    a = (size_t) (nl - st.s) + 1;
  }
  T_EQI(a, st.len, "every state line read back");
  T_OK(tm_prom(&out2, &m2) && out2.len == out.len && !memcmp(out.s, out2.s, out.len), "the same counters after a reload");
  tm_feed(&m2, lines[0], strlen(lines[0]));
  out2.len = 0;
  T_OK(tm_prom(&out2, &m2) && has(&out2, "sdu_connections_total{link=\"rblcheck\",action=\"reject\"} 5")
    && has(&out2, "sdu_log_lines_total 21"), "counters go on from the state");
  T_OK(!tm_load(&m2, "c sdu_nosuch_total - - 1", 24), "an unknown metric in the state");
  T_OK(!tm_load(&m2, "c sdu_log_lines_total - - x1", 28), "a bad number in the state");
  T_OK(!tm_load(&m2, "c sdu_log_lines_total a - 1", 27), "a label where there is none");

  /* lists: the first ones by name, the rest "other" */
  tm_init(&m2);
  for (i = 0; i < 40; ++i) {
    char l[128];
    snprintf(l, sizeof l, "rblcheck: ip=192.0.2.1 lists=list%u action=reject", i);
    tm_feed(&m2, l, strlen(l));
  }
  out2.len = 0;
  tm_prom(&out2, &m2);
  snprintf(name, sizeof name, "sdu_list_refusals_total{list=\"list%u\"} 1", TM_LISTS - 1);
  T_OK(has(&out2, name), "the first lists by name");
  snprintf(name, sizeof name, "sdu_list_refusals_total{list=\"other\"} %u", 40 - TM_LISTS);
  T_OK(has(&out2, name), "the rest: other");
  T_OK(!memmem(out2.s, out2.len, "list39", 6), "no more names than the bound");
  stralloc_free(&out); stralloc_free(&out2); stralloc_free(&st);
  T_DONE();
}
