/* t_throttle_session.c: throttle's store (rates, slots, blacklist, bounces) and its session
   logic, once on an LMDB directory and once on a redis-server of the test's own */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include "sdu_t.h"
#include "sdu_t_redis.h"
#include <lmdb.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "../../throttle/throttle_rules.h"
#include "../../throttle/throttle_store.h"
#include "../../throttle/throttle_session.h"

static unsigned long deadpid;
static int fakealive(unsigned long pid) { return pid != deadpid; }

/* a command, its action and refusal text in t_; with code, downstream's reply to it */
static const char *t_;
static int cmd(throttle_session *s, int verb, const char *arg, unsigned long long now)
{
  return throttle_session_command(s, verb, arg, strlen(arg), now, &t_);
}
static void rep(throttle_session *s, int verb, int code, unsigned long long now)
{
  char text[64];
  snprintf(text, sizeof text, "%d text\r\n", code);
  throttle_session_reply(s, verb, code, text, strlen(text), now);
}
static void reptext(throttle_session *s, int verb, const char *text, unsigned long long now)
{
  throttle_session_reply(s, verb, atoi(text), text, strlen(text), now);
}
#define MAIL(s, a, now) cmd((s), SDU_V_MAIL, "FROM:<" a ">", (now))
#define RCPT(s, a, now) cmd((s), SDU_V_RCPT, "TO:<" a ">", (now))
#define CMD(s, v, now) cmd((s), (v), "", (now))
/* a command that downstream answers at once */
static int one(throttle_session *s, int verb, const char *arg, int code, unsigned long long now)
{
  int r = cmd(s, verb, arg, now);
  if (r == SDU_PASS) rep(s, verb, code, now);
  return r;
}
#define REFUSED(r, code) ((r) == SDU_ANSWER && t_ && !strncmp(t_, code " ", 4))

/* greylisting: the decisions the session reports */
static char greyseen[256];
static void greylog(void *ctx, int d, int refused, const char *hex)
{
  size_t n = strlen(greyseen);
  (void) ctx;
  if (strlen(hex) != 2 * THROTTLE_GREY_HASH) return;
  snprintf(greyseen + n, sizeof greyseen - n, "%s%s%s", n ? " " : "", throttle_grey_name(d), refused ? "!" : "");
}
static void greysession(throttle_session *s, sdu_state *st, const char *ipstr)
{
  sdu_ip ip;
  throttle_grey g = { 300, 86400, 5, 35 * 86400UL };
  throttle_session_init(s);
  sdu_ip_parse(&ip, ipstr);
  s->cklen = throttle_clientkey(s->ckey, &ip);
  s->gnlen = throttle_grey_net(s->gnet, &ip);
  s->greylist = 1; s->grey = g; s->st = st;
  s->greylog = greylog;
  greyseen[0] = 0;
}
/* one transaction from ipstr at now: MAIL FROM:<from>, RCPT TO:<to>; the RCPT's action */
static int greytx(sdu_state *st, const char *ipstr, const char *from, const char *to, unsigned long long now)
{
  throttle_session s;
  char a[600];
  int r;
  greysession(&s, st, ipstr);
  snprintf(a, sizeof a, "FROM:<%s>", from);
  one(&s, SDU_V_MAIL, a, 250, now);
  snprintf(a, sizeof a, "TO:<%s>", to);
  r = cmd(&s, SDU_V_RCPT, a, now);
  if (r == SDU_PASS) rep(&s, SDU_V_RCPT, 250, now);
  return r;
}
#define GREYLISTED(r) (REFUSED(r, "451") && strstr(t_, "4.7.1"))

static char dir[256];

static void cleanup(void)
{
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) printf("# unable to remove %s\n", dir);
}

/* every case on the store named store */
static void run(const char *store)
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
  int rc;

  printf("# the store: %s\n", store);
  if (sdu_state_open(&st, store, THROTTLE_TABLE, 0) == -1) {
    printf("not ok - state store opens: %s\n", sdu_state_error(&st));
    sdu_t_failed = 1;
    return;
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
  T_OK(one(&s, SDU_V_MAIL, "FROM:<a@example.org>", 250, t0) == SDU_PASS, "session: MAIL passes");
  T_OK(one(&s, SDU_V_RCPT, "TO:<1@example.net>", 250, t0) == SDU_PASS
    && one(&s, SDU_V_RCPT, "TO:<2@example.net>", 250, t0) == SDU_PASS, "session: 2 recipients pass");
  T_OK(REFUSED(RCPT(&s, "3@example.net", t0), "451"), "session: the 3rd gets 451");
  T_OK(one(&s, SDU_V_RSET, "", 250, t0) == SDU_PASS && one(&s, SDU_V_MAIL, "FROM:<a@example.org>", 250, t0) == SDU_PASS, "session: RSET, MAIL");
  T_OK(REFUSED(RCPT(&s, "4@example.net", t0), "451"), "session: RSET does not reset the count");
  T_OK(s.rcpts == 2 && s.throttled == 2 && !s.pendlen, "session: counters");

  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 0;
  T_OK(RCPT(&s, "x@example.net", t0) == SDU_PASS, "session: RCPT before MAIL goes on (downstream answers 503)");
  rep(&s, SDU_V_RCPT, 503, t0);
  one(&s, SDU_V_MAIL, "FROM:<a@example.org>", 250, t0);
  T_OK(REFUSED(RCPT(&s, "x@example.net", t0), "451"), "session: THROTTLE_RCPT=0 refuses every recipient");

  /* a recipient refused downstream or by a later link takes no place */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 2;
  one(&s, SDU_V_MAIL, "FROM:<a@example.org>", 250, t0);
  T_OK(one(&s, SDU_V_RCPT, "TO:<nobody@example.net>", 550, t0) == SDU_PASS, "refused rcpt: passed on, refused downstream");
  T_OK(one(&s, SDU_V_RCPT, "TO:<1@example.net>", 250, t0) == SDU_PASS, "refused rcpt: the 1st valid one passes");
  T_OK(one(&s, SDU_V_RCPT, "TO:<nobody@example.net>", 550, t0) == SDU_PASS, "refused rcpt: another refused one");
  T_OK(one(&s, SDU_V_RCPT, "TO:<2@example.net>", 250, t0) == SDU_PASS, "refused rcpt: the 2nd valid one passes");
  T_OK(REFUSED(RCPT(&s, "3@example.net", t0), "451"), "refused rcpt: the 3rd valid one gets 451");
  T_OK(s.rcpts == 2 && s.throttled == 1, "refused rcpt: 2 accepted, 1 throttled");

  /* pipelined: accepted and in flight together never pass the limit; a
     RCPT that the replies in flight decide waits for them */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 2;
  T_OK(MAIL(&s, "a@example.org", t0) == SDU_PASS, "pipelined: MAIL");
  T_OK(RCPT(&s, "a@example.net", t0) == SDU_PASS && RCPT(&s, "b@example.net", t0) == SDU_PASS, "pipelined: 2 RCPTs in flight");
  T_OK(RCPT(&s, "c@example.net", t0) == SDU_WAIT, "pipelined: the 3rd waits");
  rep(&s, SDU_V_MAIL, 250, t0);
  rep(&s, SDU_V_RCPT, 250, t0);
  T_OK(RCPT(&s, "c@example.net", t0) == SDU_WAIT, "pipelined: 1 accepted, 1 in flight: it still waits");
  rep(&s, SDU_V_RCPT, 550, t0);
  T_OK(RCPT(&s, "c@example.net", t0) == SDU_PASS, "pipelined: the 2nd was refused: it passes");
  T_OK(RCPT(&s, "d@example.net", t0) == SDU_WAIT, "pipelined: the 4th waits");
  rep(&s, SDU_V_RCPT, 250, t0);
  T_OK(REFUSED(RCPT(&s, "d@example.net", t0), "451"), "pipelined: 2 accepted: the 4th gets 451");
  T_OK(s.rcpts == 2 && s.rcptfly == 0 && s.pendlen == 0, "pipelined: 2 accepted, nothing in flight");

  /* a pipelining client and a downstream that refuses some recipients, as
     the proxy runs them: a command that waits gets the replies in flight
     first, in order. However the refusals fall, exactly min(limit, valid)
     recipients are accepted, and never more than the limit at any time */
  {
    unsigned long seed = 12345, max, n, valid, j, errs = 0;
    int fly[THROTTLE_PENDMAX], nfly, ok, k;
    for (i = 0; i < 2000; ++i) {
      throttle_session_init(&s);
      s.rcptlimit = 1;
      seed = seed * 1103515245 + 12345; max = (seed >> 16) % 6;
      seed = seed * 1103515245 + 12345; n = (seed >> 16) % 12;
      s.rcptmax = max;
      valid = 0;
      nfly = 0;
      if (MAIL(&s, "a@example.org", t0) != SDU_PASS) ++errs;
      fly[nfly++] = 250;
      for (j = 0; j < n; ++j) {
        seed = seed * 1103515245 + 12345;
        ok = (seed >> 16) % 3 != 0;  /* downstream takes 2 in 3 */
        valid += ok;
        while ((rc = RCPT(&s, "x@example.net", t0)) == SDU_WAIT) {
          if (!nfly) { ++errs; break; }  /* never a wait with nothing in flight */
          for (k = 0; k < nfly; ++k) rep(&s, s.pend[s.pendhead].verb, fly[k], t0);
          nfly = 0;
          if (s.rcpts > max) ++errs;
        }
        if (rc == SDU_PASS) fly[nfly++] = ok ? 250 : 550;
      }
      for (k = 0; k < nfly; ++k) rep(&s, s.pend[s.pendhead].verb, fly[k], t0);
      if (s.rcpts != (valid < max ? valid : max) || s.rcptfly || s.pendlen) ++errs;
    }
    T_EQI(errs, 0, "pipelined, 2000 random sessions: never more than the limit accepted, never fewer than it allows");
  }

  /* a MAIL refused by a later link (553) leaves the transaction as it was */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 2;
  one(&s, SDU_V_MAIL, "FROM:<a@b.example>", 250, t0);
  T_OK(one(&s, SDU_V_MAIL, "FROM:<bad..addr@b.example>", 553, t0) == SDU_PASS, "refused MAIL: passed on, refused");
  for (i = 0; i < 4; ++i) {
    rc = one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
    T_OK(i < 2 ? rc == SDU_PASS : REFUSED(rc, "451"), i < 2 ? "refused MAIL: counted" : "refused MAIL: the count goes on");
  }
  /* a MAIL throttle cannot parse but downstream takes starts a transaction */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 1;
  T_OK(one(&s, SDU_V_MAIL, "FROM:a@b.example", 250, t0) == SDU_PASS, "loose MAIL: passed on");
  T_OK(s.tx.open && s.tx.senderlen == 11 && !strcmp(s.tx.sender, "a@b.example"), "loose MAIL: the sender as qmail takes it");
  T_OK(one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0) == SDU_PASS, "loose MAIL: 1st RCPT");
  T_OK(REFUSED(RCPT(&s, "y@example.net", t0), "451"), "loose MAIL: 2nd RCPT counted: 451");
  one(&s, SDU_V_MAIL, "FROM: Spam2@B.Example SIZE=10", 250, t0);
  T_OK(!strcmp(s.tx.sender, "spam2@b.example") && !s.tx.bounce, "loose MAIL: the word after the colon, lower case");
  one(&s, SDU_V_MAIL, "FROM:<@relay.example:\"x\\y\"@b.example", 250, t0);
  T_OK(!strcmp(s.tx.sender, "xy@b.example"), "loose MAIL: source route, quotes and backslashes dropped, no '>'");
  one(&s, SDU_V_MAIL, "FROM:", 250, t0);
  T_OK(s.tx.open && s.tx.bounce && !s.tx.senderlen, "loose MAIL: nothing is the null sender");
  one(&s, SDU_V_MAIL, "FROM:bad..addr@b.example", 501, t0);
  T_OK(s.tx.open && s.tx.bounce, "loose MAIL: refused: the transaction stays");
  one(&s, SDU_V_EHLO, "x", 250, t0);
  T_OK(!s.tx.open, "EHLO ends the transaction");

  /* the session: sender blacklist end to end */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 10800;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<Spam@Example.COM>", 250, t0);
  T_OK(one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0) == SDU_PASS, "bl session: first attempt passes");
  one(&s, SDU_V_DATA, "", 354, t0);
  rep(&s, SDU_V_DOT, 554, t0);
  T_EQI(s.remembered, 1, "bl session: downstream's 5xx at the end of data is remembered");
  one(&s, SDU_V_MAIL, "FROM:<spam@example.com>", 250, t0 + 60);
  T_OK(REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl session: the same pair is refused at RCPT");
  one(&s, SDU_V_MAIL, "FROM:<bad..addr@example.com>", 553, t0 + 60);
  T_OK(REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl session: a MAIL refused by a later link does not clear it");
  one(&s, SDU_V_MAIL, "FROM:<other@example.com>", 250, t0 + 60);
  T_OK(RCPT(&s, "x@example.net", t0 + 60) == SDU_PASS, "bl session: another sender passes");
  rep(&s, SDU_V_RCPT, 250, t0 + 60);
  one(&s, SDU_V_MAIL, "FROM:spam@example.com", 250, t0 + 60);
  T_OK(REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl session: the pair written without <> is refused too");
  one(&s, SDU_V_MAIL, "FROM:<spam@example.com>", 250, t0 + 10800);
  T_OK(RCPT(&s, "x@example.net", t0 + 10800) == SDU_PASS, "bl session: the pair passes again after expiry");
  rep(&s, SDU_V_RCPT, 250, t0 + 10800);
  {
    /* a sender that fits is keyed as before: 's', the client, the sender (stores of before still work) */
    char k[64];
    k[0] = 's'; memcpy(k + 1, k2, n2); memcpy(k + 1 + n2, "spam@example.com", 16);
    T_EQI(sdu_state_get(&st, k, 1 + n2 + 16, 0, t0 + 60, 0), 1, "bl session: the key of a short sender is as before");
  }
  /* two long senders (not RFC 5321's: taken loose) alike in their first
     SDU_ADDR_MAX bytes are two pairs: the one refused does not list the other */
  {
    char m1[400], m2[400], m1u[400], pad[300];
    memset(pad, 'x', 280); pad[280] = 0;
    snprintf(m1, sizeof m1, "FROM:<%s1@example.com>", pad);
    snprintf(m2, sizeof m2, "FROM:<%s2@example.com>", pad);
    snprintf(m1u, sizeof m1u, "FROM:<%s1@EXAMPLE.com>", pad);
    throttle_session_init(&s);
    s.st = &st; s.blacklist = 1; s.blhold = 10800;
    memcpy(s.ckey, k2, n2); s.cklen = n2;
    one(&s, SDU_V_MAIL, m1, 250, t0);
    one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
    one(&s, SDU_V_DATA, "", 354, t0);
    rep(&s, SDU_V_DOT, 554, t0);
    T_EQI(s.remembered, 1, "bl long sender: remembered");
    one(&s, SDU_V_MAIL, m2, 250, t0 + 60);
    T_OK(RCPT(&s, "x@example.net", t0 + 60) == SDU_PASS, "bl long sender: another with the same first 280 bytes passes");
    rep(&s, SDU_V_RCPT, 250, t0 + 60);
    one(&s, SDU_V_MAIL, m1u, 250, t0 + 60);
    T_OK(REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl long sender: the same one (in other case) is refused");
  }
  /* a hold of ULONG_MAX seconds (the duration parser takes it) is for ever, not expired at once */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = (unsigned long) -1;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<forever@example.com>", 250, t0);
  one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
  one(&s, SDU_V_DATA, "", 354, t0);
  rep(&s, SDU_V_DOT, 554, t0);
  one(&s, SDU_V_MAIL, "FROM:<forever@example.com>", 250, t0 + 60);
  T_OK(s.remembered == 1 && REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl session: a hold of ULONG_MAX seconds holds");
  /* pipelined: where a RCPT lands depends on MAILs in flight */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 10800;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  MAIL(&s, "spam@example.com", t0 + 60);
  MAIL(&s, "bad..addr@example.com", t0 + 60);
  T_OK(RCPT(&s, "x@example.net", t0 + 60) == SDU_WAIT, "bl pipelined: listed or not, depending on the replies: it waits");
  T_OK(MAIL(&s, "third@example.com", t0 + 60) == SDU_WAIT, "bl pipelined: a 3rd MAIL in flight waits");
  rep(&s, SDU_V_MAIL, 250, t0 + 60);
  rep(&s, SDU_V_MAIL, 553, t0 + 60);
  T_OK(REFUSED(RCPT(&s, "x@example.net", t0 + 60), "550"), "bl pipelined: the listed MAIL was taken, the other refused: 550");
  CMD(&s, SDU_V_RSET, t0 + 60);
  MAIL(&s, "other@example.com", t0 + 60);
  T_OK(RCPT(&s, "x@example.net", t0 + 60) == SDU_WAIT, "bl pipelined: RSET and another sender in flight: it waits");
  rep(&s, SDU_V_RSET, 250, t0 + 60);
  rep(&s, SDU_V_MAIL, 250, t0 + 60);
  T_OK(RCPT(&s, "x@example.net", t0 + 60) == SDU_PASS, "bl pipelined: the other sender's transaction: it passes");
  rep(&s, SDU_V_RCPT, 250, t0 + 60);
  T_OK(MAIL(&s, "other2@example.com", t0 + 60) == SDU_PASS && RCPT(&s, "x@example.net", t0 + 60) == SDU_PASS,
    "bl pipelined: two clean senders: no need to wait");
  /* pipelined: the next transaction before the first message's reply */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 100;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<first@example.com>", 250, t0);
  one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
  one(&s, SDU_V_DATA, "", 354, t0);
  MAIL(&s, "second@example.com", t0); RCPT(&s, "x@example.net", t0); CMD(&s, SDU_V_DATA, t0);
  rep(&s, SDU_V_DOT, 250, t0);
  rep(&s, SDU_V_MAIL, 250, t0);
  rep(&s, SDU_V_RCPT, 250, t0);
  rep(&s, SDU_V_DATA, 354, t0);
  rep(&s, SDU_V_DOT, 550, t0);
  T_EQI(throttle_bl_check(&st, k2, n2, "first@example.com", 17, t0 + 1), 0, "bl pipelined: the accepted message's sender is not remembered");
  T_EQI(throttle_bl_check(&st, k2, n2, "second@example.com", 18, t0 + 1), 1, "bl pipelined: the refused one's is");
  T_EQI(s.msgs, 1, "bl pipelined: one message passed");
  /* <> is never remembered */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.blhold = 100;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<>", 250, t0);
  one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
  one(&s, SDU_V_DATA, "", 354, t0);
  rep(&s, SDU_V_DOT, 550, t0);
  T_EQI(s.remembered, 0, "bl: a refused bounce is not remembered");
  /* only a refusal of the content: not 552, a size or storage code, a 4xx */
  {
    static const char *const keep[] = { "552 5.3.4 message too big", "552 message size exceeds maximum permitted",
      "451 4.3.0 try later", "421 4.3.0 closing", "554 5.3.4 message too big for system",
      "554 sorry, that message size exceeds my databytes limit (#5.3.4)", "550 5.2.2 mailbox full",
      "554-5.2.3 message too long\r\n554 5.2.3 really", "552-x\r\n552 y", "553 5.3.1 mail system full", 0 };
    static const char *const remember[] = { "554 5.7.1 content refused", "550 message refused",
      "554 mail server permanently rejected message (#5.3.0)", "554-5.7.1 spam\r\n554 5.3.4 too big",
      "550 5.33.4 not a size code", "554 (#5.3.4", 0 };
    char name[100];
    for (i = 0; keep[i]; ++i) {
      snprintf(name, sizeof name, "content: not remembered: %.*s", (int) strcspn(keep[i], "\r"), keep[i]);
      T_OK(!throttle_refuses_content(atoi(keep[i]), keep[i], strlen(keep[i])), name);
    }
    for (i = 0; remember[i]; ++i) {
      snprintf(name, sizeof name, "content: remembered: %.*s", (int) strcspn(remember[i], "\r"), remember[i]);
      T_OK(throttle_refuses_content(atoi(remember[i]), remember[i], strlen(remember[i])), name);
    }
    throttle_session_init(&s);
    s.st = &st; s.blacklist = 1; s.blhold = 100;
    memcpy(s.ckey, k2, n2); s.cklen = n2;
    for (i = 0; keep[i]; ++i) {
      one(&s, SDU_V_MAIL, "FROM:<big@example.com>", 250, t0);
      one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0);
      one(&s, SDU_V_DATA, "", 354, t0);
      reptext(&s, SDU_V_DOT, keep[i], t0);
    }
    T_OK(s.remembered == 0 && throttle_bl_check(&st, k2, n2, "big@example.com", 15, t0 + 1) == 0,
      "bl: 552, size and storage codes and 4xx at the end of data are not remembered");
  }
  /* harvest: nothing refused, counted */
  throttle_session_init(&s);
  s.st = &st; s.blacklist = 1; s.harvest = 1; s.rcptlimit = 1; s.rcptmax = 0;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<second@example.com>", 250, t0 + 1);
  T_OK(one(&s, SDU_V_RCPT, "TO:<x@example.net>", 250, t0 + 1) == SDU_PASS, "harvest: nothing is refused");
  T_OK(s.blacklisted == 1 && s.throttled == 1 && s.rcpts == 0, "harvest: what would have been is counted, not as accepted");

  /* the session: bounce-storm limit with a whitelisted recipient */
  throttle_addrs_add(&white, "postmaster@example.net", 22);
  throttle_session_init(&s);
  s.st = &st; s.bounces = 1; s.bouncerate = b; s.bouncehold = 600; s.rcptwhite = &white;
  for (i = 0; i < 3; ++i) {
    one(&s, SDU_V_MAIL, "FROM:<>", 250, t0 + 5000);
    rc = one(&s, SDU_V_RCPT, "TO:<Joe@Example.NET>", 250, t0 + 5000);
    T_OK(i < 2 ? rc == SDU_PASS : REFUSED(rc, "550"), i < 2 ? "bounce session: within the limit" : "bounce session: over the limit, 550");
    T_OK(one(&s, SDU_V_RCPT, "TO:<postmaster@example.net>", 250, t0 + 5000) == SDU_PASS, "bounce session: the whitelisted recipient always gets its bounces");
  }
  one(&s, SDU_V_MAIL, "FROM:<someone@example.org>", 250, t0 + 5000);
  T_OK(one(&s, SDU_V_RCPT, "TO:<joe@example.net>", 250, t0 + 5000) == SDU_PASS, "bounce session: mail with a sender still passes");
  T_EQI(s.bounced, 1, "bounce session: one refused");
  MAIL(&s, "", t0 + 5000);
  T_OK(RCPT(&s, "joe@example.net", t0 + 5000) == SDU_WAIT, "bounce session: a bounce or not, depending on MAIL's reply: it waits");
  rep(&s, SDU_V_MAIL, 501, t0 + 5000);
  T_OK(RCPT(&s, "joe@example.net", t0 + 5000) == SDU_PASS, "bounce session: MAIL:<> refused: not a bounce, it passes");
  rep(&s, SDU_V_RCPT, 250, t0 + 5000);

  /* the greeting and AUTH's lines are none of throttle's; a full queue waits */
  throttle_session_init(&s);
  s.rcptlimit = 1; s.rcptmax = 100;
  MAIL(&s, "a@example.org", t0);
  rep(&s, SDU_V_GREETING, 220, t0);
  rep(&s, SDU_V_AUTHLINE, 235, t0);
  T_OK(s.pendlen == 1 && s.maillen == 1 && !s.tx.open, "greeting and AUTH lines: the MAIL still waits for its reply");
  rep(&s, SDU_V_MAIL, 250, t0);
  for (i = 0; i < THROTTLE_PENDMAX; ++i) rc = CMD(&s, SDU_V_NOOP, t0);
  T_OK(rc == SDU_PASS && CMD(&s, SDU_V_NOOP, t0) == SDU_WAIT && RCPT(&s, "x@example.net", t0) == SDU_WAIT,
    "a full queue of commands in flight: the next waits");
  rep(&s, SDU_V_NOOP, 250, t0);
  T_OK(RCPT(&s, "x@example.net", t0) == SDU_PASS, "and goes on after a reply");

  /* greylisting, over simulated time */
  {
    unsigned long long g0 = t0 + 100000;
    throttle_grey g = { 300, 86400, 5, 35 * 86400UL };
    unsigned char h1[THROTTLE_GREY_HASH], h2[THROTTLE_GREY_HASH];
    char net1[THROTTLE_GREY_NET_MAX], net2[THROTTLE_GREY_NET_MAX], hex[33];
    size_t nl1, nl2;
    sdu_ip_parse(&ip, "198.51.100.7"); nl1 = throttle_grey_net(net1, &ip);
    sdu_ip_parse(&ip, "198.51.100.200"); nl2 = throttle_grey_net(net2, &ip);
    T_OK(nl1 == 4 && nl1 == nl2 && !memcmp(net1, net2, nl1), "grey: an IPv4 client's network is its /24");
    sdu_ip_parse(&ip, "198.51.101.7"); nl2 = throttle_grey_net(net2, &ip);
    T_OK(memcmp(net1, net2, nl1) != 0, "grey: the next /24 is another network");
    sdu_ip_parse(&ip, "2001:db8:1:2::5"); nl1 = throttle_grey_net(net1, &ip);
    sdu_ip_parse(&ip, "2001:db8:1:2:ffff::6"); nl2 = throttle_grey_net(net2, &ip);
    T_OK(nl1 == 9 && nl2 == 9 && !memcmp(net1, net2, 9), "grey: an IPv6 client's network is its /64");
    throttle_grey_triplet(h1, net1, nl1, "a@b.example", 11, "c@d.example", 11);
    throttle_grey_triplet(h2, net1, nl1, "a@b.exampl", 10, "ec@d.example", 12);
    T_OK(memcmp(h1, h2, sizeof h1) != 0, "grey: the parts of a triplet do not run into each other");
    throttle_grey_hex(hex, h1);
    T_OK(strlen(hex) == 32 && strspn(hex, "0123456789abcdef") == 32, "grey: the triplet's hex form");
    T_EQI(throttle_grey_check(&st, &g, h1, g0), THROTTLE_GREY_NEW, "grey store: first sight is new");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 299), THROTTLE_GREY_EARLY, "grey store: before the delay, early");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 300), THROTTLE_GREY_PASS, "grey store: after the delay, pass");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 400), THROTTLE_GREY_KNOWN, "grey store: then known");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 400 + 35 * 86400ULL), THROTTLE_GREY_NEW, "grey store: a passed triplet unused for D days is forgotten");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 400 + 35 * 86400ULL + 300), THROTTLE_GREY_PASS, "grey store: (passed again)");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 700 + 37 * 86400ULL), THROTTLE_GREY_KNOWN, "grey store: known two days later ...");
    T_EQI(throttle_grey_check(&st, &g, h1, g0 + 700 + 71 * 86400ULL), THROTTLE_GREY_KNOWN, "grey store: ... which moved its expiry on");
    T_EQI(throttle_grey_check(&st, &g, h2, g0), THROTTLE_GREY_NEW, "grey store: another triplet is new");
    T_EQI(throttle_grey_check(&st, &g, h2, g0 + 86400), THROTTLE_GREY_LATE, "grey store: a retry after the lifetime is late");
    T_EQI(throttle_grey_check(&st, &g, h2, g0 + 86400 + 299), THROTTLE_GREY_EARLY, "grey store: and starts again from there");
    T_EQI(throttle_grey_check(&st, &g, h2, g0 + 86400 + 300), THROTTLE_GREY_PASS, "grey store: and passes after the delay");
    {
      /* a lifetime and a D of ULONG_MAX seconds, which the duration parser
         takes: the entries live on, they do not wrap to expired at once */
      throttle_grey gb = { 300, (unsigned long) -1, 1, (unsigned long) -1 };
      unsigned char h3[THROTTLE_GREY_HASH];
      char net3[THROTTLE_GREY_NET_MAX];
      size_t nl3;
      sdu_ip_parse(&ip, "198.18.7.7"); nl3 = throttle_grey_net(net3, &ip);
      throttle_grey_triplet(h3, net3, nl3, "long@b.example", 14, "c@d.example", 11);
      T_EQI(throttle_grey_check(&st, &gb, h3, g0), THROTTLE_GREY_NEW, "grey store, times of ULONG_MAX s: new");
      T_EQI(throttle_grey_check(&st, &gb, h3, g0 + 300), THROTTLE_GREY_PASS, "grey store, times of ULONG_MAX s: the retry passes");
      T_EQI(throttle_grey_check(&st, &gb, h3, g0 + 400), THROTTLE_GREY_KNOWN, "grey store, times of ULONG_MAX s: then known");
      T_OK(throttle_grey_count(&st, &gb, net3, nl3, g0 + 400) == 0 && throttle_grey_auto(&st, &gb, net3, nl3, g0 + 500) == 1,
        "grey store, times of ULONG_MAX s: the network's count lives on");
    }

    {
      /* many triplets: the LMDB hash table grows by splitting its chunks
         (a chunk holds THROTTLE_GREY_CHUNK); every triplet is found after
         every split, pending and passed alike */
      static unsigned char hm[3000][THROTTLE_GREY_HASH];
      unsigned int k, bad = 0;
      unsigned long long gm = g0 + 200 * 86400ULL;
      for (k = 0; k < 3000; ++k) {
        char snd[40];
        int sl = snprintf(snd, sizeof snd, "many%u@b.example", k);
        throttle_grey_triplet(hm[k], net1, nl1, snd, (size_t) sl, "c@d.example", 11);
        bad += throttle_grey_check(&st, &g, hm[k], gm + k % 2) != THROTTLE_GREY_NEW;
        if (k % 2 && throttle_grey_check(&st, &g, hm[k - 1], gm + 300) != THROTTLE_GREY_PASS) ++bad;
      }
      T_EQI(bad, 0, "grey store, 3000 triplets: each new, every second one passed at once");
      for (k = 0; k < 3000; ++k)
        bad += throttle_grey_check(&st, &g, hm[k], gm + 300) != (k % 2 ? THROTTLE_GREY_EARLY : THROTTLE_GREY_KNOWN);
      T_EQI(bad, 0, "grey store, 3000 triplets: all found again, pending and passed");
      if (!sdu_state_shared(&st)) {
        unsigned int gdbi;
        MDB_txn *txn;
        MDB_stat ms;
        int orc = sdu_state_sub(&st, THROTTLE_GREY_TABLE, &gdbi) == 1
          && !mdb_txn_begin(st.env, 0, MDB_RDONLY, &txn);
        if (orc) { orc = !mdb_stat(txn, gdbi, &ms); mdb_txn_abort(txn); }
        T_OK(orc && ms.ms_entries > 3000 / THROTTLE_GREY_CHUNK && ms.ms_entries < 3000 * 4 / THROTTLE_GREY_CHUNK,
          "grey store, 3000 triplets: the hash table has grown to a chunk per 16 to 63 of them");
      }
    }
    if (!sdu_state_shared(&st)) {
      /* a full chunk: hashes whose first 4 bytes agree share a chunk at
         every size of the table; the one to expire first makes room */
      unsigned char hf[THROTTLE_GREY_CHUNK + 1][THROTTLE_GREY_HASH];
      unsigned int k, bad = 0;
      unsigned long long gf = g0 + 400 * 86400ULL;
      for (k = 0; k <= THROTTLE_GREY_CHUNK; ++k) {
        memset(hf[k], 0x5a, THROTTLE_GREY_HASH);
        hf[k][14] = (unsigned char) k;
        bad += throttle_grey_check(&st, &g, hf[k], gf + k) != THROTTLE_GREY_NEW;
      }
      T_EQI(bad, 0, "grey store, a chunk's worth and one: each new");
      for (k = 1; k <= THROTTLE_GREY_CHUNK; ++k) bad += throttle_grey_check(&st, &g, hf[k], gf + 200) != THROTTLE_GREY_EARLY;
      T_EQI(bad, 0, "grey store, a full chunk: the triplets after the first are all there");
      T_EQI(throttle_grey_check(&st, &g, hf[0], gf + 200), THROTTLE_GREY_NEW,
        "grey store, a full chunk: the first, which expires first, made room (new again)");
    }
    if (!sdu_state_shared(&st)) {
      /* a triplet in an entry of its own, as an LMDB store held it before
         2026-12 (and sdu-state-copy from Redis writes it): still read */
      unsigned char ho[THROTTLE_GREY_HASH];
      char ko[1 + THROTTLE_GREY_HASH], vo[9];
      unsigned long long go = g0 + 500 * 86400ULL;
      memset(ho, 0x33, sizeof ho);
      ko[0] = 'g'; memcpy(ko + 1, ho, sizeof ho);
      vo[0] = 'P'; sdu_state_pack64((unsigned char *) vo + 1, go - 1000);
      T_OK(sdu_state_put(&st, ko, sizeof ko, vo, sizeof vo, go + 35 * 86400ULL) == 0
        && throttle_grey_check(&st, &g, ho, go) == THROTTLE_GREY_KNOWN,
        "grey store: a passed triplet in an entry of its own is known");
      vo[0] = 'p'; sdu_state_pack64((unsigned char *) vo + 1, go - 100);
      T_OK(sdu_state_put(&st, ko, sizeof ko, vo, sizeof vo, go + 86400) == 0
        && throttle_grey_check(&st, &g, ho, go) == THROTTLE_GREY_EARLY
        && throttle_grey_check(&st, &g, ho, go + 200) == THROTTLE_GREY_PASS
        && throttle_grey_check(&st, &g, ho, go + 300) == THROTTLE_GREY_KNOWN,
        "grey store: a pending one: early, then passes, then known from the hash table");
    }

    /* sessions: first 451, too early 451, in the window 250, too late 451 */
    rc = greytx(&st, "203.0.113.5", "bot@spam.example", "joe@example.net", g0);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey: first sight: 451 4.7.1, logged new");
    rc = greytx(&st, "203.0.113.5", "bot@spam.example", "joe@example.net", g0 + 60);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "early!"), "grey: a retry too early: 451 again, logged early");
    rc = greytx(&st, "203.0.113.99", "bot@spam.example", "joe@example.net", g0 + 301);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey: a retry in the window from the same /24 passes, logged pass");
    rc = greytx(&st, "203.0.113.5", "bot@spam.example", "joe@example.net", g0 + 400);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "known"), "grey: then the triplet passes at once");
    rc = greytx(&st, "203.0.114.5", "bot@spam.example", "joe@example.net", g0 + 400);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey: the same pair from another /24 is a new triplet");
    rc = greytx(&st, "203.0.113.5", "other@spam.example", "joe@example.net", g0);
    rc = greytx(&st, "203.0.113.5", "other@spam.example", "joe@example.net", g0 + 86400 + 5);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "late!"), "grey: a retry after 24 hours: 451 again, logged late");
    rc = greytx(&st, "203.0.113.5", "other@spam.example", "joe@example.net", g0 + 86400 + 5 + 300);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey: and passes after the delay from the late retry");

    /* two long senders (taken loose) alike in their first SDU_ADDR_MAX
       bytes are two triplets: the one that waited does not pass the other */
    {
      char l1[400], l2[400];
      memset(l1, 'y', 280); memcpy(l1 + 280, "1@spam.example", 15);
      memcpy(l2, l1, 400); l2[280] = '2';
      rc = greytx(&st, "203.0.113.5", l1, "joe@example.net", g0);
      T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey long sender: first sight 451");
      rc = greytx(&st, "203.0.113.5", l2, "joe@example.net", g0 + 301);
      T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey long sender: another with the same first 280 bytes is new");
      rc = greytx(&st, "203.0.113.5", l1, "joe@example.net", g0 + 302);
      T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey long sender: the one that waited passes");
    }

    /* every recipient of a transaction is its own triplet */
    {
      throttle_session gs;
      greysession(&gs, &st, "192.0.2.50");
      one(&gs, SDU_V_MAIL, "FROM:<list@lists.example>", 250, g0);
      T_OK(GREYLISTED(RCPT(&gs, "a@example.net", g0)) && GREYLISTED(RCPT(&gs, "b@example.net", g0)),
        "grey: each recipient of the first transaction: 451");
      T_OK(RCPT(&gs, "postmaster@example.net", g0) == SDU_PASS && RCPT(&gs, "Abuse@Example.NET", g0) == SDU_PASS
        && RCPT(&gs, "postmaster", g0) == SDU_PASS, "grey: postmaster@ and abuse@ are never greylisted");
      T_OK(!strcmp(greyseen, "new! new!") && gs.greylisted == 2, "grey: the exempt recipients are not even looked up");
    }

    /* bounces are keyed without the sender */
    rc = greytx(&st, "192.0.2.60", "", "joe@example.net", g0);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey: a bounce is greylisted");
    rc = greytx(&st, "192.0.2.60", "", "joe@example.net", g0 + 300);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey: its retry passes");

    /* auto-whitelist: a network that passed N (5) times, counted at most once per delay */
    {
      char anet[THROTTLE_GREY_NET_MAX];
      size_t an;
      throttle_grey g2 = g;
      g2.awlcount = 2;
      sdu_ip_parse(&ip, "198.18.1.1"); an = throttle_grey_net(anet, &ip);
      T_OK(throttle_grey_count(&st, &g2, anet, an, g0) == 0 && throttle_grey_count(&st, &g2, anet, an, g0 + 10) == 0
        && throttle_grey_auto(&st, &g2, anet, an, g0 + 10) == 0, "grey: two passes within the delay count once");
      T_OK(throttle_grey_count(&st, &g2, anet, an, g0 + 300) == 0 && throttle_grey_auto(&st, &g2, anet, an, g0 + 300) == 1,
        "grey: a pass after the delay counts again");
    }
    for (i = 0; i < 5; ++i) {
      char from[64];
      snprintf(from, sizeof from, "user%lu@big.example", i);
      greytx(&st, "198.18.0.70", from, "joe@example.net", g0 + 400 * i);
      rc = greytx(&st, "198.18.0.71", from, "joe@example.net", g0 + 400 * i + 300);
      T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey: pass after retry, counted for the network");
    }
    rc = greytx(&st, "198.18.0.72", "new@elsewhere.example", "ann@example.net", g0 + 2300);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "auto"), "grey: after 5 passes the /24 is whitelisted: auto");
    rc = greytx(&st, "198.18.0.72", "new2@elsewhere.example", "ann@example.net", g0 + 2300 + 35 * 86400ULL - 1);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "auto"), "grey: still whitelisted just before D days after the last pass");
    rc = greytx(&st, "198.18.0.72", "new3@elsewhere.example", "ann@example.net", g0 + 2300 + 70 * 86400ULL - 2);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "auto"), "grey: each pass keeps the network on the whitelist");
    rc = greytx(&st, "198.18.0.72", "new4@elsewhere.example", "ann@example.net", g0 + 2300 + 105 * 86400ULL - 2);
    T_OK(GREYLISTED(rc) && !strcmp(greyseen, "new!"), "grey: the whitelist expires D days after the last pass");

    /* IPv6: the /64 */
    rc = greytx(&st, "2001:db8:5:6::1", "v6@example.org", "joe@example.net", g0);
    T_OK(GREYLISTED(rc), "grey: IPv6 first sight: 451");
    rc = greytx(&st, "2001:db8:5:6:abcd::99", "v6@example.org", "joe@example.net", g0 + 300);
    T_OK(rc == SDU_PASS && !strcmp(greyseen, "pass"), "grey: IPv6: the retry from the same /64 passes");
    rc = greytx(&st, "2001:db8:5:7::1", "v6@example.org", "joe@example.net", g0 + 300);
    T_OK(GREYLISTED(rc), "grey: IPv6: another /64 is another network");

    /* whitelisted senders; harvest; the sender must be known */
    {
      throttle_session gs;
      throttle_addrs ws = { { 0, 0, 0 } };
      T_OK(throttle_addrs_add(&ws, "@trusted.example", 16), "grey: a sender whitelist");
      greysession(&gs, &st, "192.0.2.80");
      gs.greysenders = &ws;
      one(&gs, SDU_V_MAIL, "FROM:<Someone@Trusted.Example>", 250, g0);
      T_OK(RCPT(&gs, "joe@example.net", g0) == SDU_PASS && !greyseen[0], "grey: a whitelisted sender is never greylisted");
      /* a loose sender longer than SDU_ADDR_MAX whose first SDU_ADDR_MAX
         bytes end in the whitelisted domain is of another domain */
      {
        char m[400], pad[300];
        memset(pad, 'z', SDU_ADDR_MAX - 16); pad[SDU_ADDR_MAX - 16] = 0;
        snprintf(m, sizeof m, "FROM:<%s@trusted.examplex.evil.example>", pad);
        greysession(&gs, &st, "192.0.2.85");
        gs.greysenders = &ws;
        one(&gs, SDU_V_MAIL, m, 250, g0);
        T_OK(GREYLISTED(RCPT(&gs, "joe@example.net", g0)),
          "grey: a long sender whose cut ends in a whitelisted domain is greylisted all the same");
      }
      throttle_addrs_free(&ws);

      greysession(&gs, &st, "192.0.2.81");
      gs.harvest = 1;
      one(&gs, SDU_V_MAIL, "FROM:<h@harvest.example>", 250, g0);
      T_OK(RCPT(&gs, "joe@example.net", g0) == SDU_PASS && !strcmp(greyseen, "new") && gs.greylisted == 1,
        "grey: harvest: counted and logged, passed on");

      greysession(&gs, &st, "192.0.2.82");
      one(&gs, SDU_V_MAIL, "FROM:<first@one.example>", 250, g0);
      T_OK(MAIL(&gs, "second@two.example", g0) == SDU_PASS, "grey: a second MAIL in flight");
      T_OK(RCPT(&gs, "joe@example.net", g0) == SDU_WAIT, "grey: the RCPT waits: which sender is not known yet");
      rep(&gs, SDU_V_MAIL, 250, g0);
      T_OK(GREYLISTED(RCPT(&gs, "joe@example.net", g0)), "grey: and is decided when the MAIL's reply is in");

      /* two long senders alike in their first SDU_ADDR_MAX bytes are two
         senders: the RCPT waits for the second MAIL's reply here too */
      {
        char m1[400], m2[400], pad[300];
        memset(pad, 'z', 280); pad[280] = 0;
        snprintf(m1, sizeof m1, "FROM:<%s1@one.example>", pad);
        snprintf(m2, sizeof m2, "FROM:<%s2@one.example>", pad);
        greysession(&gs, &st, "192.0.2.84");
        one(&gs, SDU_V_MAIL, m1, 250, g0);
        T_OK(cmd(&gs, SDU_V_MAIL, m2, g0) == SDU_PASS, "grey long senders: a second MAIL in flight");
        T_OK(RCPT(&gs, "joe@example.net", g0) == SDU_WAIT, "grey long senders: the RCPT waits: they are two senders");
      }

      greysession(&gs, &st, "192.0.2.83");
      gs.greylist = 0;
      one(&gs, SDU_V_MAIL, "FROM:<x@unmarked.example>", 250, g0);
      T_OK(RCPT(&gs, "joe@example.net", g0) == SDU_PASS && !greyseen[0], "grey: an unmarked client is not greylisted");
    }
  }

  /* a broken store: fail open */
  throttle_session_init(&s);
  sdu_state_close(&st);
  s.st = &st; s.blacklist = 1; s.bounces = 1; s.bouncerate = b;
  memcpy(s.ckey, k2, n2); s.cklen = n2;
  one(&s, SDU_V_MAIL, "FROM:<second@example.com>", 250, t0 + 1);
  T_OK(RCPT(&s, "x@example.net", t0 + 1) == SDU_PASS && s.storefailed && !s.st, "a failing store: warned once, passed on");
  throttle_session_init(&s);
  s.st = &st; s.greylist = 1; s.grey.delay = 300; s.grey.lifetime = 86400; s.grey.awlcount = 5; s.grey.awltime = 86400;
  sdu_ip_parse(&ip, "192.0.2.9"); s.gnlen = throttle_grey_net(s.gnet, &ip);
  one(&s, SDU_V_MAIL, "FROM:<third@example.com>", 250, t0 + 1);
  T_OK(RCPT(&s, "x@example.net", t0 + 1) == SDU_PASS && s.storefailed && !s.st && !s.greylisted,
    "greylisting with a failing store: passed on (fail open)");

  throttle_addrs_free(&white);
}

int main(void)
{
  char lmdb[300], local[300], sock[400], addr[800];
  pid_t server;
  sdu_iam("t_throttle_session");
  snprintf(dir, sizeof dir, "tests/tmp/t_throttle_session.%ld", (long) getpid());
  snprintf(lmdb, sizeof lmdb, "%s/lmdb", dir);
  snprintf(local, sizeof local, "%s/local", dir);
  if (mkdir(dir, 0700) == -1 || mkdir(lmdb, 0700) == -1 || mkdir(local, 0700) == -1) {
    printf("not ok - cannot make %s\n", dir);
    return 1;
  }
  run(lmdb);
  server = t_redis_start(dir, sock);
  if (!server) T_SKIP("throttle's store on Redis", "no redis-server");
  else if (server == -1) T_OK(0, "redis-server starts");
  else {
    /* the slots of THROTTLE_CONC are this host's: in local */
    snprintf(addr, sizeof addr, "unix:%s?local=%s&timeout=2s", sock, local);
    run(addr);
    t_redis_stop(server);
  }
  if (!sdu_t_failed) cleanup();
  T_DONE();
}
