/* rcptcheck_count.c: messages accepted per counted address, as a decimal count in LMDB */
#include <string.h>
#include "sdu_time.h"
#include "rcptcheck_count.h"

static int get(void *ctx, const char *key, size_t len, unsigned long *n)
{
  rc_count *k = ctx;
  size_t i;
  int r = sdu_state_get(&k->st, key, len, &k->val, sdu_now(), 0);
  *n = 0;
  if (r != 1) return r;
  for (i = 0; i < k->val.len && i < 10; ++i) {
    if (k->val.s[i] < '0' || k->val.s[i] > '9') break;
    *n = *n * 10 + (unsigned long) (k->val.s[i] - '0');
  }
  return 0;
}

/* read, add one, write: two connections finishing a message for the same
   address at the same instant may count it once; the address then takes
   one message more, never one less */
static int add(void *ctx, const char *key, size_t len)
{
  rc_count *k = ctx;
  unsigned long n;
  char num[24];
  size_t l = sizeof num;
  if (get(ctx, key, len, &n) == -1) return -1;
  ++n;
  num[--l] = 0;
  do { num[--l] = (char) ('0' + n % 10); n /= 10; } while (n && l);
  return sdu_state_put(&k->st, key, len, num + l, sizeof num - 1 - l, sdu_now() + RC_COUNT_KEEP);
}

int rc_count_open(rc_count *k, const char *dir, rc_counter *c)
{
  memset(k, 0, sizeof *k);
  if (sdu_state_open(&k->st, dir, RC_COUNT_TABLE, 0) == -1) return -1;
  c->ctx = k;
  c->get = get;
  c->add = add;
  return 0;
}

void rc_count_close(rc_count *k)
{
  sdu_state_close(&k->st);
  stralloc_free(&k->val);
}
