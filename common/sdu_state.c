/* sdu_state.c: changing state in LMDB: tables of entries that carry their own expiry */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <lmdb.h>
#include "sdu_time.h"
#include "sdu_state.h"
#include "sdu_env.h"
#include "sdu_state_redis.h"

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

/* A fault inside LMDB ends the store access that made it, not the process:
   SIGBUS for a page of a mapped file that is not there (a hole of lock.mdb
   touched on a full file system, a page past the end of a corrupt
   data.mdb), SIGSEGV for a corrupt page pointer. The handler is installed
   while a table is open (once for all of them: no system call per access)
   and jumps back only out of a store access; any other fault gets the
   previous handler and happens again. After a fault the environment is
   never used again in this process: LMDB's memory and the lock file may be
   half changed. What other processes wait for is given back first: the
   write lock (a robust mutex frees itself only when its owner dies) and
   the reader slot, by aborting the transaction the fault was in. */
static sigjmp_buf *volatile faultjb;  /* the store access in progress, or 0 */
static volatile sig_atomic_t faultsig;
static MDB_txn *curtxn;               /* the transaction it is in, or 0 */
static struct sigaction oldbus, oldsegv;
static unsigned int armed;            /* open tables that want the handler */
#define BROKEN_MAX 8
static struct broken {
  MDB_env *env;         /* never freed: the pointer stays unique */
  int err;              /* ENOSPC (file system full) or EPROTO (corrupt) */
  int sig;
} broken[BROKEN_MAX];
static unsigned int nbroken;
static struct broken allbroken; /* when more environments than BROKEN_MAX broke */

/* lock.mdb is made whole before LMDB maps it: reader slots for this many
   processes at least (LMDB takes the slots a larger file has room for) */
#define LOCK_BYTES ((SDU_STATE_MAXREADERS + 8) * 64UL)

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

/* what the operator should do about the last failure: sdu_state_advice */
static int why_of(int rc)
{
  if (rc == MDB_MAP_FULL) return SDU_STATE_WHY_MAPFULL;
  if (corrupt(rc)) return SDU_STATE_WHY_CORRUPT;
  switch (errno_of(rc)) {
    case ENOSPC: case EDQUOT: return SDU_STATE_WHY_DISKFULL;
    case EPROTO: return SDU_STATE_WHY_CORRUPT;
    case EACCES: case EPERM: case EROFS: return SDU_STATE_WHY_ACCESS;
    case ENOENT: case ENOTDIR: return SDU_STATE_WHY_MISSING;
    default: return SDU_STATE_WHY_OTHER;
  }
}

/* "unable to write table t in dir: reason"; returns -1 for the caller to pass on */
static int fail(sdu_state *st, const char *what, int rc)
{
  if (corrupt(rc))
    snprintf(st->err, sizeof st->err, "database corrupt: %s: %s", st->where, mdb_strerror(rc));
  else
    snprintf(st->err, sizeof st->err, "unable to %s %s: %s", what, st->where, mdb_strerror(rc));
  st->why = why_of(rc);
  errno = errno_of(rc);
  return -1;
}

static int failmsg(sdu_state *st, int e, const char *msg)
{
  snprintf(st->err, sizeof st->err, "%s: %s", msg, st->where);
  st->why = e == ENOENT ? SDU_STATE_WHY_OTHER : why_of(e); /* a table, not the directory */
  errno = e;
  return -1;
}

static struct broken *isbroken(MDB_env *env)
{
  unsigned int i;
  if (allbroken.env) return &allbroken;
  for (i = 0; i < nbroken; ++i) if (broken[i].env == env) return &broken[i];
  return 0;
}

static const char *signame(int sig)
{
  return sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : "an assertion failure";
}

static int brokenfail(sdu_state *st, const struct broken *b)
{
  if (b->err == ENOSPC)
    snprintf(st->err, sizeof st->err, "unable to use %s: file system full (not used again after %s inside LMDB)",
      st->where, signame(b->sig));
  else
    snprintf(st->err, sizeof st->err, "database corrupt: %s: not used again after %s inside LMDB",
      st->where, signame(b->sig));
  st->why = b->err == ENOSPC ? SDU_STATE_WHY_DISKFULL : SDU_STATE_WHY_CORRUPT;
  errno = b->err;
  return -1;
}

static void onfault(int sig, siginfo_t *si, void *uc)
{
  sigjmp_buf *jb = faultjb;
  (void) uc;
  if (jb) {
    faultjb = 0;
    faultsig = sig;
    siglongjmp(*jb, 1);
  }
  /* not the store's: the previous handler, and the fault again (a signal
     sent by kill does not come again by itself) */
  sigaction(sig, sig == SIGBUS ? &oldbus : &oldsegv, 0);
  if (si && si->si_code <= 0) raise(sig);
}

/* LMDB's own checks of a page (mdb_cassert) call this before abort():
   inside a store access it is a corrupt file like a fault */
static void onassert(MDB_env *env, const char *msg)
{
  sigjmp_buf *jb = faultjb;
  (void) env; (void) msg;
  if (jb) {
    faultjb = 0;
    faultsig = SIGABRT;
    siglongjmp(*jb, 1);
  }
}

static void arm(sdu_state *st)
{
  struct sigaction sa;
  if (st->armed) return;
  st->armed = 1;
  if (armed++) return;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onfault;
  /* NODEFER: the jump out of the handler leaves no signal blocked, without
     a sigprocmask call in every sigsetjmp */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &oldbus);
  sigaction(SIGSEGV, &sa, &oldsegv);
}

static void disarm(sdu_state *st)
{
  if (!st->armed) return;
  st->armed = 0;
  if (!armed || --armed) return;
  sigaction(SIGBUS, &oldbus, 0);
  sigaction(SIGSEGV, &oldsegv, 0);
}

/* The head of LMDB 0.9's struct MDB_txn (mdb.c), which lmdb.h keeps
   opaque. A write in progress (mdb_put, mdb_del, a page split) puts a
   cursor on its own stack in front of mt_cursors and takes it out again
   when it returns; after a jump out of it the list points into a dead
   stack frame, and mdb_txn_abort would free() that. So, before the abort,
   the lists are emptied (the cursors of ours in them leak), once two
   fields that lmdb.h does show (mdb_txn_env, mdb_txn_id) confirm the
   layout; if they do not, there is no abort, and the write lock stays
   taken until this process ends. */
struct lmdb_txn_head {
  void *parent, *child;
  size_t next_pgno, txnid;
  MDB_env *env;
  void *free_pgs, *loose_pgs;
  int loose_count;
  void *spill_pgs, *u, *dbxs, *dbs, *dbiseqs;
  MDB_cursor **cursors;
  unsigned char *dbflags;
  MDB_dbi numdbs;
  unsigned int flags;
};

static int untrack(MDB_txn *txn)
{
  struct lmdb_txn_head *t = (struct lmdb_txn_head *) txn;
  MDB_dbi i;
  if (t->env != mdb_txn_env(txn) || t->txnid != (size_t) mdb_txn_id(txn)
    || t->numdbs > SDU_STATE_MAXDBS + 2) return 0;
  if (t->flags & MDB_RDONLY) return 1; /* a reader tracks no cursors */
  if (!t->cursors) return 0;
  for (i = 0; i < t->numdbs; ++i) t->cursors[i] = 0;
  return 1;
}

/* abort txn; a fault on the way leaves it be */
static void abortsafe(MDB_txn *txn)
{
  sigjmp_buf jb;
  if (!txn || !untrack(txn)) return;
  if (!sigsetjmp(jb, 0)) {
    faultjb = &jb;
    mdb_txn_abort(txn);
  }
  faultjb = 0;
}

/* close env; a fault on the way leaves it be */
static void closesafe(MDB_env *env)
{
  sigjmp_buf jb;
  if (!sigsetjmp(jb, 0)) {
    faultjb = &jb;
    mdb_env_close(env);
  }
  faultjb = 0;
}

/* after a fault in a store access of st: give back the locks, and never
   use the environment again (or close it, if this access was opening it) */
static int faulted(sdu_state *st)
{
  int sig = faultsig, e = EPROTO;
  MDB_txn *txn = curtxn;
  struct statvfs fs;
  curtxn = 0;
  abortsafe(txn);
  st->rtxn = 0;
  /* a fault without a corrupt file is a page the file system had no room for */
  if (sig == SIGBUS && statvfs(st->dir, &fs) == 0
    && (unsigned long long) fs.f_bavail * fs.f_frsize < 256 * 1024) e = ENOSPC;
  if (e == ENOSPC)
    snprintf(st->err, sizeof st->err, "unable to use %s: file system full (%s inside LMDB)", st->where, signame(sig));
  else
    snprintf(st->err, sizeof st->err, "database corrupt: %s: %s inside LMDB", st->where, signame(sig));
  st->why = e == ENOSPC ? SDU_STATE_WHY_DISKFULL : SDU_STATE_WHY_CORRUPT;
  if (st->env && st->fresh) {
    closesafe(st->env);
    st->env = 0;
  } else if (st->env && !isbroken(st->env)) {
    struct broken *b = nbroken < BROKEN_MAX ? &broken[nbroken++] : &allbroken;
    b->env = st->env;
    b->err = e;
    b->sig = sig;
  }
  st->fresh = 0;
  errno = e;
  return -1;
}

/* run fn(st, arg) as one store access: a fault inside it makes it fail */
typedef int (*access_fn)(sdu_state *st, void *arg);
static int guarded(sdu_state *st, access_fn fn, void *arg)
{
  sigjmp_buf jb;
  sdu_state *volatile vst = st;
  struct broken *b;
  int r;
  if (st->env && (b = isbroken(st->env))) return brokenfail(st, b);
  if (faultjb) return fn(st, arg); /* inside another access: that one catches */
  if (sigsetjmp(jb, 0)) return faulted(vst);
  faultjb = &jb;
  r = fn(vst, arg);
  faultjb = 0;
  return r;
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
  if (!rc) curtxn = *txn;
  return rc;
}

/* the ends of a transaction begun by begin: a fault before them aborts it */
static int commit(MDB_txn *txn)
{
  int rc = mdb_txn_commit(txn);
  curtxn = 0;
  return rc;
}

static void txnabort(MDB_txn *txn)
{
  curtxn = 0;
  mdb_txn_abort(txn);
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
    curtxn = st->rtxn;
    rc = mdb_txn_renew(st->rtxn);
    if (rc != MDB_MAP_RESIZED) return rc;
    txnabort(st->rtxn);
    st->rtxn = 0;
  }
  return begin(st, MDB_RDONLY, &st->rtxn);
}

static void rdone(sdu_state *st)
{
  mdb_txn_reset(st->rtxn);
  curtxn = 0;
}

static int opendbi(sdu_state *st, const char *table, unsigned int *out)
{
  MDB_txn *txn;
  MDB_dbi dbi;
  int rc = begin(st, MDB_RDONLY, &txn);
  if (rc) return fail(st, "read", rc);
  rc = mdb_dbi_open(txn, table, 0, &dbi);
  if (!rc) rc = commit(txn); /* keeps the handle */
  else txnabort(txn);
  if (rc == MDB_NOTFOUND) {
    if (st->flags & SDU_STATE_RDONLY) return failmsg(st, ENOENT, "no such table");
    rc = begin(st, 0, &txn);
    if (rc) return fail(st, "create", rc);
    rc = mdb_dbi_open(txn, table, MDB_CREATE, &dbi);
    if (!rc) rc = commit(txn);
    else txnabort(txn);
  }
  if (rc == MDB_INCOMPATIBLE) return failmsg(st, EPROTO, "database corrupt: table is not a table");
  if (rc) return fail(st, "open", rc);
  *out = dbi;
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

/* at most max bytes of s into buf from pos, cut at its size and always
   terminated; the new pos. Not snprintf: the path a connection takes
   calls no printf, whose code and tables are pages of their own */
static size_t put(char *buf, size_t size, size_t pos, const char *s, size_t max)
{
  while (*s && max && pos + 1 < size) { buf[pos++] = *s++; --max; }
  buf[pos] = 0;
  return pos;
}

/* Make lock.mdb whole before LMDB maps it: LMDB makes it with ftruncate,
   a file of holes, and on a full file system the first touch of a hole is
   a SIGBUS (with the reader mutex held, if it was a reader slot). A new
   lock file is written under a temporary name and linked into place, so
   that no process ever maps a part of it; one that has holes is filled.
   0 with *s the lock file's, -1 none (LMDB says why when it opens the
   directory), -2 it cannot be made (reason in st) */
static int lockfile(sdu_state *st, const char *dir, struct stat *s)
{
  char lock[512], tmp[560];
  static const char zeros[4096];
  unsigned long long n = LOCK_BYTES, done;
  long pg = sysconf(_SC_PAGESIZE);
  int fd, r;
  if (strlen(dir) + sizeof "/lock.mdb" > sizeof lock) return -1;
  put(lock, sizeof lock, put(lock, sizeof lock, 0, dir, (size_t) -1), "/lock.mdb", (size_t) -1);
  if (stat(lock, s) == 0) {
    /* one made by LMDB itself: fill its holes once (never by writing,
       as posix_fallocate may: other processes use the file) */
    if (S_ISREG(s->st_mode) && (unsigned long long) s->st_blocks * 512 < (unsigned long long) s->st_size
      && !(st->flags & SDU_STATE_RDONLY) && (fd = open(lock, O_RDWR | O_CLOEXEC)) != -1) {
      if (fallocate(fd, 0, 0, s->st_size) == 0) fstat(fd, s);
      close(fd);
    }
    return 0;
  }
  if (errno != ENOENT) return -1;
  if (pg > 0) n = (n + (unsigned long long) pg - 1) / (unsigned long long) pg * (unsigned long long) pg;
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", lock, (long) getpid());
  fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  if (fd == -1) return -1; /* no directory, no permission: LMDB's message */
  r = posix_fallocate(fd, 0, (off_t) n);
  if (r == EOPNOTSUPP || r == EINVAL || r == ENOSYS)
    for (r = 0, done = 0; done < n && !r; done += sizeof zeros)
      if (write(fd, zeros, sizeof zeros) != (ssize_t) sizeof zeros) r = errno ? errno : EIO;
  if (!r && fstat(fd, s) == -1) r = errno;
  close(fd);
  if (!r && link(tmp, lock) == -1) {
    r = errno;
    if (r == EEXIST) r = stat(lock, s) == -1 ? errno : 0; /* another process was first */
  }
  unlink(tmp);
  if (!r) return 0;
  if (r == EPERM || r == EOPNOTSUPP) return -1; /* no hard links here: LMDB makes it */
  snprintf(st->err, sizeof st->err, "unable to create %.240s/lock.mdb: %s", dir, strerror(r));
  st->why = why_of(r);
  errno = r;
  return -2;
}

struct openargs { const char *dir, *table; size_t mapsize; };

static int open_in(sdu_state *st, void *arg)
{
  struct openargs *a = arg;
  int rc, fd, i, slot = -1, haves, rdonly = (st->flags & SDU_STATE_RDONLY) != 0;
  struct stat sd;
  pid_t me = getpid();
  /* the lock file names the environment: one per directory and process */
  haves = lockfile(st, a->dir, &sd);
  if (haves == -2) return -1;
  if (haves == 0)
    for (i = 0; i < SHARED_MAX; ++i) {
      struct shared *e = &shared[i];
      struct broken *b;
      if (!e->env || e->pid != me) { if (slot < 0) slot = i; continue; }
      if (e->dev != sd.st_dev || e->ino != sd.st_ino || e->rdonly != rdonly) continue;
      if ((b = isbroken(e->env))) return brokenfail(st, b);
      st->env = e->env;
      st->ownenv = 0;
      st->shared = i + 1;
      if (opendbi(st, a->table, &st->dbi) == -1) { st->env = 0; st->shared = 0; return -1; }
      ++e->refs;
      return 0;
    }
  rc = mdb_env_create(&st->env);
  if (rc) { st->env = 0; return fail(st, "open", rc); }
  st->fresh = 1;
  rc = mdb_env_set_assert(st->env, onassert);
  if (!rc) rc = mdb_env_set_maxdbs(st->env, SDU_STATE_MAXDBS);
  if (!rc) rc = mdb_env_set_mapsize(st->env, a->mapsize);
  if (!rc) rc = mdb_env_set_maxreaders(st->env, SDU_STATE_MAXREADERS);
  /* MDB_NOMETASYNC: one fsync per commit instead of two (an incr took 82
     instead of 156 us on ext4). A system crash may lose the last commits (a
     counter one short, a host reported again), never the database's
     integrity: the data pages are still synced before the meta page.
     MDB_NOTLS: a reader slot belongs to its transaction, and is free again
     when that ends (sdu_state_leave relies on it).
     No MDB_WRITEMAP: data.mdb grows by write(2), so that a full file
     system is ENOSPC from a commit, never a fault in a page of the map. */
  if (!rc) rc = mdb_env_open(st->env, a->dir,
    MDB_NOTLS | MDB_NOMETASYNC | (rdonly ? MDB_RDONLY : 0)
    | ((st->flags & SDU_STATE_NOSYNC) ? MDB_NOSYNC : 0), 0660);
  if (rc) {
    mdb_env_close(st->env);
    st->env = 0;
    st->fresh = 0;
    if (corrupt(rc))
      snprintf(st->err, sizeof st->err, "database corrupt: %s/data.mdb: %s", st->dir, mdb_strerror(rc));
    else if (errno_of(rc) == EACCES || errno_of(rc) == EPERM || errno_of(rc) == EROFS)
      denied(st, st->dir, rdonly, rc);
    else
      snprintf(st->err, sizeof st->err, "unable to open %s: %s", st->dir, mdb_strerror(rc));
    st->why = why_of(rc);
    errno = errno_of(rc);
    return -1;
  }
  /* LMDB 0.9 opens data.mdb without O_CLOEXEC: the next program in the
     chain must not inherit it */
  if (!mdb_env_get_fd(st->env, &fd)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (!sizeok(st) || opendbi(st, a->table, &st->dbi) == -1) {
    int e = errno;
    mdb_env_close(st->env);
    st->env = 0;
    st->fresh = 0;
    errno = e;
    return -1;
  }
  st->fresh = 0;
  if (haves == 0 && slot >= 0) {
    struct shared *e = &shared[slot];
    e->env = st->env; e->dev = sd.st_dev; e->ino = sd.st_ino; e->rdonly = rdonly; e->refs = 1; e->pid = me;
    st->ownenv = 0;
    st->shared = slot + 1;
  }
  return 0;
}

/* a Redis store's failure: what sdu_state_advice says about it */
static int redis(sdu_state *st, int r)
{
  if (r == -1) st->why = SDU_STATE_WHY_REDIS;
  return r;
}

int sdu_state_open_size(sdu_state *st, const char *dir, const char *table, int flags, size_t mapsize)
{
  struct openargs a;
  size_t n;
  memset(st, 0, sizeof *st);
  st->flags = flags;
  st->ownenv = 1;
  put(st->dir, sizeof st->dir, 0, dir, (size_t) -1);
  n = put(st->where, sizeof st->where, 0, "table ", (size_t) -1);
  n = put(st->where, sizeof st->where, n, table, 64);
  n = put(st->where, sizeof st->where, n, " in ", (size_t) -1);
  put(st->where, sizeof st->where, n, st->dir, 240);
  if (!nameok(st, table)) return -1;
  if (sdu_redis_is(dir)) return redis(st, sdu_redis_open(st, dir, table, flags));
  a.dir = dir; a.table = table; a.mapsize = mapsize;
  arm(st);
  if (guarded(st, open_in, &a) == 0) return 0;
  disarm(st);
  return -1;
}

int sdu_state_open(sdu_state *st, const char *dir, const char *table, int flags)
{
  return sdu_state_open_size(st, dir, table, flags, SDU_STATE_MAPSIZE);
}

static int opentable_in(sdu_state *st, void *table)
{
  return opendbi(st, table, &st->dbi);
}

int sdu_state_open_table(sdu_state *st, sdu_state *base, const char *table)
{
  memset(st, 0, sizeof *st);
  st->flags = base->flags;
  memcpy(st->dir, base->dir, sizeof st->dir);
  snprintf(st->where, sizeof st->where, "table %.64s in %.240s", table, st->dir);
  if (!nameok(st, table)) return -1;
  if (base->rd) return sdu_redis_open_table(st, base, table);
  if (!base->env) return failmsg(st, EBADF, "base not open");
  st->env = base->env;
  arm(st);
  if (guarded(st, opentable_in, (void *) table) == 0) return 0;
  st->env = 0;
  disarm(st);
  return -1;
}

const char *sdu_state_error(const sdu_state *st)
{
  return st->err[0] ? st->err : "no error";
}

const char *sdu_state_advice(const sdu_state *st)
{
  switch (st->why) {
    case SDU_STATE_WHY_REDIS:
      return "the Redis server named must answer: the limits apply again from the first connection after it does";
    case SDU_STATE_WHY_DISKFULL:
      return "free space on the file system of the state directory; removing data.mdb or lock.mdb frees nothing and makes it worse";
    case SDU_STATE_WHY_MAPFULL:
      return "the entries expire by themselves; to start afresh, stop the service, move data.mdb and lock.mdb aside, start it";
    case SDU_STATE_WHY_CORRUPT:
      return "stop the service, move data.mdb and lock.mdb aside (keep them to look at), start it";
    case SDU_STATE_WHY_ACCESS:
      return "let the user the service runs as write the state directory and its files";
    case SDU_STATE_WHY_MISSING:
      return "create the state directory, writable by the user the service runs as";
    default:
      return "see the reason; if it stays, stop the service, move data.mdb and lock.mdb aside, start it";
  }
}

static int abortr_in(sdu_state *st, void *arg)
{
  MDB_txn *t = st->rtxn;
  (void) arg;
  st->rtxn = 0;
  mdb_txn_abort(t);
  return 0;
}

static int closeenv_in(sdu_state *st, void *arg)
{
  (void) arg;
  mdb_env_close(st->env);
  return 0;
}

/* close or, with leave, leave st; an environment broken by a fault is
   never touched again (nor freed) */
static void release(sdu_state *st, int leave)
{
  struct shared *e = st->shared && shared[st->shared - 1].pid == getpid() ? &shared[st->shared - 1] : 0;
  int ok = st->env && !isbroken(st->env);
  if (ok && st->rtxn) ok = guarded(st, abortr_in, 0) == 0;
  st->rtxn = 0;
  if (e && e->refs) {
    if (!--e->refs && !leave && ok) {
      if (guarded(st, closeenv_in, 0) == 0) e->env = 0;
    }
  } else if (st->env && st->ownenv && ok)
    guarded(st, closeenv_in, 0);
  st->env = 0;
  st->shared = 0;
  st->sub[0] = 0;
  disarm(st);
}

void sdu_state_close(sdu_state *st)
{
  if (st->rd) { sdu_redis_close(st); return; }
  release(st, 0);
}

void sdu_state_leave(sdu_state *st)
{
  if (st->rd) { sdu_redis_close(st); return; }
  release(st, 1);
}

struct getargs { sdu_state_read *r; unsigned int n; unsigned long long now; };

static int get_in(sdu_state *st, void *arg)
{
  struct getargs *a = arg;
  sdu_state_read *r = a->r;
  unsigned int i, n = a->n;
  MDB_val k, d;
  unsigned long long exp;
  int rc;
  if (n > SDU_STATE_READ_MAX) return failmsg(st, EINVAL, "more than 16 keys in one read");
  for (i = 0; i < n; ++i) {
    if (!keyok(st, r[i].klen)) return -1;
    r[i].found = 0;
  }
  rc = rbegin(st);
  if (rc) return fail(st, "read", rc);
  for (i = 0; i < n; ++i) {
    k.mv_data = (void *) r[i].key;
    k.mv_size = r[i].klen;
    rc = mdb_get(st->rtxn, st->dbi, &k, &d);
    if (rc == MDB_NOTFOUND) continue;
    if (rc) { rdone(st); return fail(st, "read", rc); }
    if (d.mv_size < HDR || d.mv_size - HDR > SDU_STATE_VAL_MAX) {
      rdone(st);
      return failmsg(st, EPROTO, "database corrupt: entry of a wrong size");
    }
    exp = sdu_state_unpack64(d.mv_data);
    if (!live(exp, a->now)) continue;
    if (r[i].val && !stralloc_copyb(r[i].val, (const char *) d.mv_data + HDR, d.mv_size - HDR)) {
      rdone(st);
      return failmsg(st, ENOMEM, "out of memory reading");
    }
    r[i].found = 1;
    r[i].expires = exp;
  }
  rdone(st);
  return 0;
}

int sdu_state_getn(sdu_state *st, sdu_state_read *r, unsigned int n, unsigned long long now)
{
  struct getargs a;
  if (st->rd) return redis(st, sdu_redis_getn(st, r, n, now));
  a.r = r; a.n = n; a.now = now;
  return guarded(st, get_in, &a);
}

int sdu_state_get(sdu_state *st, const char *key, size_t klen, stralloc *val,
  unsigned long long now, unsigned long long *expires)
{
  sdu_state_read r;
  r.key = key; r.klen = klen; r.val = val; r.found = 0; r.expires = 0;
  if (sdu_state_getn(st, &r, 1, now) == -1) return -1;
  if (r.found && expires) *expires = r.expires;
  return r.found;
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
  if (rc) { txnabort(txn); return rc; }
  return commit(txn);
}

static int full(sdu_state *st)
{
  MDB_envinfo info;
  char n[64];
  mdb_env_info(st->env, &info);
  snprintf(n, sizeof n, "state full (map size %lu bytes) even after cleanup",
    (unsigned long) info.me_mapsize);
  failmsg(st, ENOSPC, n);
  st->why = SDU_STATE_WHY_MAPFULL;
  return -1;
}

static int cleanup_in(sdu_state *st, unsigned long long now, unsigned long *removed);

struct putargs { const char *key; size_t klen; const char *val; size_t vlen; unsigned long long expires; };

static int put_in1(sdu_state *st, void *arg)
{
  struct putargs *a = arg;
  const char *key = a->key, *val = a->val;
  size_t klen = a->klen, vlen = a->vlen;
  unsigned long long expires = a->expires;
  MDB_val k;
  unsigned long n;
  int rc;
  if (!keyok(st, klen)) return -1;
  if (vlen > SDU_STATE_VAL_MAX) return failmsg(st, EMSGSIZE, "value longer than 65536 bytes");
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = put1(st, &k, val, vlen, expires);
  if (rc == MDB_MAP_FULL) {
    cleanup_in(st, sdu_now(), &n);
    rc = put1(st, &k, val, vlen, expires);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_put(sdu_state *st, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  struct putargs a;
  if (st->rd) return redis(st, sdu_redis_put(st, key, klen, val, vlen, expires));
  a.key = key; a.klen = klen; a.val = val; a.vlen = vlen; a.expires = expires;
  return guarded(st, put_in1, &a);
}

struct delargs { const char *key; size_t klen; };

static int del_in(sdu_state *st, void *arg)
{
  struct delargs *a = arg;
  const char *key = a->key;
  size_t klen = a->klen;
  MDB_txn *txn;
  MDB_val k;
  int rc;
  if (!keyok(st, klen)) return -1;
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = wbegin(st, &txn);
  if (rc) return fail(st, "write", rc);
  rc = mdb_del(txn, st->dbi, &k, 0);
  if (rc == MDB_NOTFOUND) { txnabort(txn); return 0; }
  if (rc) { txnabort(txn); return fail(st, "write", rc); }
  rc = commit(txn);
  return rc ? fail(st, "write", rc) : 1;
}

int sdu_state_del(sdu_state *st, const char *key, size_t klen)
{
  struct delargs a;
  if (st->rd) return redis(st, sdu_redis_del(st, key, klen));
  a.key = key; a.klen = klen;
  return guarded(st, del_in, &a);
}

#define NOTCOUNTER SDU_STATE_NOTCOUNTER

static int incr_in(MDB_txn *txn, unsigned int dbi, MDB_val *k, unsigned long long now,
  unsigned long window, unsigned long limit, unsigned long hold, unsigned long *count)
{
  MDB_val d;
  unsigned long long exp = 0, n = 0;
  unsigned char buf[HDR + 8];
  int rc = mdb_get(txn, dbi, k, &d);
  if (rc && rc != MDB_NOTFOUND) return rc;
  /* an expired entry is an absent one, whatever its size: one of another
     kind is in the way only while it lives */
  if (!rc && d.mv_size >= HDR && !live(sdu_state_unpack64(d.mv_data), now)) rc = MDB_NOTFOUND;
  if (!rc) {
    if (d.mv_size != sizeof buf) return NOTCOUNTER;
    exp = sdu_state_unpack64(d.mv_data);
    n = sdu_state_unpack64((const unsigned char *) d.mv_data + HDR);
  }
  if (!rc && exp && now < exp) {
    if (n < (unsigned long) -1) ++n;
  } else {
    n = 1;
    exp = sdu_later(now, window);
  }
  /* the event that passes the limit starts the hold (a hold past the
     end of time is for ever, as on Redis) */
  if (hold && n == (unsigned long long) limit + 1) {
    unsigned long long end = sdu_later(now, hold);
    if (end > exp) exp = end;
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
  rc = incr_in(txn, st->dbi, k, now, window, 0, 0, &n);
  if (rc) { txnabort(txn); return rc; }
  rc = commit(txn);
  if (!rc) *count = n;
  return rc;
}

struct incrargs { const char *key; size_t klen; unsigned long long now; unsigned long window, *count; };

static int incr_in1(sdu_state *st, void *arg)
{
  struct incrargs *a = arg;
  const char *key = a->key;
  size_t klen = a->klen;
  unsigned long long now = a->now;
  unsigned long window = a->window, *count = a->count;
  MDB_val k;
  unsigned long n;
  int rc;
  if (!keyok(st, klen)) return -1;
  if (!window) return failmsg(st, EINVAL, "counter window of 0 seconds");
  k.mv_data = (void *) key;
  k.mv_size = klen;
  rc = incr1(st, &k, now, window, count);
  if (rc == MDB_MAP_FULL) {
    cleanup_in(st, now, &n);
    rc = incr1(st, &k, now, window, count);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_incr(sdu_state *st, const char *key, size_t klen, unsigned long long now,
  unsigned long window, unsigned long *count)
{
  struct incrargs a;
  if (st->rd) {
    sdu_state_op op;
    memset(&op, 0, sizeof op);
    op.st = st; op.incr = 1; op.key = key; op.klen = klen; op.window = window;
    if (redis(st, sdu_redis_batch(&op, 1, now)) == -1) return -1;
    *count = op.count;
    return 0;
  }
  a.key = key; a.klen = klen; a.now = now; a.window = window; a.count = count;
  return guarded(st, incr_in1, &a);
}

static int txn1(sdu_state *st, int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi), void *ctx)
{
  MDB_txn *txn;
  int rc = wbegin(st, &txn);
  if (rc) return rc;
  rc = fn(ctx, txn, st->dbi);
  if (rc) { txnabort(txn); return rc; }
  return commit(txn);
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
    rc = op->incr ? incr_in(txn, op->st->dbi, &k, bt->now, op->window, op->limit, op->hold, &op->count)
      : put_in(txn, op->st->dbi, &k, op->val, op->vlen, op->expires);
  }
  return rc;
}

static int batch_in(sdu_state *st, void *arg)
{
  struct batch bt = *(struct batch *) arg;
  sdu_state_op *ops = bt.ops;
  unsigned int n = bt.n;
  unsigned long long now = bt.now;
  unsigned long gone;
  unsigned int i;
  int rc;
  for (i = 0; i < n; ++i) {
    if (!keyok(st, ops[i].klen)) return -1;
    if (ops[i].st->env != st->env) return failmsg(st, EINVAL, "batch over two directories");
    if (ops[i].incr && !ops[i].window) return failmsg(st, EINVAL, "counter window of 0 seconds");
    if (!ops[i].incr && ops[i].vlen > SDU_STATE_VAL_MAX) return failmsg(st, EMSGSIZE, "value longer than 65536 bytes");
  }
  rc = txn1(st, batchfn, &bt);
  if (rc == MDB_MAP_FULL) {
    for (i = 0; i < n; ++i) cleanup_in(ops[i].st, now, &gone);
    rc = txn1(st, batchfn, &bt);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_batch(sdu_state_op *ops, unsigned int n, unsigned long long now)
{
  struct batch bt;
  if (!n) return 0;
  if (ops[0].st->rd) return redis(ops[0].st, sdu_redis_batch(ops, n, now));
  bt.ops = ops; bt.n = n; bt.now = now;
  return guarded(ops[0].st, batch_in, &bt);
}

int sdu_state_txn_incr(struct MDB_txn *txn, unsigned int dbi, const char *key, size_t klen,
  unsigned long long now, unsigned long window, unsigned long *count)
{
  MDB_val k;
  if (klen < 1 || klen > SDU_STATE_KEY_MAX || !window) return EINVAL;
  k.mv_data = (void *) key;
  k.mv_size = klen;
  return incr_in(txn, dbi, &k, now, window, 0, 0, count);
}

struct txnargs { int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi); void *ctx; };

static int view_in(sdu_state *st, void *arg)
{
  struct txnargs *a = arg;
  int rc = rbegin(st);
  if (rc) return fail(st, "read", rc);
  rc = a->fn(a->ctx, st->rtxn, st->dbi);
  rdone(st);
  return rc ? fail(st, "read", rc) : 0;
}

static int sub_in(sdu_state *st, void *table)
{
  return opendbi(st, table, &st->subdbi);
}

int sdu_state_sub(sdu_state *st, const char *table, unsigned int *dbi)
{
  if (st->rd) return failmsg(st, EINVAL, "no direct access to a Redis store");
  if (!nameok(st, table)) return -1;
  if (!st->env) return fail(st, "read", MDB_BAD_TXN);
  if (strcmp(st->sub, table)) {
    if (guarded(st, sub_in, (void *) table) == -1) return errno == ENOENT && (st->flags & SDU_STATE_RDONLY) ? 0 : -1;
    memcpy(st->sub, table, strlen(table) + 1);
  }
  *dbi = st->subdbi;
  return 1;
}

int sdu_state_view(sdu_state *st, int (*fn)(void *ctx, struct MDB_txn *txn, unsigned int dbi), void *ctx)
{
  struct txnargs a;
  if (st->rd) return failmsg(st, EINVAL, "no direct access to a Redis store");
  a.fn = fn; a.ctx = ctx;
  return guarded(st, view_in, &a);
}

static int txn_in(sdu_state *st, void *arg)
{
  struct txnargs *a = arg;
  int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi) = a->fn;
  void *ctx = a->ctx;
  unsigned long n;
  int rc = txn1(st, fn, ctx);
  if (rc == MDB_MAP_FULL) {
    cleanup_in(st, sdu_now(), &n);
    rc = txn1(st, fn, ctx);
    if (rc == MDB_MAP_FULL) return full(st);
  }
  if (rc == NOTCOUNTER) return failmsg(st, EPROTO, "entry is not a counter");
  return rc ? fail(st, "write", rc) : 0;
}

int sdu_state_txn(sdu_state *st, int (*fn)(void *ctx, MDB_txn *txn, unsigned int dbi), void *ctx)
{
  struct txnargs a;
  if (st->rd) {
    sdu_state *l;
    int rc;
    if (sdu_redis_local(st, &l) == -1) return -1;
    rc = sdu_state_txn(l, fn, ctx);
    if (rc == -1) { memcpy(st->err, l->err, sizeof st->err); st->why = l->why; }
    return rc;
  }
  a.fn = fn; a.ctx = ctx;
  return guarded(st, txn_in, &a);
}

static int cleanup_in(sdu_state *st, unsigned long long now, unsigned long *removed)
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
    if (rc) { txnabort(txn); return fail(st, "clean up", rc); }
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
    if (rc && rc != MDB_NOTFOUND) { txnabort(txn); return fail(st, "clean up", rc); }
    if (deleted) {
      int crc = commit(txn);
      if (crc) return fail(st, "clean up", crc);
      total += deleted;
      if (removed) *removed = total;
    } else
      txnabort(txn);
    if (rc == MDB_NOTFOUND) return 0;
  }
}

struct cleanargs { unsigned long long now; unsigned long *removed; };

static int cleanup_in1(sdu_state *st, void *arg)
{
  struct cleanargs *a = arg;
  return cleanup_in(st, a->now, a->removed);
}

int sdu_state_cleanup(sdu_state *st, unsigned long long now, unsigned long *removed)
{
  struct cleanargs a;
  if (st->rd) return redis(st, sdu_redis_cleanup(st, now, removed));
  a.now = now; a.removed = removed;
  return guarded(st, cleanup_in1, &a);
}

struct walkargs {
  unsigned long long now;
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires);
  void *ctx;
};

static int walk_in(sdu_state *st, void *arg)
{
  struct walkargs *a = arg;
  unsigned long long now = a->now;
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
    r = a->fn(a->ctx, k.mv_data, k.mv_size, (const char *) d.mv_data + HDR, d.mv_size - HDR, exp);
    if (r) break;
  }
  mdb_cursor_close(c);
  rdone(st);
  if (r) return r;
  if (rc != MDB_NOTFOUND) return fail(st, "read", rc);
  return 0;
}

int sdu_state_walk(sdu_state *st, unsigned long long now,
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires), void *ctx)
{
  struct walkargs a;
  if (st->rd) return redis(st, sdu_redis_walk(st, now, fn, ctx));
  a.now = now; a.fn = fn; a.ctx = ctx;
  return guarded(st, walk_in, &a);
}

int sdu_state_isaddr(const char *name)
{
  return sdu_redis_is(name);
}

int sdu_state_shared(const sdu_state *st)
{
  return st->rd != 0;
}

struct swap {
  MDB_val k;
  const char *old, *val;
  size_t oldlen, vlen;
  unsigned long long oldexp, expires, now;
  int absent, done;
};

static int swapfn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct swap *w = ctx;
  MDB_val d;
  int rc = mdb_get(txn, dbi, &w->k, &d), islive;
  w->done = 0;
  if (rc && rc != MDB_NOTFOUND) return rc;
  islive = !rc && d.mv_size >= HDR && live(sdu_state_unpack64(d.mv_data), w->now);
  if (w->absent ? islive
    : !islive || d.mv_size != HDR + w->oldlen || sdu_state_unpack64(d.mv_data) != w->oldexp
      || memcmp((const char *) d.mv_data + HDR, w->old, w->oldlen)) return 0;
  rc = put_in(txn, dbi, &w->k, w->val, w->vlen, w->expires);
  if (!rc) w->done = 1;
  return rc;
}

int sdu_state_swap(sdu_state *st, const char *key, size_t klen, const char *old, size_t oldlen,
  unsigned long long oldexp, int absent, const char *val, size_t vlen, unsigned long long expires,
  unsigned long long now)
{
  struct swap w;
  if (st->rd) return redis(st, sdu_redis_swap(st, key, klen, old, oldlen, oldexp, absent, val, vlen, expires, now));
  if (!keyok(st, klen)) return -1;
  if (vlen > SDU_STATE_VAL_MAX) return failmsg(st, EMSGSIZE, "value longer than 65536 bytes");
  w.k.mv_data = (void *) key; w.k.mv_size = klen;
  w.old = old; w.oldlen = oldlen; w.oldexp = oldexp; w.absent = absent;
  w.val = val; w.vlen = vlen; w.expires = expires; w.now = now;
  if (sdu_state_txn(st, swapfn, &w) == -1) return -1;
  return w.done;
}
