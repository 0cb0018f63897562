/* throttle_store.h: throttle's counters, slots and lists in the LMDB state store */
#ifndef THROTTLE_STORE_H
#define THROTTLE_STORE_H

#include <stddef.h>
#include "sdu_state.h"
#include "throttle_rules.h"

/* All of throttle lives in one table of the state directory; the first key
   byte says what an entry is: 'r' a connection-rate counter, 'c' a
   concurrency slot, 's' a remembered (client, sender) pair, 'b' a bounce
   counter, 'h' a bounce hold. Every function returns -1 on a store error
   (the reason in sdu_state_error), for the caller to fail open. */
#define THROTTLE_TABLE "throttle"

/* count this connection of client ckey: 1 over r's limit, 0 within; *count
   is the number in the window including this one */
int throttle_rate_hit(sdu_state *st, const char *ckey, size_t cklen,
  unsigned long long now, const throttle_rate *r, unsigned long *count);

/* Take a concurrency slot for pid: in one write transaction, count the
   client's slots whose process is alive (alive(pid) != 0) and not expired,
   delete the others, and add ours (expiring at now + ttl) unless limit are
   taken already. 1 over the limit (no slot taken), 0 slot taken; *count is
   the number of live slots including ours. A slot is freed when its process
   is gone: a process keeps its pid across exec, so the slot lasts as long
   as the connection, with nobody having to remove it. */
int throttle_conc_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long pid,
  unsigned long limit, unsigned long long now, unsigned long ttl,
  int (*alive)(unsigned long pid), unsigned long *count);
/* Both checks at the start of a connection in one write transaction (one
   lock, one commit): count it against rate (unless rate is 0) and, unless
   limit is 0, take a slot as throttle_conc_enter does with *limit; when over the rate
   the slot is looked at only if always. The bits THROTTLE_OVER_RATE and
   THROTTLE_OVER_CONC of the result say which limit is passed; *conn and
   *conc are the counts (0 for a check not made). */
#define THROTTLE_OVER_RATE 1
#define THROTTLE_OVER_CONC 2
int throttle_conn_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long long now,
  const throttle_rate *rate, unsigned long pid, const unsigned long *limit, unsigned long ttl,
  int (*alive)(unsigned long pid), int always, unsigned long *conn, unsigned long *conc);
/* kill(pid, 0) finds it (or it belongs to another user) */
int throttle_alive(unsigned long pid);

/* the (client, sender) pair: 1 remembered, 0 not */
int throttle_bl_check(sdu_state *st, const char *ckey, size_t cklen,
  const char *sender, size_t slen, unsigned long long now);
int throttle_bl_add(sdu_state *st, const char *ckey, size_t cklen,
  const char *sender, size_t slen, unsigned long long expires);

/* a bounce to rcpt (lower case): 1 refuse it (held, or the one over the
   limit, which starts a hold until now + hold), 0 let it pass */
int throttle_bounce(sdu_state *st, const char *rcpt, size_t len,
  unsigned long long now, const throttle_rate *limit, unsigned long hold);

#endif
