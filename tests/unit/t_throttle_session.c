/* t_throttle_session.c: throttle's store (rates, slots, blacklist, bounces) and its session logic */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include "sdu_t.h"
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "../../throttle/throttle_rules.h"
#include "../../throttle/throttle_store.h"
#include "../../throttle/throttle_session.h"

static unsigned long deadpid;
static int fakealive(unsigned long pid) { return pid != deadpid; }

#define MAIL(s, a, now) throttle_session_command((s), SDU_V_MAIL, "FROM:<" a ">", strlen("FROM:<" a ">"), (now))
#define RCPT(s, a, now) throttle_session_command((s), SDU_V_RCPT, "TO:<" a ">", strlen("TO:<" a ">"), (now))
#define CMD(s, v, now) throttle_session_command((s), (v), "", 0, (now))

static char dir[256];

static void cleanup(void)
{
  char f[300];
  snprintf(f, sizeof f, "%s/data.mdb", dir); unlink(f);
  snprintf(f, sizeof f, "%s/lock.mdb", dir); unlink(f);
  rmdir(dir);
}

int main(void)
{
  sdu_state st;
  throttle_rate r = { 3, 60 }, b = { 2, 600 };
  char k1[THROTTLE_CKEY_MAX], k2[THROTTLE_CKEY_MAX];
  size_t n1, n2;
  sdu_ip ip;
  unsigned long count, i;
  unsigned long long t0 = 1700000000ULL;
  throttle_session s;
  throttle_addrs white = { { 0, 0, 0 } };
  const char *t;
  int rc;

  sdu_iam("t_throttle_session");
  snprintf(dir, sizeof dir, "tests/tmp/t_throttle_session.%ld", (long) getpid());
  mkdir(dir, 0700);
  if (sdu_state_open(&st, dir, THROTTLE_TABLE, 0) == -1) {
    printf("not ok - state store opens: %s\n", sdu_state_error(&st));
    return 1;
  }
  sdu_ip_parse(&ip, "192.0.2.7"); n1 = throttle_clientkey(k1, &ip);
  sdu_ip_parse(&ip, "192.0.2.8"); n2 = throttle_clientkey(k2, &ip);

  /* connection rate */
  for (i = 1; i <= 3; ++i) {
    rc = throttle_rate_hit(&st, k1, n1, t0 + i, &r, &count);
    T_OK(rc == 0 && count == i, "rate: within the limit");
  }
  T_OK(throttle_rate_hit(&st, k1, n1, t0 + 10, &r, &count) == 1 && count == 4, "rate: the 4th in the window is over");
  T_OK(throttle_rate_hit(&st, k2, n2, t0 + 10, &r, &count) == 0 && count == 1, "rate: another client has its own count");
  T_OK(throttle_rate_hit(&st, k1, n1, t0 + 61, &r, &count) == 0 && count == 1, "rate: a new window starts after expiry");

  /* concurrency */
  for (i = 1; i <= 2; ++i) {
    rc = throttle_conc_enter(&st, k1, n1, 1000 + i, 2, t0, 3600, fakealive, &count);
    T_OK(rc == 0 && count == i, "conc: a slot is taken");
  }
  rc = throttle_conc_enter(&st, k1, n1, 1003, 2, t0, 3600, fakealive, &count);
  T_OK(rc == 1 && count == 3, "conc: over the limit, no slot");
  rc = throttle_conc_enter(&st, k2, n2, 2001, 2, t0, 3600, fakealive, &count);
  T_OK(rc == 0 && count == 1, "conc: another client has its own slots");
  deadpid = 1001;
  rc = throttle_conc_enter(&st, k1, n1, 1003, 2, t0, 3600, fakealive, &count);
  T_OK(rc == 0 && count == 2, "conc: a dead process's slot is free again");
  deadpid = 0;
  rc = throttle_conc_enter(&st, k1, n1, 1004, 2, t0 + 3600, 3600, fakealive, &count);
  T_OK(rc == 0 && count == 1, "conc: expired slots do not count");
  T_OK(throttle_alive((unsigned long) getpid()) && !throttle_alive(0), "throttle_alive: we are, pid 0 is not");

  /* both at once, as throttle does at the start of a connection */
  {
    throttle_rate r2 = { 2, 60 };
    unsigned long lim = 1, conn = 99, conc = 99;
    sdu_ip_parse(&ip, "192.0.2.9"); n2 = throttle_clientkey(k2, &ip);
    rc = throttle_conn_enter(&st, k2, n2, t0, &r2, 3001, &lim, 3600, fakealive, 0, &conn, &conc);
    T_OK(rc == 0 && conn == 1 && conc == 1, "enter: counted and a slot taken");
    rc = throttle_conn_enter(&st, k2, n2, t0 + 1, &r2, 3002, &lim, 3600, fakealive, 0, &conn, &conc);
    T_OK(rc == THROTTLE_OVER_CONC && conn == 2 && conc == 2, "enter: within the rate, over the slots");
    rc = throttle_conn_enter(&st, k2, n2, t0 + 2, &r2, 3003, &lim, 3600, fakealive, 0, &conn, &conc);
    T_OK(rc == THROTTLE_OVER_RATE && conn == 3 && conc == 0, "enter: over the rate, slots not looked at");
    rc = throttle_conn_enter(&st, k2, n2, t0 + 3, &r2, 3004, &lim, 3600, fakealive, 1, &conn, &conc);
    T_OK(rc == (THROTTLE_OVER_RATE | THROTTLE_OVER_CONC) && conn == 4 && conc == 2, "enter: always: both looked at");
    deadpid = 3001;
    rc = throttle_conn_enter(&st, k2, n2, t0 + 4, 0, 3005, &lim, 3600, fakealive, 0, &conn, &conc);
    T_OK(rc == 0 && conn == 0 && conc == 1, "enter: no rate given, only the slot (the dead one's freed)");
    deadpid = 0;
    rc = throttle_conn_enter(&st, k2, n2, t0 + 61, &r2, 3006, 0, 3600, fakealive, 0, &conn, &conc);
    T_OK(rc == 0 && conn == 1 && conc == 0, "enter: no limit given, only the rate (a new window)");
    rc = throttle_conc_enter(&st, k2, n2, 3007, 1, t0 + 62, 3600, fakealive, &count);
    T_OK(rc == 1 && count == 2, "enter: the slots are those of throttle_conc_enter");
    sdu_ip_parse(&ip, "192.0.2.8"); n2 = throttle_clientkey(k2, &ip);
  }

  /* blacklist */
  T_EQI(throttle_bl_check(&st, k1, n1, "a@example.org", 13, t0), 0, "bl: not yet");
  T_EQI(throttle_bl_add(&st, k1, n1, "a@example.org", 13, t0 + 100), 0, "bl: added");
  T_EQI(throttle_bl_check(&st, k1, n1, "a@example.org", 13, t0 + 99), 1, "bl: remembered");
  T_EQI(throttle_bl_check(&st, k2, n2, "a@example.org", 13, t0 + 99), 0, "bl: not for another client");
  T_EQI(throttle_bl_check(&st, k1, n1, "b@example.org", 13, t0 + 99), 0, "bl: not for another sender");
  T_EQI(throttle_bl_check(&st, k1, n1, "a@example.org", 13, t0 + 100), 0, "bl: gone at expiry");

  /* bounce limit: more than 2 in 600 s, hold 3600 s */
  T_EQI(throttle_bounce(&st, "v@example.net", 13, t0, &b, 3600), 0, "bounce 1 passes");
  T_EQI(throttle_bounce(&st, "v@example.net", 13, t0 + 1, &b, 3600), 0, "bounce 2 passes");
  T_EQI(throttle_bounce(&st, "v@example.net", 13, t0 + 2, &b, 3600), 1, "bounce 3 is refused");
  T_EQI(throttle_bounce(&st, "w@example.net", 13, t0 + 2, &b, 3600), 0, "another recipient's bounces pass");
  T_EQI(throttle_bounce(&st, "v@example.net", 13, t0 + 700, &b, 3600), 1, "held after the window too");
  T_EQI(throttle_bounce(&st, "v@example.net", 13, t0 + 3603, &b, 3600), 0, "passes again after the hold");

  /* the session: recipient throttle across RSET and transactions */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 2;
  T_OK(!MAIL(&s, "a@example.org", t0), "session: MAIL passes");
  T_OK(!RCPT(&s, "1@example.net", t0) && !RCPT(&s, "2@example.net", t0), "session: 2 recipients pass");
  t = RCPT(&s, "3@example.net", t0);
  T_OK(t && !strncmp(t, "451 ", 4), "session: the 3rd gets 451");
  T_OK(!CMD(&s, SDU_V_RSET, t0) && !MAIL(&s, "a@example.org", t0), "session: RSET, MAIL");
  t = RCPT(&s, "4@example.net", t0);
  T_OK(t && !strncmp(t, "451 ", 4), "session: RSET does not reset the count");
  T_OK(s.rcpts == 2 && s.throttled == 2, "session: counters");

  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 0;
  T_OK(RCPT(&s, "x@example.net", t0) == 0, "session: RCPT before MAIL goes on (downstream answers 503)");
  MAIL(&s, "a@example.org", t0);
  T_OK(RCPT(&s, "x@example.net", t0) != 0, "session: THROTTLE_RCPT=0 refuses every recipient");

  /* the session: sender blacklist end to end */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 10800;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  MAIL(&s, "Spam@Example.COM", t0);
  T_OK(!RCPT(&s, "x@example.net", t0), "bl session: first attempt passes");
  CMD(&s, SDU_V_DATA, t0);
  throttle_session_reply(&s, SDU_V_DATA, 354, t0);
  throttle_session_reply(&s, SDU_V_DOT, 554, t0);
  T_EQI(s.remembered, 1, "bl session: downstream's 5xx at the end of data is remembered");
  MAIL(&s, "spam@example.com", t0 + 60);
  t = RCPT(&s, "x@example.net", t0 + 60);
  T_OK(t && !strncmp(t, "550 ", 4), "bl session: the same pair is refused at RCPT");
  MAIL(&s, "other@example.com", t0 + 60);
  T_OK(!RCPT(&s, "x@example.net", t0 + 60), "bl session: another sender passes");
  MAIL(&s, "spam@example.com", t0 + 10800);
  T_OK(!RCPT(&s, "x@example.net", t0 + 10800), "bl session: the pair passes again after expiry");
  /* pipelined: the next transaction's DATA before the first message's reply */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 100;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  MAIL(&s, "first@example.com", t0); RCPT(&s, "x@example.net", t0); CMD(&s, SDU_V_DATA, t0);
  throttle_session_reply(&s, SDU_V_DATA, 354, t0);
  MAIL(&s, "second@example.com", t0); RCPT(&s, "x@example.net", t0); CMD(&s, SDU_V_DATA, t0);
  throttle_session_reply(&s, SDU_V_DOT, 250, t0);
  throttle_session_reply(&s, SDU_V_DATA, 354, t0);
  throttle_session_reply(&s, SDU_V_DOT, 550, t0);
  T_EQI(throttle_bl_check(&st, k2, n2, "first@example.com", 17, t0 + 1), 0, "bl pipelined: the accepted message's sender is not remembered");
  T_EQI(throttle_bl_check(&st, k2, n2, "second@example.com", 18, t0 + 1), 1, "bl pipelined: the refused one's is");
  T_EQI(s.msgs, 1, "bl pipelined: one message passed");
  MAIL(&s, "", t0); /* <> is never remembered */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 100;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  throttle_session_command(&s, SDU_V_MAIL, "FROM:<>", 7, t0);
  RCPT(&s, "x@example.net", t0); CMD(&s, SDU_V_DATA, t0);
  throttle_session_reply(&s, SDU_V_DATA, 354, t0);
  throttle_session_reply(&s, SDU_V_DOT, 550, t0);
  T_EQI(s.remembered, 0, "bl: a refused bounce is not remembered");
  /* harvest: nothing refused, counted */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.harvest = 1; s.rcptlimit = 1; s.rcptmax = 0;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  MAIL(&s, "second@example.com", t0 + 1);
  T_OK(!RCPT(&s, "x@example.net", t0 + 1), "harvest: nothing is refused");
  T_OK(s.blacklisted == 1 && s.throttled == 1, "harvest: what would have been is counted");

  /* the session: bounce-storm limit with a whitelisted recipient */
  throttle_addrs_add(&white, "postmaster@example.net", 22);
  throttle_session_init(&s);
  s.st = &st; s.bounces = 1; s.bouncerate = b; s.bouncehold = 600; s.rcptwhite = &white;
  for (i = 0; i < 3; ++i) {
    throttle_session_command(&s, SDU_V_MAIL, "FROM:<>", 7, t0 + 5000);
    t = RCPT(&s, "Joe@Example.NET", t0 + 5000);
    T_OK(i < 2 ? !t : t && !strncmp(t, "550 ", 4), i < 2 ? "bounce session: within the limit" : "bounce session: over the limit, 550");
    T_OK(!RCPT(&s, "postmaster@example.net", t0 + 5000), "bounce session: the whitelisted recipient always gets its bounces");
  }
  MAIL(&s, "someone@example.org", t0 + 5000);
  T_OK(!RCPT(&s, "joe@example.net", t0 + 5000), "bounce session: mail with a sender still passes");
  T_EQI(s.bounced, 1, "bounce session: one refused");

  /* a broken store: fail open */
  throttle_session_init(&s);
  sdu_state_close(&st);
  s.st = &st; s.blacklist = 1; s.bounces = 1; s.bouncerate = b;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  MAIL(&s, "second@example.com", t0 + 1);
  T_OK(!RCPT(&s, "x@example.net", t0 + 1) && s.storefailed && !s.st, "a failing store: warned once, passed on");

  throttle_addrs_free(&white);
  cleanup();
  T_DONE();
}
