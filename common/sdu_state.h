/* sdu_state.h: changing state in LMDB or on a Redis server: tables of entries that carry their own expiry */
#ifndef SDU_STATE_H
#define SDU_STATE_H

#include <stddef.h>
#include <stralloc.h>

#define SDU_STATE_RDONLY 1            /* open flag: no writes, nothing created */
/* open flag: commits are not flushed to disk; a system crash may lose the
   last ones (never the consistency of the file): for short-lived counters */
#define SDU_STATE_NOSYNC 2
#define SDU_STATE_MAPSIZE (64UL << 20) /* default largest size of data.mdb */
#define SDU_STATE_MAXDBS 32           /* named tables per state directory */
#define SDU_STATE_MAXREADERS 1024     /* processes at once, at least (lock.mdb is made for a few more) */
#define SDU_STATE_KEY_MAX 511         /* LMDB's key limit; longer keys are EINVAL */
#define SDU_STATE_VAL_MAX 65536       /* larger values are refused (EMSGSIZE) */
#define SDU_STATE_NAME_MAX 64         /* longest table name */

struct MDB_env;
struct MDB_txn;
struct sdu_redis;

/* One table of one state directory. Entries expire at an absolute time
   (seconds, 0 never); an entry is live while now < expires, and an expired
   entry reads as absent. LMDB's rule, a process opens a directory once, is
   kept here: a second sdu_state_open of a directory this process has open
   shares its environment (links of the chain running in one process),
   with the first opener's map size; a child of fork opens its own.
   Further tables of one opener go through sdu_state_open_table. Close or
   leave it before exec: an open read transaction keeps a reader slot for
   as long as the pid lives. After fork only the parent may use or close it; the child must
   exec or _exit.
   Every function returning -1 leaves errno and a reason for sdu_state_error.
   A fault inside LMDB (SIGBUS, SIGSEGV: a full file system, a corrupt
   file) is such a failure too, never the process's end: the handler is
   installed from the first open to the last close or leave, and after a
   fault every later call on that directory fails at once in this process.

   A store named redis://[host][:port][/db][?options] or
   unix:/path/to/socket[?options] lives on a Redis server instead
   (sdu_state_redis.c), shared by every host that names it; the options,
   joined by &, are timeout=50ms (the deadline of every call; default 50 ms,
   or SDU_REDIS_TIMEOUT), db=N, passfile=FILE (the password, on its first
   line; or SDU_REDIS_PASSFILE) and local=DIR (this host's own LMDB
   directory for sdu_state_txn, default /var/lib/sdu). Every call is one
   round trip (connect, AUTH and SELECT go with the first) under that deadline: a server that is down, slow, full,
   read-only or answering garbage fails it (-1) as a broken LMDB would, and
   this process does not use the connection again. */
typedef struct sdu_state {
  struct MDB_env *env;
  unsigned int dbi;
  struct MDB_txn *rtxn; /* a reset read transaction, renewed for each read */
  int flags;
  int ownenv;           /* 0 for tables opened with sdu_state_open_table */
  int shared;           /* 1 + the slot of a counted environment, or 0 */
  int armed;            /* holds the fault handler (sdu_state.c) */
  int fresh;            /* an environment this open is making: a fault closes it */
  int why;              /* SDU_STATE_WHY_ of the last failure, for sdu_state_advice */
  struct sdu_redis *rd; /* a Redis store's connection, or 0 */
  struct sdu_state *local; /* Redis: this host's own table, for sdu_state_txn */
  char table[SDU_STATE_NAME_MAX + 1];
  char sub[SDU_STATE_NAME_MAX + 1]; /* the table sdu_state_sub opened, or "" */
  unsigned int subdbi;
  char dir[256];        /* for messages, cut */
  char where[320];      /* "table t in dir" for messages */
  char err[512];
} sdu_state;

/* open table of dir, creating the files and the table unless RDONLY: 0 ok, -1 failure
   (errno ENOENT for a missing dir, or with RDONLY a missing data.mdb or table; EPROTO corrupt) */
int sdu_state_open(sdu_state *st, const char *dir, const char *table, int flags);
/* the same with a largest data.mdb size other than SDU_STATE_MAPSIZE */
int sdu_state_open_size(sdu_state *st, const char *dir, const char *table, int flags, size_t mapsize);
/* open another table of base's directory sharing its environment; close it before base */
int sdu_state_open_table(sdu_state *st, sdu_state *base, const char *table);
/* why the last call failed: "unable to open /var/lib/sdu: No such file or directory" */
const char *sdu_state_error(const sdu_state *st);
/* what the operator can do about the last failure, one line without a
   trailing period: "free space on the file system of the state directory; ..." */
#define SDU_STATE_WHY_OTHER 0
#define SDU_STATE_WHY_DISKFULL 1  /* ENOSPC, EDQUOT from the file system */
#define SDU_STATE_WHY_MAPFULL 2   /* data.mdb at its map size with live entries */
#define SDU_STATE_WHY_CORRUPT 3
#define SDU_STATE_WHY_ACCESS 4    /* EACCES, EPERM, EROFS */
#define SDU_STATE_WHY_MISSING 5   /* no such directory */
#define SDU_STATE_WHY_REDIS 6     /* the Redis server: down, slow, full, read-only, refusing */
const char *sdu_state_advice(const sdu_state *st);
/* release the table (and the environment, if st opened it); st may be closed twice */
void sdu_state_close(sdu_state *st);
/* the same for a process about to exit or exec: the table's transactions
   and reader slot end, the environment stays open until the process ends
   (its mappings go with it at no cost; unmapping them is a TLB shootdown
   each) and a later open of the directory in this process takes it again */
void sdu_state_leave(sdu_state *st);

/* 1 found live (val, unless 0, holds the bytes; *expires if expires is not 0), 0 absent or expired, -1 error */
int sdu_state_get(sdu_state *st, const char *key, size_t klen, stralloc *val,
  unsigned long long now, unsigned long long *expires);
/* several reads in one read transaction (one round trip to Redis): each
   key's found (1 live, 0 absent or expired), its bytes in *val unless val
   is 0, its expires: 0 ok, -1 error (nothing found) */
typedef struct sdu_state_read {
  const char *key;
  size_t klen;
  stralloc *val;
  int found;
  unsigned long long expires;
} sdu_state_read;
#define SDU_STATE_READ_MAX 16          /* keys in one sdu_state_getn */
int sdu_state_getn(sdu_state *st, sdu_state_read *r, unsigned int n, unsigned long long now);
/* store val under key until expires (0 never): 0 ok, -1 error (ENOSPC: full even
   after removing the entries expired at sdu_now()) */
int sdu_state_put(sdu_state *st, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires);
/* 1 deleted (live or expired), 0 absent, -1 error */
int sdu_state_del(sdu_state *st, const char *key, size_t klen);
/* count one event in a fixed window of window (>0) seconds starting at the key's first
   event, in one write transaction: 0 ok with *count including this event, -1 error */
int sdu_state_incr(sdu_state *st, const char *key, size_t klen, unsigned long long now,
  unsigned long window, unsigned long *count);
/* one change of a batch: a put (val, vlen, expires) or, with incr, one
   event counted as by sdu_state_incr (window in, count out). An incr with
   hold is a limit with a penalty: the event that takes the count past
   limit makes the entry live until now + hold at least (later events in
   that time count on, over the limit, and do not move it) */
typedef struct sdu_state_op {
  sdu_state *st;                 /* the table; every op of a batch in one directory */
  int incr;
  const char *key;
  size_t klen;
  const char *val;
  size_t vlen;
  unsigned long long expires;
  unsigned long window, count;
  unsigned long limit, hold;     /* incr: the hold after limit is passed (0: none) */
} sdu_state_op;
/* every op in one write transaction, so with one disk flush and all or
   nothing: 0 all done, -1 none done (reason in ops[0].st) */
int sdu_state_batch(sdu_state_op *ops, unsigned int n, unsigned long long now);
/* 1 when name is a Redis address, not a directory */
int sdu_state_isaddr(const char *name);
/* 1 when the store is shared by several hosts (Redis): sdu_state_txn then
   works on this host's own LMDB table, apart from the shared entries */
int sdu_state_shared(const sdu_state *st);
/* replace key's entry by val (expiring at expires) if it is still what
   sdu_state_get read at now: old, oldlen and oldexp, or, with absent, no
   live entry. 1 replaced, 0 changed meanwhile (read again), -1 error */
int sdu_state_swap(sdu_state *st, const char *key, size_t klen, const char *old, size_t oldlen,
  unsigned long long oldexp, int absent, const char *val, size_t vlen, unsigned long long expires,
  unsigned long long now);
/* Run fn inside one write transaction of st, for a change the calls above
   do not make (a scan over a key prefix, say) or several made at once: fn
   works on txn and the table dbi with LMDB's own calls, in the store's entry
   format (an 8-byte big-endian expiry, then the bytes; expired entries are
   fn's to skip), and returns 0 to commit or an LMDB error to abort. fn may
   run twice (once more after a cleanup when the map was full): its outputs
   must be set afresh each time. 0 committed, -1 error (fn's, or the store's) */
int sdu_state_txn(sdu_state *st, int (*fn)(void *ctx, struct MDB_txn *txn, unsigned int dbi),
  void *ctx);
/* the same for reads, in one read transaction of an LMDB store (-1, EINVAL,
   for Redis): what mdb_get gives fn points into the map, no copy made,
   valid until fn returns; fn returns 0, MDB_CORRUPTED for an entry it
   cannot read, or another LMDB error. 0 done, -1 error */
int sdu_state_view(sdu_state *st, int (*fn)(void *ctx, struct MDB_txn *txn, unsigned int dbi),
  void *ctx);
/* another table of st's directory (LMDB only), for the fn of
   sdu_state_view and sdu_state_txn to use beside st's own: its dbi in
   *dbi, the table opened (made, unless RDONLY) at the first call and kept
   in st for the later ones (one such table a store). 1 open, 0 no such
   table (RDONLY), -1 error */
int sdu_state_sub(sdu_state *st, const char *table, unsigned int *dbi);
/* sdu_state_incr inside fn: 0, SDU_STATE_NOTCOUNTER or an LMDB error, for fn to return */
#define SDU_STATE_NOTCOUNTER (-30000) /* outside LMDB's error codes */
/* every value starts with its expiry, 8 bytes big-endian (0: never):
   for code that reads or writes entries inside sdu_state_txn */
void sdu_state_pack64(unsigned char *p, unsigned long long u);
unsigned long long sdu_state_unpack64(const unsigned char *p);
int sdu_state_txn_incr(struct MDB_txn *txn, unsigned int dbi, const char *key, size_t klen,
  unsigned long long now, unsigned long window, unsigned long *count);
/* delete every expired (or malformed) entry, committing every 1000 deletions: 0 ok, -1 error */
int sdu_state_cleanup(sdu_state *st, unsigned long long now, unsigned long *removed);
/* call fn on each live entry in key order in one read transaction; fn must not
   use the store; fn returning non-zero stops the walk: 0 done, fn's value, or -1 error */
int sdu_state_walk(sdu_state *st, unsigned long long now,
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires), void *ctx);

#endif
