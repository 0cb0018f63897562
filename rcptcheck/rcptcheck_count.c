/* rcptcheck_count.c: messages accepted per counted address, an LMDB counter */
#include <string.h>
#include "sdu_msg.h"
#include "sdu_time.h"
#include "rcptcheck_count.h"

static int get(void *ctx, const char *key, size_t len, unsigned long *n)
{
  rc_count *k = ctx;
  int r = sdu_state_get(&k->st, key, len, &k->val, sdu_now(), 0);
  *n = 0;
  if (r != 1) return r;
  if (k->val.len != 8) return 0;  /* not a counter: counted from zero again */
  *n = (unsigned long) sdu_state_unpack64((const unsigned char *) k->val.s);
  return 0;
}

/* one write transaction: concurrent messages never lose a count. The window
   is the whole keeping time, so the counter only ever goes up until it is
   forgotten */
static int add(void *ctx, const char *key, size_t len)
{
  rc_count *k = ctx;
  unsigned long n;
  if (sdu_state_incr(&k->st, key, len, sdu_now(), RC_COUNT_KEEP, &n) == 0) return 0;
  sdu_warn(sdu_state_error(&k->st), " (to recover: ", sdu_state_advice(&k->st), ")");
  return -1;
}

/* a store that cannot be opened fails every count, as a broken one does:
   a counted address is passed on (or 451), never refused as unknown */
static int getfail(void *ctx, const char *key, size_t len, unsigned long *n)
{
  (void) ctx; (void) key; (void) len;
  *n = 0;
  return -1;
}

static int addfail(void *ctx, const char *key, size_t len)
{
  (void) ctx; (void) key; (void) len;
  return -1;
}

int rc_count_open(rc_count *k, const char *dir, rc_counter *c)
{
  memset(k, 0, sizeof *k);
  c->ctx = k;
  c->get = getfail;
  c->add = addfail;
  if (sdu_state_open(&k->st, dir, RC_COUNT_TABLE, 0) == -1) return -1;
  c->get = get;
  c->add = add;
  return 0;
}

void rc_count_close(rc_count *k)
{
  sdu_state_close(&k->st);
  stralloc_free(&k->val);
}
