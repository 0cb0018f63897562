/* sdu_state.c: changing state in LMDB: tables of entries that carry their own expiry */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <lmdb.h>
#include "sdu_time.h"
#include "sdu_state.h"
#include "sdu_env.h"

/* an entry is an 8-byte big-endian expiry, then the caller's bytes;
   a counter's bytes are an 8-byte big-endian count */
#define HDR 8
#define BATCH 1000      /* deletions per cleanup transaction */
#define SCAN 100000     /* entries looked at per cleanup transaction */

/* LMDB's rule: a process opens a data.mdb once. Links of the chain that run
   in one process (sdu-chain(1)) may each open the same directory: they share
   its environment, counted here */
#define SHARED_MAX 4
static struct shared {
  MDB_env *env;
  dev_t dev;
  ino_t ino;
  int rdonly;
  pid_t pid;            /* a child of fork opens its own */
  unsigned int refs;
} shared[SHARED_MAX];

void sdu_state_pack64(unsigned char *p, unsigned long long u)
{
  int i;
  for (i = 7; i >= 0; --i) { p[i] = (unsigned char) (u & 0xff); u >>= 8; }
}

unsigned long long sdu_state_unpack64(const unsigned char *p)
{
  unsigned long long u = 0;
  int i;
  for (i = 0; i < 8; ++i) u = (u << 8) | p[i];
  return u;
}

static int live(unsigned long long expires, unsigned long long now)
{
  return !expires || now < expires;
}

static int errno_of(int rc)
{
  if (rc > 0) return rc;
  switch (rc) {
    case MDB_MAP_FULL: return ENOSPC;
    case MDB_NOTFOUND: return ENOENT;
    case MDB_READERS_FULL: return EAGAIN;
    case MDB_INVALID: case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH: return EPROTO;
    default: return EIO;
  }
}

static int corrupt(int rc)
{
  return rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
    || rc == MDB_VERSION_MISMATCH;
}

/* "unable to write table t in dir: reason"; returns -1 for the caller to pass on */
static int fail(sdu_state *st, const char *what, int rc)
{
  if (corrupt(rc))
    snprintf(st->err, sizeof st->err, "database corrupt: %s: %s", st->where, mdb_strerror(rc));
  else
    snprintf(st->err, sizeof st->err, "unable to %s %s: %s", what, st->where, mdb_strerror(rc));
  errno = errno_of(rc);
  return -1;
}

static int failmsg(sdu_state *st, int e, const char *msg)
{
  snprintf(st->err, sizeof st->err, "%s: %s", msg, st->where);
  errno = e;
  return -1;
}

static int keyok(sdu_state *st, size_t klen)
{
  if (klen >= 1 && klen <= SDU_STATE_KEY_MAX) return 1;
  failmsg(st, EINVAL, "key not 1 to 511 bytes long");
  return 0;
}

/* another process may have grown the map beyond ours: adopt its size once.
   Reader slots of processes that died inside a read are freed only when the
   table is full: checking them asks the kernel about every live reader's
   lock, which under a flood cost more than the rest of the open. */
static int begin(sdu_state *st, unsigned int flags, MDB_txn **txn)
{
  int rc = mdb_txn_begin(st->env, 0, flags, txn), dead;
  if (rc == MDB_MAP_RESIZED) {
    rc = mdb_env_set_mapsize(st->env, 0);
    if (!rc) rc = mdb_txn_begin(st->env, 0, flags, txn);
  }
  if (rc == MDB_READERS_FULL && !mdb_reader_check(st->env, &dead) && dead)
    rc = mdb_txn_begin(st->env, 0, flags, txn);
  return rc;
}

static int wbegin(sdu_state *st, MDB_txn **txn)
{
  if (!st->env) return MDB_BAD_TXN;
  if (st->flags & SDU_STATE_RDONLY) return EROFS;
  /* a shared environment flushes the commits of the tables that want it */
  if (st->shared) mdb_env_set_flags(st->env, MDB_NOSYNC, (st->flags & SDU_STATE_NOSYNC) != 0);
  return begin(st, 0, txn);
}

/* reads reuse one read transaction: renew here, rdone resets */
static int rbegin(sdu_state *st)
{
  int rc;
  if (!st->env) return MDB_BAD_TXN;
  if (st->rtxn) {
    rc = mdb_txn_renew(st->rtxn);
    if (rc != MDB_MAP_RESIZED) return rc;
    mdb_txn_abort(st->rtxn);
    st->rtxn = 0;
  }
  return begin(st, MDB_RDONLY, &st->rtxn);
}

static void rdone(sdu_state *st)
{
  mdb_txn_reset(st->rtxn);
}

static int opendbi(sdu_state *st, const char *table)
{
  MDB_txn *txn;
  MDB_dbi dbi;
  int rc = begin(st, MDB_RDONLY, &txn);
  if (rc) return fail(st, "read", rc);
  rc = mdb_dbi_open(txn, table, 0, &dbi);
  if (!rc) rc = mdb_txn_commit(txn); /* keeps the handle */
  else mdb_txn_abort(txn);
  if (rc == MDB_NOTFOUND) {
    if (st->flags & SDU_STATE_RDONLY) return failmsg(st, ENOENT, "no such table");
    rc = begin(st, 0, &txn);
    if (rc) return fail(st, "create", rc);
    rc = mdb_dbi_open(txn, table, MDB_CREATE, &dbi);
    if (!rc) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
  }
  if (rc == MDB_INCOMPATIBLE) return failmsg(st, EPROTO, "database corrupt: table is not a table");
  if (rc) return fail(st, "open", rc);
  st->dbi = dbi;
  return 0;
}

static int nameok(sdu_state *st, const char *table)
{
  size_t n = strlen(table);
  if (n >= 1 && n <= SDU_STATE_NAME_MAX) return 1;
  failmsg(st, EINVAL, "table name not 1 to 64 bytes long");
  return 0;
}

/* the map covers the whole size the meta page names: a shorter (truncated)
   file would be a SIGBUS at the first read of its missing pages */
static int sizeok(sdu_state *st)
{
  MDB_envinfo info;
  MDB_stat stat;
  struct stat s;
  int fd;
  if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &stat)
    || mdb_env_get_fd(st->env, &fd) || fstat(fd, &s) == -1) {
    failmsg(st, EIO, "unable to check size of data.mdb");
    return 0;
  }
  if ((unsigned long long) s.st_size < ((unsigned long long) info.me_last_pgno + 1) * stat.ms_psize) {
    failmsg(st, EPROTO, "database corrupt: data.mdb shorter than its pages");
    return 0;
  }
  return 1;
}

/* "unable to open DIR/lock.mdb as user alias: Permission denied": the
   file (or the directory, where a file could not be made) and the user,
   so that an operator sees which chown or chmod is missing */
static void denied(sdu_state *st, const char *dir, int rdonly, int rc)
{
  static const char *const files[] = { "lock.mdb", "data.mdb", 0 };
  char path[300], who[64];
  const char *what = dir;
  unsigned int i;
  sdu_whoami(who, sizeof who);
  for (i = 0; files[i]; ++i) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    if (access(path, F_OK) == 0 && access(path, rdonly ? R_OK : R_OK | W_OK) == -1) { what = path; break; }
  }
  snprintf(st->err, sizeof st->err, "unable to open %s as user %s: %s", what, who, mdb_strerror(rc));
}

int sdu_state_open_size(sdu_state *st, const char *dir, const char *table, int flags, size_t mapsize)
{
  int rc, fd, i, slot = -1, rdonly = (flags & SDU_STATE_RDONLY) != 0;
  struct stat sd;
  pid_t me = getpid();
  memset(st, 0, sizeof *st);
  st->flags = flags;
  st->ownenv = 1;
  snprintf(st->dir, sizeof st->dir, "%s", dir);
  snprintf(st->where, sizeof st->where, "table %.64s in %.240s", table, st->dir);
  if (!nameok(st, table)) return -1;
  if (stat(dir, &sd) == 0)
    for (i = 0; i < SHARED_MAX; ++i) {
      struct shared *e = &shared[i];
      if (!e->env || e->pid != me) { if (slot < 0) slot = i; continue; }
      if (e->dev != sd.st_dev || e->ino != sd.st_ino || e->rdonly != rdonly) continue;
      st->env = e->env;
      st->ownenv = 0;
      st->shared = i + 1;
      if (opendbi(st, table) == -1) { st->env = 0; st->shared = 0; return -1; }
      ++e->refs;
      return 0;
    }
  rc = mdb_env_create(&st->env);
  if (rc) { st->env = 0; return fail(st, "open", rc); }
  rc = mdb_env_set_maxdbs(st->env, SDU_STATE_MAXDBS);
  if (!rc) rc = mdb_env_set_mapsize(st->env, mapsize);
  if (!rc) rc = mdb_env_set_maxreaders(st->env, SDU_STATE_MAXREADERS);
  /* MDB_NOMETASYNC: one fsync per commit instead of two (an incr took 82
     instead of 156 us on ext4). A system crash may lose the last commits (a
     counter one short, a host reported again), never the database's
     integrity: the data pages are still synced before the meta page.
     MDB_NOTLS: a reader slot belongs to its transaction, and is free again
     when that ends (sdu_state_leave relies on it) */
  if (!rc) rc = mdb_env_open(st->env, dir,
    MDB_NOTLS | MDB_NOMETASYNC | ((flags & SDU_STATE_RDONLY) ? MDB_RDONLY : 0)
    | ((flags & SDU_STATE_NOSYNC) ? MDB_NOSYNC : 0), 0660);
  if (rc) {
    mdb_env_close(st->env);
    st->env = 0;
    if (corrupt(rc))
      snprintf(st->err, sizeof st->err, "database corrupt: %s/data.mdb: %s", dir, mdb_strerror(rc));
    else if (errno_of(rc) == EACCES || errno_of(rc) == EPERM || errno_of(rc) == EROFS)
      denied(st, dir, rdonly, rc);
    else
      snprintf(st->err, sizeof st->err, "unable to open %s: %s", dir, mdb_strerror(rc));
    errno = errno_of(rc);
    return -1;
  }
  /* LMDB 0.9 opens data.mdb without O_CLOEXEC: the next program in the
     chain must not inherit it */
  if (!mdb_env_get_fd(st->env, &fd)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (!sizeok(st) || opendbi(st, table) == -1) {
    int e = errno;
    mdb_env_close(st->env);
    st->env = 0;
    errno = e;
    return -1;
  }
  if (slot >= 0) {
    struct shared *e = &shared[slot];
    e->env = st->env; e->dev = sd.st_dev; e->ino = sd.st_ino; e->rdonly = rdonly; e->refs = 1; e->pid = me;
    st->ownenv = 0;
    st->shared = slot + 1;
  }
  return 0;
}

int sdu_state_open(sdu_state *st, const char *dir, const char *table, int flags)
{
  return sdu_state_open_size(st, dir, table, flags, SDU_STATE_MAPSIZE);
}

int sdu_state_open_table(sdu_state *st, sdu_state *base, const char *table)
{
  memset(st, 0, sizeof *st);
  st->flags = base->flags;
  memcpy(st->dir, base->dir, sizeof st->dir);
  snprintf(st->where, sizeof st->where, "table %.64s in %.240s", table, st->dir);
  if (!base->env) return failmsg(st, EBADF, "base not open");
  if (!nameok(st, table)) return -1;
  st->env = base->env;
  if (opendbi(st, table) == -1) { st->env = 0; return -1; }
  return 0;
}

const char *sdu_state_error(const sdu_state *st)
{
  return st->err[0] ? st->err : "no error";
}

void sdu_state_close(sdu_state *st)
{
  if (st->rtxn) mdb_txn_abort(st->rtxn);
  st->rtxn = 0;
  if (st->env && st->ownenv) mdb_env_close(st->env);
  if (st->env && st->shared && shared[st->shared - 1].pid == getpid() && !--shared[st->shared - 1].refs) {
    mdb_env_close(st->env);
    shared[st->shared - 1].env = 0;
  }
  st->env = 0;
  st->shared = 0;
}

void sdu_state_leave(sdu_state *st)
{
  struct shared *e = st->shared ? &shared[st->shared - 1] : 0;
  if (!e || e->pid != getpid() || !e->refs) { sdu_state_close(st); return; }
  if (st->rtxn) mdb_txn_abort(st->rtxn);
  st->rtxn = 0;
  --e->refs;
  st->env = 0;
  st->shared = 0;
}

int sdu_state_get(sdu_state *st, const char *key, size_t klen, stralloc *val,
  unsigned long long now, unsigned long long *expires)
{
  MDB_val k, d;
  unsigned long long exp;
  int rc;
  if (!keyok(st, klen)) return -1;
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = rbegin(st);
  if (rc) return fail(st, "read", rc);
  rc = mdb_get(st->rtxn, st->dbi, &k, &d);
  if (rc) {
    rdone(st);
    return rc == MDB_NOTFOUND ? 0 : fail(st, "read", rc);
  }
  if (d.mv_size < HDR || d.mv_size - HDR > SDU_STATE_VAL_MAX) {
    rdone(st);
    return failmsg(st, EPROTO, "database corrupt: entry of a wrong size");
  }
  exp = sdu_state_unpack64(d.mv_data);
  if (!live(exp, now)) { rdone(st); return 0; }
  if (val && !stralloc_copyb(val, (const char *) d.mv_data + HDR, d.mv_size - HDR)) {
    rdone(st);
    return failmsg(st, ENOMEM, "out of memory reading");
  }
  rdone(st);
  if (expires) *expires = exp;
  return 1;
}

static int put_in(MDB_txn *txn, unsigned int dbi, MDB_val *k, const char *val, size_t vlen,
  unsigned long long expires)
{
  MDB_val d;
  int rc;
  d.mv_size = HDR + vlen;
  d.mv_data = 0;
  rc = mdb_put(txn, dbi, k, &d, MDB_RESERVE);
  if (rc) return rc;
  sdu_state_pack64(d.mv_data, expires);
  if (vlen) memcpy((char *) d.mv_data + HDR, val, vlen);
  return 0;
}

static int put1(sdu_state *st, MDB_val *k, const char *val, size_t vlen, unsigned long long expires)
{
  MDB_txn *txn;
  int rc = wbegin(st, &txn);
  if (rc) return rc;
  rc = put_in(txn, st->dbi, k, val, vlen, expires);
  if (rc) { mdb_txn_abort(txn); return rc; }
  return mdb_txn_commit(txn);
}

static int full(sdu_state *st)
{
  MDB_envinfo info;
  char n[64];
  mdb_env_info(st->env, &info);
  snprintf(n, sizeof n, "state full (map size %lu bytes) even after cleanup",
    (unsigned long) info.me_mapsize);
  return failmsg(st, ENOSPC, n);
}

int sdu_state_put(sdu_state *st, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  MDB_val k;
  unsigned long n;
  int rc;
  if (!keyok(st, klen)) return -1;
  if (vlen > SDU_STATE_VAL_MAX) return failmsg(st, EMSGSIZE, "value longer than 65536 bytes");
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = put1(st, &k, val, vlen, expires);
  if (rc == MDB_MAP_FULL) {
    sdu_state_cleanup(st, sdu_now(), &n);
    rc = put1(st, &k, val, vlen, expires);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_del(sdu_state *st, const char *key, size_t klen)
{
  MDB_txn *txn;
  MDB_val k;
  int rc;
  if (!keyok(st, klen)) return -1;
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = wbegin(st, &txn);
  if (rc) return fail(st, "write", rc);
  rc = mdb_del(txn, st->dbi, &k, 0);
  if (rc == MDB_NOTFOUND) { mdb_txn_abort(txn); return 0; }
  if (rc) { mdb_txn_abort(txn); return fail(st, "write", rc); }
  rc = mdb_txn_commit(txn);
  return rc ? fail(st, "write", rc) : 1;
}

#define NOTCOUNTER SDU_STATE_NOTCOUNTER

static int incr_in(MDB_txn *txn, unsigned int dbi, MDB_val *k, unsigned long long now,
  unsigned long window, unsigned long *count)
{
  MDB_val d;
  unsigned long long exp = 0, n = 0;
  unsigned char buf[HDR + 8];
  int rc = mdb_get(txn, dbi, k, &d);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if (!rc) {
    if (d.mv_size != sizeof buf) return NOTCOUNTER;
    exp = sdu_state_unpack64(d.mv_data);
    n = sdu_state_unpack64((const unsigned char *) d.mv_data + HDR);
  }
  if (!rc && exp && now < exp) {
    if (n < (unsigned long) -1) ++n;
  } else {
    n = 1;
    exp = now + window < now ? (unsigned long long) -1 : now + window;
  }
  sdu_state_pack64(buf, exp);
  sdu_state_pack64(buf + HDR, n);
  d.mv_data = buf;
  d.mv_size = sizeof buf;
  rc = mdb_put(txn, dbi, k, &d, 0);
  if (!rc) *count = (unsigned long) n;
  return rc;
}

static int incr1(sdu_state *st, MDB_val *k, unsigned long long now, unsigned long window,
  unsigned long *count)
{
  MDB_txn *txn;
  unsigned long n;
  int rc = wbegin(st, &txn);
  if (rc) return rc;
  rc = incr_in(txn, st->dbi, k, now, window, &n);
  if (rc) { mdb_txn_abort(txn); return rc; }
  rc = mdb_txn_commit(txn);
  if (!rc) *count = n;
  return rc;
}

int sdu_state_incr(sdu_state *st, const char *key, size_t klen, unsigned long long now,
  unsigned long window, unsigned long *count)
{
  MDB_val k;
  unsigned long n;
  int rc;
  if (!keyok(st, klen)) return -1;
  if (!window) return failmsg(st, EINVAL, "counter window of 0 seconds");
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = incr1(st, &k, now, window, count);
  if (rc == MDB_MAP_FULL) {
    sdu_state_cleanup(st, now, &n);
    rc = incr1(st, &k, now, window, count);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

static int txn1(sdu_state *st, int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi), void *ctx)
{
  MDB_txn *txn;
  int rc = wbegin(st, &txn);
  if (rc) return rc;
  rc = fn(ctx, txn, st->dbi);
  if (rc) { mdb_txn_abort(txn); return rc; }
  return mdb_txn_commit(txn);
}

/* the operations of sdu_state_batch, as a txn1 callback: each op names its
   own table, so the dbi txn1 hands over is not used */
struct batch { sdu_state_op *ops; unsigned int n; unsigned long long now; };
static int batchfn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct batch *bt = ctx;
  MDB_val k;
  unsigned int i;
  int rc = 0;
  (void) dbi;
  for (i = 0; i < bt->n && !rc; ++i) {
    sdu_state_op *op = &bt->ops[i];
    k.mv_data = (void *) op->key;
    k.mv_size = op->klen;
    rc = op->incr ? incr_in(txn, op->st->dbi, &k, bt->now, op->window, &op->count)
      : put_in(txn, op->st->dbi, &k, op->val, op->vlen, op->expires);
  }
  return rc;
}

int sdu_state_batch(sdu_state_op *ops, unsigned int n, unsigned long long now)
{
  struct batch bt;
  sdu_state *st;
  unsigned long gone;
  unsigned int i;
  int rc;
  if (!n) return 0;
  st = ops[0].st;
  for (i = 0; i < n; ++i) {
    if (!keyok(st, ops[i].klen)) return -1;
    if (ops[i].st->env != st->env) return failmsg(st, EINVAL, "batch over two directories");
    if (ops[i].incr && !ops[i].window) return failmsg(st, EINVAL, "counter window of 0 seconds");
    if (!ops[i].incr && ops[i].vlen > SDU_STATE_VAL_MAX) return failmsg(st, EMSGSIZE, "value longer than 65536 bytes");
  }
  bt.ops = ops; bt.n = n; bt.now = now;
  rc = txn1(st, batchfn, &bt);
  if (rc == MDB_MAP_FULL) {
    for (i = 0; i < n; ++i) sdu_state_cleanup(ops[i].st, now, &gone);
    rc = txn1(st, batchfn, &bt);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_txn_incr(struct MDB_txn *txn, unsigned int dbi, const char *key, size_t klen,
  unsigned long long now, unsigned long window, unsigned long *count)
{
  MDB_val k;
  if (klen < 1 || klen > SDU_STATE_KEY_MAX || !window) return EINVAL;
  k.mv_data = (void *) key;
  k.mv_size = klen;
  return incr_in(txn, dbi, &k, now, window, count);
}

int sdu_state_txn(sdu_state *st, int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi), void *ctx)
{
  unsigned long n;
  int rc = txn1(st, fn, ctx);
  if (rc == MDB_MAP_FULL) {
    sdu_state_cleanup(st, sdu_now(), &n);
    rc = txn1(st, fn, ctx);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_cleanup(sdu_state *st, unsigned long long now, unsigned long *removed)
{
  char last[SDU_STATE_KEY_MAX];
  size_t lastlen = 0;
  unsigned long total = 0;
  int rc;
  if (removed) *removed = 0;
  for (;;) {
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, d;
    unsigned long deleted = 0, seen = 0;
    rc = wbegin(st, &txn);
    if (rc) return fail(st, "clean up", rc);
    rc = mdb_cursor_open(txn, st->dbi, &c);
    if (rc) { mdb_txn_abort(txn); return fail(st, "clean up", rc); }
    if (lastlen) {
      k.mv_data = last;
      k.mv_size = lastlen;
      rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    } else
      rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (!rc) {
      if (k.mv_size > sizeof last) { rc = MDB_CORRUPTED; break; }
      memcpy(last, k.mv_data, k.mv_size);
      lastlen = k.mv_size;
      if (d.mv_size < HDR || !live(sdu_state_unpack64(d.mv_data), now)) {
        rc = mdb_cursor_del(c, 0);
        if (rc) break;
        ++deleted;
      }
      if (deleted >= BATCH || ++seen >= SCAN) break;
      rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) { mdb_txn_abort(txn); return fail(st, "clean up", rc); }
    if (deleted) {
      int crc = mdb_txn_commit(txn);
      if (crc) return fail(st, "clean up", crc);
      total += deleted;
      if (removed) *removed = total;
    } else
      mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return 0;
  }
}

int sdu_state_walk(sdu_state *st, unsigned long long now,
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires), void *ctx)
{
  MDB_cursor *c;
  MDB_val k, d;
  int rc = rbegin(st), r = 0;
  if (rc) return fail(st, "read", rc);
  rc = mdb_cursor_open(st->rtxn, st->dbi, &c);
  if (rc) { rdone(st); return fail(st, "read", rc); }
  for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
    unsigned long long exp;
    if (d.mv_size < HDR) { rc = MDB_CORRUPTED; break; }
    exp = sdu_state_unpack64(d.mv_data);
    if (!live(exp, now)) continue;
    r = fn(ctx, k.mv_data, k.mv_size, (const char *) d.mv_data + HDR, d.mv_size - HDR, exp);
    if (r) break;
  }
  mdb_cursor_close(c);
  rdone(st);
  if (r) return r;
  if (rc != MDB_NOTFOUND) return fail(st, "read", rc);
  return 0;
}
