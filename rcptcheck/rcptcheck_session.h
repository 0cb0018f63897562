/* rcptcheck_session.h: rcptcheck's decisions on MAIL and RCPT for one connection, without sockets */
#ifndef RCPTCHECK_SESSION_H
#define RCPTCHECK_SESSION_H

#include <stddef.h>
#include <time.h>
#include <stralloc.h>
#include "sdu_addr.h"
#include "rcptcheck_table.h"
#include "rcptcheck_rules.h"
#include "rcptcheck_ipme.h"

/* counts of messages accepted for counted addresses (the state store) */
typedef struct rc_counter {
  void *ctx;
  /* 0 ok (*n set, 0 when unknown or expired), -1 failure */
  int (*get)(void *ctx, const char *key, size_t len, unsigned long *n);
  /* one more message; 0 ok, -1 failure */
  int (*add)(void *ctx, const char *key, size_t len);
} rc_counter;

#define RC_FIFO 512   /* recipients passed on and awaiting their reply */
#define RC_TXN_MAX 100 /* counted recipients of one message */

typedef struct rc_session {
  /* configuration, set by the caller */
  rc_table *table;       /* never 0; closed when missing */
  int failclosed;        /* 451 when the table cannot be read */
  const rc_rules *rules; /* local-part rules, or 0 */
  const rc_senders *senders; /* sender blacklist, or 0 */
  int abuse;             /* abuse@ accepted like postmaster@ */
  int expire;            /* dated and counted forms */
  const rc_counter *counter; /* 0: counted forms are not recognised */
  unsigned long maxrefused;  /* 0: no limit */
  int harvest;           /* SDU_HARVEST: refuse nothing, log and tag */
  const char *ip;
  rc_ipme *ipme;         /* this host's addresses; 0: no literal is ours */
  int logfd;             /* -1: no log */
  unsigned long long (*now)(void); /* the clock: sdu_now */
  /* state */
  unsigned long refused;
  char from[SDU_ADDR_MAX + 1]; size_t fromlen; int fromnull;
  stralloc reply;        /* the answer, 0-terminated, when not SDU_PASS */
  stralloc header;       /* harvest tags for the current message, 0-terminated */
  int headerchanged;
  char *fifo[RC_FIFO]; unsigned int fhead, flen;
  char *txn[RC_TXN_MAX]; unsigned int ntxn;
  stralloc val, tmp;
} rc_session;

void rc_session_init(rc_session *s, rc_table *t);
void rc_session_free(rc_session *s);
/* the hooks' work: SDU_PASS, SDU_ANSWER or SDU_CLOSE (reply in s->reply) */
int rc_session_mail(rc_session *s, const char *arg, size_t len);
int rc_session_rcpt(rc_session *s, const char *arg, size_t len);
/* RSET: a new transaction */
void rc_session_rset(rc_session *s);
/* downstream's reply to a command passed on (verb as in sdu_smtp.h) */
void rc_session_reply(rc_session *s, int verb, int code);

#endif
