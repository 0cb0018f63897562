/* sdu_state_redis.h: the state store on a Redis server (hiredis), behind
   sdu_state's interface: only sdu_state.c calls these */
#ifndef SDU_STATE_REDIS_H
#define SDU_STATE_REDIS_H

#include "sdu_state.h"

/* the name of a store is a Redis address: redis://... or unix:/... */
int sdu_redis_is(const char *name);
int sdu_redis_open(sdu_state *st, const char *addr, const char *table, int flags);
int sdu_redis_open_table(sdu_state *st, sdu_state *base, const char *table);
void sdu_redis_close(sdu_state *st);
int sdu_redis_getn(sdu_state *st, sdu_state_read *r, unsigned int n, unsigned long long now);
int sdu_redis_put(sdu_state *st, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires);
int sdu_redis_del(sdu_state *st, const char *key, size_t klen);
int sdu_redis_batch(sdu_state_op *ops, unsigned int n, unsigned long long now);
int sdu_redis_swap(sdu_state *st, const char *key, size_t klen, const char *old, size_t oldlen,
  unsigned long long oldexp, int absent, const char *val, size_t vlen, unsigned long long expires,
  unsigned long long now);
int sdu_redis_cleanup(sdu_state *st, unsigned long long now, unsigned long *removed);
int sdu_redis_walk(sdu_state *st, unsigned long long now,
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires), void *ctx);
/* this host's own LMDB table beside a Redis store, for sdu_state_txn: 0 or -1 */
int sdu_redis_local(sdu_state *st, sdu_state **local);
/* the SHA-1 of a script as the server computes it (tests: the built-in digests are right) */
const char *sdu_redis_script(int which, const char **sha);

#endif
