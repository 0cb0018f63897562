/* t_state.c: the LMDB state store (sdu_state) and the clock and durations (sdu_time) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <lmdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <hiredis/hiredis.h>
#include "sdu_t.h"
#include "sdu_t_redis.h"
#include "sdu_state.h"
#include "sdu_time.h"
#include "sdu_state_redis.h"

static char top[256];
static char path[512];

static const char *at(const char *name)
{
  snprintf(path, sizeof path, "%s/%s", top, name);
  return path;
}

/* the store the shared cases run on: the directory name, or on the second
   pass the Redis server the test started */
static const char *rstore;
static char raddr[1200], rsock[400];
#define S(name) (rstore ? rstore : at(name))

static int contains(const char *s, const char *part)
{
  return strstr(s, part) != 0;
}

#define PUTS(st, k, v, exp) sdu_state_put((st), (k), strlen(k), (v), strlen(v), (exp))
#define GETS(st, k, val, now, exp) sdu_state_get((st), (k), strlen(k), (val), (now), (exp))

/* the open fds of this process, as a bit set */
static void fdset(unsigned char *set, size_t n)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  memset(set, 0, n);
  if (!d) return;
  while ((e = readdir(d))) {
    long fd = strtol(e->d_name, 0, 10);
    if (fd > 0 && (size_t) fd < n && fd != dirfd(d)) set[fd] = 1;
  }
  closedir(d);
}

struct walked { stralloc sa; int calls; int stopat; };

static int collect(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  struct walked *w = ctx;
  char num[32];
  ++w->calls;
  snprintf(num, sizeof num, "@%llu", expires);
  if (!stralloc_catb(&w->sa, key, klen) || !stralloc_cats(&w->sa, "=")
    || !stralloc_catb(&w->sa, val, vlen) || !stralloc_cats(&w->sa, num)
    || !stralloc_cats(&w->sa, " ")) exit(111);
  return w->calls == w->stopat ? 7 : 0;
}

static int dies(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  (void) ctx; (void) key; (void) klen; (void) val; (void) vlen; (void) expires;
  kill(getpid(), SIGKILL);
  return 0;
}

/* mdb_reader_list's lines are "pid thread txnid": count those of one pid */
static int readers;
static int countreader(const char *msg, void *ctx)
{
  if (strtol(msg, 0, 10) == (long) *(pid_t *) ctx) ++readers;
  return 0;
}

static void t_time(void)
{
  unsigned long s;
  unsigned long long now;
  time_t t;
  static const char *bad[] = { "", "s", "-1", "+5", " 5", "5 ", "5x", "5ms", "10M", "1.5h",
    "18446744073709551616", "213503982334602d", "99999999999999999999999", 0 };
  int i, allbad = 1;

  T_OK(setenv("SDU_TEST_NOW", "1234567890", 1) == 0, "setenv");
  T_EQI(sdu_now() == 1234567890ULL, 1, "sdu_now honours SDU_TEST_NOW");
  setenv("SDU_TEST_NOW", "18446744073709551615", 1);
  T_OK(sdu_now() == 18446744073709551615ULL, "sdu_now: SDU_TEST_NOW up to 2^64-1");
  setenv("SDU_TEST_NOW", "12x", 1);
  t = time(0);
  now = sdu_now();
  T_OK(now >= (unsigned long long) t && now <= (unsigned long long) t + 2, "sdu_now ignores a SDU_TEST_NOW that is not a number");
  unsetenv("SDU_TEST_NOW");
  t = time(0);
  now = sdu_now();
  T_OK(now >= (unsigned long long) t && now <= (unsigned long long) t + 2, "sdu_now is the real clock without SDU_TEST_NOW");

  /* sdu_clock: the first calls by system call, the rest through the vDSO;
     across the switch both clocks agree with the C library's */
  {
    struct timespec a, b, c;
    unsigned long long prev = 0, ms;
    int agree = 1, mono = 1, k;
    for (k = 0; k < 40; ++k) {
      clock_gettime(CLOCK_REALTIME, &a);
      sdu_clock(CLOCK_REALTIME, &b);
      clock_gettime(CLOCK_REALTIME, &c);
      if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec)
          || c.tv_sec < b.tv_sec || (c.tv_sec == b.tv_sec && c.tv_nsec < b.tv_nsec)) agree = 0;
      ms = sdu_ms();
      if (ms < prev) mono = 0;
      prev = ms;
    }
    T_OK(agree, "sdu_clock(CLOCK_REALTIME) lies between two clock_gettime calls, before and after the switch");
    T_OK(mono, "sdu_ms never goes back across the switch");
  }

  /* sdu_now_at: the wall clock from a monotonic reading, read once */
  {
    unsigned long long ms, a0, a1, a2, ab;
    setenv("SDU_TEST_NOW", "1234567890", 1);
    T_OK(sdu_now_at(sdu_ms()) == 1234567890ULL && sdu_now_at(sdu_ms() + 99000) == 1234567890ULL,
      "sdu_now_at: SDU_TEST_NOW, whatever the reading");
    unsetenv("SDU_TEST_NOW");
    t = time(0);
    ms = sdu_ms();
    a0 = sdu_now_at(ms);
    T_OK(a0 >= (unsigned long long) t && a0 <= (unsigned long long) t + 2, "sdu_now_at: the real clock at the first reading");
    a1 = sdu_now_at(ms + 5000);
    a2 = sdu_now_at(ms + 3600000);
    ab = sdu_now_at(ms > 5000 ? ms - 5000 : 0);
    /* exact: the base is read once, in milliseconds, and only moved by ms */
    T_OK(a1 == a0 + 5, "sdu_now_at: 5 s of the monotonic clock later, 5 s later");
    T_OK(a2 == a0 + 3600, "sdu_now_at: an hour later");
    T_OK(ab == a0, "sdu_now_at: a reading before the first one is taken as the first");
  }

  T_OK(sdu_parse_duration("90", &s) && s == 90, "duration 90");
  T_OK(sdu_parse_duration("90s", &s) && s == 90, "duration 90s");
  T_OK(sdu_parse_duration("10m", &s) && s == 600, "duration 10m");
  T_OK(sdu_parse_duration("3h", &s) && s == 10800, "duration 3h");
  T_OK(sdu_parse_duration("7d", &s) && s == 604800, "duration 7d");
  T_OK(sdu_parse_duration("0", &s) && s == 0, "duration 0");
  T_OK(sdu_parse_duration("007m", &s) && s == 420, "duration with leading zeros");
  if (ULONG_MAX == 18446744073709551615UL) {
    T_OK(sdu_parse_duration("18446744073709551615", &s) && s == ULONG_MAX, "duration at ULONG_MAX");
    T_OK(sdu_parse_duration("213503982334601d", &s) && s == 213503982334601UL * 86400, "largest number of days");
  } else
    T_SKIP("duration bounds", "unsigned long is not 64 bits");
  for (i = 0; bad[i]; ++i) {
    s = 4242;
    if (sdu_parse_duration(bad[i], &s) || s != 4242) {
      printf("#   accepted [%s]\n", bad[i]);
      allbad = 0;
    }
  }
  T_OK(allbad, "bad durations refused, result untouched");
}

static void t_basic(void)
{
  sdu_state st, st2, ro;
  stralloc val = {0};
  unsigned long long exp;
  unsigned char before[1024], after[1024];
  char key[SDU_STATE_KEY_MAX + 1];
  char *big;
  struct stat sb;
  size_t i;
  int cloexec = 1, newfds = 0;

  fdset(before, sizeof before);
  T_EQI(sdu_state_open(&st, S("db"), "t.basic", 0), 0, "open creates the files in an empty directory");
  fdset(after, sizeof after);
  for (i = 0; i < sizeof after; ++i)
    if (after[i] && !before[i]) {
      ++newfds;
      if (!(fcntl((int) i, F_GETFD) & FD_CLOEXEC)) cloexec = 0;
    }
  T_OK(newfds >= 1 && cloexec, "every fd the store opens is close-on-exec");
  if (!rstore) T_OK(stat(at("db/data.mdb"), &sb) == 0 && stat(at("db/lock.mdb"), &sb) == 0, "data.mdb and lock.mdb exist");

  T_EQI(PUTS(&st, "a", "one", 1000), 0, "put");
  exp = 0;
  T_EQI(GETS(&st, "a", &val, 999, &exp), 1, "get before expiry");
  T_EQB(val.s, val.len, "one", "get: value");
  T_OK(exp == 1000, "get: expiry");
  T_EQI(GETS(&st, "a", &val, 1000, 0), 0, "absent at the expiry time");
  T_EQI(GETS(&st, "a", &val, 5000, 0), 0, "absent after expiry");
  T_EQI(GETS(&st, "a", 0, 10, 0), 1, "get without fetching the value");
  T_EQI(GETS(&st, "zz", &val, 0, 0), 0, "absent key");
  T_EQI(PUTS(&st, "a", "two", 0), 0, "overwrite");
  T_EQI(GETS(&st, "a", &val, 18446744073709551615ULL, &exp), 1, "0 never expires");
  T_EQB(val.s, val.len, "two", "overwritten value");
  T_OK(exp == 0, "overwritten expiry");
  T_EQI(PUTS(&st, "e", "", 0), 0, "put of an empty value");
  T_EQI(GETS(&st, "e", &val, 1, 0), 1, "empty value found");
  T_EQI(val.len, 0, "empty value is empty");
  T_EQI(sdu_state_put(&st, "b\0c", 3, "\0\xff\n", 3, 0), 0, "binary key and value");
  T_EQI(sdu_state_get(&st, "b\0c", 3, &val, 1, 0), 1, "binary key found");
  T_OK(val.len == 3 && memcmp(val.s, "\0\xff\n", 3) == 0, "binary value intact");
  T_EQI(sdu_state_get(&st, "b", 1, &val, 1, 0), 0, "keys are exact");

  T_EQI(sdu_state_del(&st, "a", 1), 1, "del");
  T_EQI(sdu_state_del(&st, "a", 1), 0, "del of an absent key");
  T_EQI(GETS(&st, "a", &val, 1, 0), 0, "deleted key absent");
  T_EQI(PUTS(&st, "old", "x", 5), 0, "put already expired");
  T_EQI(GETS(&st, "old", &val, 6, 0), 0, "expired entry is absent");
  T_EQI(sdu_state_del(&st, "old", 3), 1, "del of an expired entry deletes it");

  memset(key, 'k', sizeof key);
  errno = 0;
  T_EQI(sdu_state_put(&st, key, 0, "x", 1, 0), -1, "empty key refused");
  T_EQI(errno, EINVAL, "empty key: EINVAL");
  T_EQI(sdu_state_put(&st, key, SDU_STATE_KEY_MAX, "x", 1, 0), 0, "key of 511 bytes");
  T_EQI(sdu_state_get(&st, key, SDU_STATE_KEY_MAX, &val, 0, 0), 1, "key of 511 bytes found");
  T_EQI(sdu_state_put(&st, key, SDU_STATE_KEY_MAX + 1, "x", 1, 0), -1, "key of 512 bytes refused");
  T_EQI(sdu_state_get(&st, key, SDU_STATE_KEY_MAX + 1, &val, 0, 0), -1, "get with a key of 512 bytes refused");
  T_OK(contains(sdu_state_error(&st), "key"), "reason names the key");
  big = malloc(SDU_STATE_VAL_MAX + 1);
  if (!big) exit(111);
  memset(big, 'v', SDU_STATE_VAL_MAX + 1);
  T_EQI(sdu_state_put(&st, "big", 3, big, SDU_STATE_VAL_MAX, 0), 0, "value at the bound");
  T_EQI(sdu_state_get(&st, "big", 3, &val, 0, 0), 1, "value at the bound found");
  T_OK(val.len == SDU_STATE_VAL_MAX && memcmp(val.s, big, val.len) == 0, "value at the bound intact");
  errno = 0;
  T_EQI(sdu_state_put(&st, "big", 3, big, SDU_STATE_VAL_MAX + 1, 0), -1, "value over the bound refused");
  T_EQI(errno, EMSGSIZE, "value over the bound: EMSGSIZE");
  free(big);

  /* a second table of the same directory */
  T_EQI(sdu_state_open_table(&st2, &st, "t.other"), 0, "open_table");
  T_EQI(GETS(&st2, "e", &val, 1, 0), 0, "tables are separate");
  T_EQI(PUTS(&st2, "e", "other", 0), 0, "put in the second table");
  T_EQI(GETS(&st2, "e", &val, 1, 0), 1, "get from the second table");
  T_EQB(val.s, val.len, "other", "second table's value");
  T_EQI(GETS(&st, "e", &val, 1, 0), 1, "first table unchanged");
  T_EQI(val.len, 0, "first table's value unchanged");
  sdu_state_close(&st2);
  sdu_state_close(&st);
  sdu_state_close(&st); /* twice is harmless */
  if (rstore) { stralloc_free(&val); return; } /* Redis has no read-only stores or tables to find */

  /* read-only */
  errno = 0;
  T_EQI(sdu_state_open(&ro, at("db"), "t.missing", SDU_STATE_RDONLY), -1, "read-only open of a missing table fails");
  T_EQI(errno, ENOENT, "missing table: ENOENT");
  T_OK(contains(sdu_state_error(&ro), "no such table") && contains(sdu_state_error(&ro), "t.missing"),
    "missing table: reason names the table");
  printf("#   %s\n", sdu_state_error(&ro));
  sdu_state_close(&ro);
  T_EQI(sdu_state_open(&ro, at("db"), "t.basic", SDU_STATE_RDONLY), 0, "read-only open of an existing table");
  T_EQI(GETS(&ro, "b\0c", &val, 1, 0), 0, "read-only: absent");
  T_EQI(sdu_state_get(&ro, "b\0c", 3, &val, 1, 0), 1, "read-only: get");
  errno = 0;
  T_EQI(PUTS(&ro, "x", "y", 0), -1, "read-only: put refused");
  T_EQI(errno, EROFS, "read-only: EROFS");
  T_EQI(sdu_state_del(&ro, "e", 1), -1, "read-only: del refused");
  sdu_state_close(&ro);
  T_EQI(sdu_state_open(&ro, at("db"), "t.missing", 0), 0, "read-write open creates a missing table");
  sdu_state_close(&ro);
  T_EQI(sdu_state_open(&ro, at("db"), "t.missing", SDU_STATE_RDONLY), 0, "then read-only open finds it");
  sdu_state_close(&ro);
  T_EQI(sdu_state_open(&ro, at("db"), "", 0), -1, "empty table name refused");
  T_EQI(sdu_state_open(&ro, at("db"),
    "12345678901234567890123456789012345678901234567890123456789012345", 0), -1, "table name of 65 bytes refused");
  sdu_state_close(&ro);
  stralloc_free(&val);
}

static void t_incr(void)
{
  sdu_state st;
  stralloc val = {0};
  unsigned long c = 0;
  unsigned long long exp = 0;

  T_EQI(sdu_state_open(&st, S("db"), "t.incr", 0), 0, "open for counters");
  T_OK(sdu_state_incr(&st, "k", 1, 100, 60, &c) == 0 && c == 1, "first event counts 1");
  T_OK(sdu_state_incr(&st, "k", 1, 130, 60, &c) == 0 && c == 2, "second event in the window");
  T_OK(sdu_state_incr(&st, "k", 1, 159, 60, &c) == 0 && c == 3, "last second of the window");
  T_OK(GETS(&st, "k", &val, 159, &exp) == 1 && exp == 160, "counter expires at the window's end");
  T_EQI(GETS(&st, "k", &val, 160, 0), 0, "counter absent after its window");
  T_OK(sdu_state_incr(&st, "k", 1, 160, 60, &c) == 0 && c == 1, "window over: the count restarts at 1");
  T_OK(GETS(&st, "k", &val, 160, &exp) == 1 && exp == 220, "new window starts at the restart");
  T_OK(sdu_state_incr(&st, "k", 1, 219, 60, &c) == 0 && c == 2, "counts in the new window");
  T_OK(sdu_state_incr(&st, "j", 1, 219, 60, &c) == 0 && c == 1, "keys count separately");
  T_OK(sdu_state_incr(&st, "k", 1, 5000, 60, &c) == 0 && c == 1, "long after: restart at 1");
  T_EQI(sdu_state_incr(&st, "k", 1, 5000, 0, &c), -1, "window of 0 refused");
  T_EQI(PUTS(&st, "p", "not a counter", 0), 0, "put a plain entry");
  errno = 0;
  T_EQI(sdu_state_incr(&st, "p", 1, 1, 60, &c), -1, "incr of a plain entry fails");
  T_EQI(errno, EPROTO, "incr of a plain entry: EPROTO");
  T_OK(contains(sdu_state_error(&st), "not a counter"), "incr of a plain entry: reason");
  T_EQI(PUTS(&st, "q", "expired, not a counter", 50), 0, "put a plain entry that expires");
  T_OK(sdu_state_incr(&st, "q", 1, 100, 60, &c) == 0 && c == 1, "incr of an expired plain entry: absent, counts 1");
  T_OK(sdu_state_incr(&st, "q", 1, 101, 60, &c) == 0 && c == 2, "incr of an expired plain entry: a counter since");
  T_OK(sdu_state_incr(&st, "big", 3, 18446744073709551615ULL - 5, 60, &c) == 0 && c == 1, "window end past 2^64 is capped");
  T_OK(sdu_state_incr(&st, "big", 3, 18446744073709551615ULL - 1, 60, &c) == 0 && c == 2, "capped window still counts");
  sdu_state_close(&st);
  stralloc_free(&val);
}

#define KIDS 8
#define ROUNDS 200

static void t_concurrent(void)
{
  sdu_state st;
  pid_t pid[KIDS];
  int p[2], i, okkids = 0;
  unsigned long c = 0;
  unsigned int seen[KIDS * ROUNDS + 1], got;
  int dup = 0, missing = 0, bad = 0;
  ssize_t r;

  if (pipe(p) == -1) exit(111);
  for (i = 0; i < KIDS; ++i) {
    pid[i] = fork();
    if (pid[i] == -1) exit(111);
    if (!pid[i]) {
      sdu_state s;
      unsigned long n, prev = 0;
      int j;
      close(p[0]);
      if (sdu_state_open(&s, S("db"), "t.conc", 0) == -1) _exit(1);
      for (j = 0; j < ROUNDS; ++j) {
        unsigned int u;
        if (sdu_state_incr(&s, "hits", 4, 1000, 3600, &n) == -1) _exit(2);
        if (n <= prev) _exit(3);
        prev = n;
        u = (unsigned int) n;
        if (write(p[1], &u, sizeof u) != sizeof u) _exit(4);
      }
      sdu_state_close(&s);
      _exit(0);
    }
  }
  close(p[1]);
  memset(seen, 0, sizeof seen);
  while ((r = read(p[0], &got, sizeof got)) == sizeof got) {
    if (got < 1 || got > KIDS * ROUNDS) ++bad;
    else if (seen[got]++) ++dup;
  }
  close(p[0]);
  for (i = 0; i < KIDS; ++i) {
    int ws;
    if (waitpid(pid[i], &ws, 0) == pid[i] && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) ++okkids;
  }
  for (got = 1; got <= KIDS * ROUNDS; ++got) if (!seen[got]) ++missing;
  T_EQI(okkids, KIDS, "8 processes each counted 200 events");
  T_OK(!dup && !missing && !bad, "every count 1..1600 handed out exactly once");
  T_EQI(sdu_state_open(&st, S("db"), "t.conc", 0), 0, "open after the processes");
  T_OK(sdu_state_incr(&st, "hits", 4, 1000, 3600, &c) == 0, "one more event");
  T_EQI(c, KIDS * ROUNDS + 1, "the total is exact: 1600 + 1");
  sdu_state_close(&st);
}

static void t_cleanup_walk(void)
{
  sdu_state st;
  struct walked w;
  unsigned long removed = 99;
  char k[32];
  int i, n;
  stralloc val = {0};

  T_EQI(sdu_state_open(&st, S("db"), "t.walk", 0), 0, "open for walk and cleanup");
  T_EQI(PUTS(&st, "c", "3", 0), 0, "put c");
  T_EQI(PUTS(&st, "a", "1", 2000), 0, "put a");
  T_EQI(PUTS(&st, "bb", "gone", 500), 0, "put bb (expires first)");
  T_EQI(PUTS(&st, "b", "2", 1001), 0, "put b");
  memset(&w, 0, sizeof w);
  T_EQI(sdu_state_walk(&st, 1000, collect, &w), 0, "walk");
  T_EQB(w.sa.s, w.sa.len, "a=1@2000 b=2@1001 c=3@0 ", "walk: key order, expired skipped");
  w.sa.len = 0;
  w.calls = 0;
  T_EQI(sdu_state_walk(&st, 1001, collect, &w), 0, "walk later");
  T_EQB(w.sa.s, w.sa.len, "a=1@2000 c=3@0 ", "walk later: b expired too");
  w.sa.len = 0;
  w.calls = 0;
  w.stopat = 2;
  T_EQI(sdu_state_walk(&st, 0, collect, &w), 7, "walk stops at the callback's non-zero value");
  T_EQI(w.calls, 2, "walk: no call after the stop");
  T_EQI(PUTS(&st, "d", "after walk", 0), 0, "put works after a stopped walk");

  /* an entry too short for its expiry, as only another program could write it */
  if (rstore) {
    redisContext *rc = redisConnectUnix(rsock);
    redisReply *r = rc && !rc->err ? redisCommand(rc, "SET t.walk:bad xyz") : 0;
    if (!r) exit(111);
    freeReplyObject(r);
    redisFree(rc);
  } else {
    MDB_txn *txn;
    MDB_val k0, d0;
    k0.mv_data = "bad";
    k0.mv_size = 3;
    d0.mv_data = "xyz";
    d0.mv_size = 3;
    if (mdb_txn_begin(st.env, 0, 0, &txn) || mdb_put(txn, st.dbi, &k0, &d0, 0) || mdb_txn_commit(txn)) exit(111);
  }
  errno = 0;
  T_EQI(sdu_state_get(&st, "bad", 3, &val, 0, 0), -1, "malformed entry: get fails");
  T_EQI(errno, EPROTO, "malformed entry: EPROTO");
  T_OK(contains(sdu_state_error(&st), "corrupt"), "malformed entry: reason");
  w.calls = 0;
  w.stopat = 0;
  T_EQI(sdu_state_walk(&st, 0, collect, &w), -1, "malformed entry: walk fails");
  T_EQI(w.calls, 2, "malformed entry: walk stops there");
  T_EQI(sdu_state_cleanup(&st, 1001, &removed), 0, "cleanup");
  T_EQI(removed, 3, "cleanup removed the 2 expired entries and the malformed one");
  T_EQI(sdu_state_get(&st, "bad", 3, &val, 0, 0), 0, "malformed entry gone");
  T_EQI(sdu_state_get(&st, "bb", 2, &val, 0, 0), 0, "expired entry gone even for an earlier now");
  T_EQI(sdu_state_get(&st, "a", 1, &val, 0, 0), 1, "live entry kept");
  T_EQI(sdu_state_cleanup(&st, 1001, &removed), 0, "cleanup again");
  T_EQI(removed, 0, "nothing more to remove");

  /* more than one batch, live entries in between */
  n = 0;
  for (i = 0; i < 2600; ++i) {
    snprintf(k, sizeof k, "m%05d", i);
    if (PUTS(&st, k, "v", (i % 10 == 9) ? 0 : 3000) == 0) ++n;
  }
  T_EQI(n, 2600, "2600 puts");
  T_EQI(sdu_state_cleanup(&st, 2999, &removed), 0, "cleanup before the m-entries expire");
  T_EQI(removed, 1, "only a (expired at 2000) removed");
  T_EQI(sdu_state_cleanup(&st, 3000, &removed), 0, "cleanup of 2340 entries in batches");
  T_EQI(removed, 2340, "all 2340 expired entries removed");
  w.sa.len = 0;
  w.calls = w.stopat = 0;
  T_EQI(sdu_state_walk(&st, 0, collect, &w), 0, "walk after cleanup");
  T_EQI(w.calls, 260 + 2, "260 live m-entries plus c and d left");
  stralloc_free(&w.sa);
  sdu_state_close(&st);
  stralloc_free(&val);
}

static void t_full(void)
{
  sdu_state st;
  char k[32], v[1000];
  int i, r = 0;
  stralloc val = {0};

  memset(v, 'f', sizeof v);
  if (mkdir(at("small"), 0755) == -1) exit(111);
  T_EQI(sdu_state_open_size(&st, at("small"), "t.full", 0, 256 << 10), 0, "open with a map of 256 KiB");
  setenv("SDU_TEST_NOW", "50", 1);
  for (i = 0; i < 1000; ++i) {
    snprintf(k, sizeof k, "f%04d", i);
    r = sdu_state_put(&st, k, strlen(k), v, sizeof v, 100);
    if (r) break;
  }
  T_OK(r == -1 && i > 50 && i < 1000, "the small map fills up");
  T_EQI(errno, ENOSPC, "full: ENOSPC");
  T_OK(contains(sdu_state_error(&st), "full"), "full: reason says so");
  T_OK(contains(sdu_state_advice(&st), "expire by themselves"), "full map: the advice is not to free disk space");
  printf("#   after %d puts: %s\n", i, sdu_state_error(&st));
  T_EQI(GETS(&st, "f0000", &val, 50, 0), 1, "nothing lost while full");
  setenv("SDU_TEST_NOW", "200", 1);
  T_EQI(sdu_state_put(&st, "new", 3, v, sizeof v, 0), 0, "full with expired entries: put cleans up and succeeds");
  T_EQI(GETS(&st, "f0000", &val, 0, 0), 0, "the cleanup removed the expired entries");
  T_EQI(GETS(&st, "new", &val, 0, 0), 1, "the new entry is there");
  unsetenv("SDU_TEST_NOW");
  sdu_state_close(&st);
  stralloc_free(&val);
}

/* another process grows the file beyond this process's map size */
static void t_resized(void)
{
  sdu_state st;
  stralloc val = {0};
  char v[1000];
  pid_t pid;
  int ws;

  memset(v, 'r', sizeof v);
  if (mkdir(at("resize"), 0755) == -1) exit(111);
  T_EQI(sdu_state_open_size(&st, at("resize"), "t", 0, 256 << 10), 0, "open with a map of 256 KiB");
  T_EQI(sdu_state_put(&st, "first", 5, "1", 1, 0), 0, "put in the small map");
  T_EQI(GETS(&st, "first", &val, 0, 0), 1, "get in the small map");
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state s;
    char k[32];
    int i;
    if (sdu_state_open_size(&s, at("resize"), "t", 0, 4 << 20) == -1) _exit(1);
    for (i = 0; i < 1000; ++i) {
      snprintf(k, sizeof k, "r%04d", i);
      if (sdu_state_put(&s, k, strlen(k), v, sizeof v, 0) == -1) _exit(2);
    }
    sdu_state_close(&s);
    _exit(0);
  }
  T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "another process fills 1 MB with a map of 4 MiB");
  T_EQI(GETS(&st, "r0999", &val, 0, 0), 1, "the small map adopts the larger size and reads");
  T_EQI(val.len, sizeof v, "the value read through the grown map");
  T_EQI(sdu_state_put(&st, "last", 4, v, sizeof v, 0), 0, "and writes");
  sdu_state_close(&st);
  stralloc_free(&val);
}

/* a reader that dies inside a read transaction leaves its slot; it is
   freed when the reader table is full (not at every open: that asks the
   kernel about every live reader). The first opener, here LMDB itself,
   sets the table's size: two slots. */
static pid_t diesinwalk(void)
{
  pid_t pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state s;
    if (sdu_state_open(&s, at("stale"), "t", 0) == -1) _exit(1);
    if (sdu_state_put(&s, "k", 1, "v", 1, 0) == -1) _exit(1);
    sdu_state_walk(&s, 0, dies, 0);
    _exit(2);
  }
  return pid;
}

static void t_stale_reader(void)
{
  MDB_env *env;
  pid_t pid, pid2, pid3;
  int ws, dead = -1;

  mkdir(at("stale"), 0755);
  if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, 2) || mdb_env_set_maxdbs(env, SDU_STATE_MAXDBS)
    || mdb_env_open(env, at("stale"), 0, 0660)) {
    T_OK(0, "stale: LMDB opens a table of two reader slots");
    return;
  }
  pid = diesinwalk();
  T_OK(waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws), "a reader killed inside a walk");
  pid2 = diesinwalk();
  T_OK(waitpid(pid2, &ws, 0) == pid2 && WIFSIGNALED(ws), "another one");
  readers = 0;
  mdb_reader_list(env, countreader, &pid);
  mdb_reader_list(env, countreader, &pid2);
  T_EQI(readers, 2, "their reader slots are left behind: the table is full");
  pid3 = fork();
  if (pid3 == -1) exit(111);
  if (!pid3) {
    sdu_state s;
    stralloc v = {0};
    if (sdu_state_open(&s, at("stale"), "t", 0) == -1) _exit(1);
    if (sdu_state_get(&s, "k", 1, &v, 0, 0) != 1) _exit(2);
    sdu_state_close(&s);
    _exit(0);
  }
  T_OK(waitpid(pid3, &ws, 0) == pid3 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "another process opens and reads all the same");
  readers = 0;
  mdb_reader_list(env, countreader, &pid);
  mdb_reader_list(env, countreader, &pid2);
  T_EQI(readers, 0, "the full table made it free the dead readers' slots");
  mdb_reader_check(env, &dead);
  T_EQI(dead, 0, "nothing left for mdb_reader_check");
  mdb_env_close(env);
}

/* several changes in one write transaction of the caller's */
struct txnctx { unsigned long a, b; int fail; int runs; };

static int txnfn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct txnctx *c = ctx;
  MDB_val k, d;
  unsigned char buf[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
  int rc;
  ++c->runs;
  rc = sdu_state_txn_incr(txn, dbi, "ta", 2, 100, 60, &c->a);
  if (!rc) rc = sdu_state_txn_incr(txn, dbi, "ta", 2, 100, 60, &c->b);
  if (rc) return rc;
  k.mv_data = "tb"; k.mv_size = 2;
  d.mv_data = buf; d.mv_size = sizeof buf; /* an entry that never expires, no bytes */
  rc = mdb_put(txn, dbi, &k, &d, 0);
  if (rc) return rc;
  return c->fail;
}

static void t_txn(void)
{
  sdu_state st;
  struct txnctx c = { 0, 0, 0, 0 };
  unsigned long n = 0;
  mkdir(at("txn"), 0755);
  T_EQI(sdu_state_open(&st, at("txn"), "t", SDU_STATE_NOSYNC), 0, "txn: open");
  T_EQI(sdu_state_txn(&st, txnfn, &c), 0, "txn: committed");
  T_OK(c.a == 1 && c.b == 2 && c.runs == 1, "txn: the second count sees the first");
  T_EQI(GETS(&st, "tb", 0, 100, 0), 1, "txn: fn's own put is there, in the entry format");
  c.fail = MDB_NOTFOUND;
  errno = 0;
  T_EQI(sdu_state_txn(&st, txnfn, &c), -1, "txn: fn's error aborts");
  T_EQI(errno, ENOENT, "txn: fn's error as errno");
  T_OK(sdu_state_incr(&st, "ta", 2, 101, 60, &n) == 0 && n == 3, "txn: nothing of the aborted one is kept");
  c.fail = SDU_STATE_NOTCOUNTER;
  errno = 0;
  T_EQI(sdu_state_txn(&st, txnfn, &c), -1, "txn: not a counter");
  T_EQI(errno, EPROTO, "txn: not a counter: EPROTO");
  T_EQI(sdu_state_txn_incr(0, 0, "", 0, 100, 60, &n), EINVAL, "txn_incr: empty key refused");
  T_EQI(sdu_state_txn_incr(0, 0, "k", 1, 100, 0, &n), EINVAL, "txn_incr: window 0 refused");
  sdu_state_close(&st);
}

/* sdu_state_view's fn: the entry "tb" of the table and of the sub table */
struct viewctx { unsigned int sub; const void *map; size_t len, sublen; int runs, fail; };
static int viewfn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct viewctx *c = ctx;
  MDB_val k, d;
  int rc;
  ++c->runs;
  if (c->fail) return c->fail;
  k.mv_data = "tb"; k.mv_size = 2;
  rc = mdb_get(txn, dbi, &k, &d);
  if (rc) return rc;
  c->map = d.mv_data; c->len = d.mv_size;
  k.mv_data = "sb"; k.mv_size = 2;
  rc = mdb_get(txn, c->sub, &k, &d);
  if (rc) return rc;
  c->sublen = d.mv_size;
  return 0;
}

static int subput(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct viewctx *c = ctx;
  MDB_val k, d;
  unsigned char buf[8 + 3] = { 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c' };
  (void) dbi;
  k.mv_data = "sb"; k.mv_size = 2;
  d.mv_data = buf; d.mv_size = sizeof buf;
  return mdb_put(txn, c->sub, &k, &d, 0);
}

/* 1 when p lies in a mapping of a file whose path ends with name */
static int inmapping(const void *p, const char *name)
{
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int in = 0;
  if (!f) return 0;
  while (!in && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    size_t n = strlen(line), m = strlen(name);
    if (n && line[n - 1] == '\n') line[--n] = 0;
    if (n < m || strcmp(line + n - m, name) || sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
    in = (unsigned long) p >= lo && (unsigned long) p < hi;
  }
  fclose(f);
  return in;
}

static void t_view_sub(void)
{
  sdu_state st, ro;
  struct viewctx c;
  unsigned int d1 = 0, d2 = 0;
  memset(&c, 0, sizeof c);
  T_EQI(sdu_state_open(&st, at("txn"), "t", SDU_STATE_NOSYNC), 0, "view: open");
  T_EQI(sdu_state_open(&ro, at("txn"), "t", SDU_STATE_RDONLY), 0, "view: open read-only");
  T_EQI(sdu_state_sub(&ro, "t.sub", &d1), 0, "sub: a table not there, read-only: 0");
  T_EQI(sdu_state_sub(&st, "t.sub", &c.sub), 1, "sub: made");
  T_OK(sdu_state_sub(&st, "t.sub", &d2) == 1 && d2 == c.sub && c.sub != st.dbi, "sub: kept, another table's dbi");
  T_EQI(sdu_state_txn(&st, subput, &c), 0, "sub: written in the table's transaction");
  T_EQI(sdu_state_view(&st, viewfn, &c), 0, "view: read both tables in one transaction");
  T_OK(c.runs == 1 && c.len == 8 && c.sublen == 11 && inmapping(c.map, "/txn/data.mdb"),
    "view: what fn got points into the map, no copy");
  T_EQI(GETS(&st, "sb", 0, 100, 0), 0, "sub: its entries are not the table's");
  c.fail = MDB_NOTFOUND;
  errno = 0;
  T_OK(sdu_state_view(&st, viewfn, &c) == -1 && errno == ENOENT && c.runs == 2, "view: fn's error fails it, as errno");
  c.fail = 0;
  T_OK(sdu_state_view(&st, viewfn, &c) == 0 && c.runs == 3, "view: and the next read works (the transaction was reset)");
  sdu_state_close(&ro);
  sdu_state_close(&st);
  T_OK(sdu_state_sub(&st, "t.sub", &d1) == -1 && sdu_state_view(&st, viewfn, &c) == -1, "sub, view: a closed store fails");
}

static void t_open_fail(void)
{
  sdu_state st;
  char garbage[65536];
  unsigned int i, x = 12345;
  pid_t pid;
  int ws;

  errno = 0;
  T_EQI(sdu_state_open(&st, at("nonexistent"), "t", 0), -1, "missing directory");
  T_EQI(errno, ENOENT, "missing directory: ENOENT");
  T_OK(contains(sdu_state_error(&st), "unable to open ") && contains(sdu_state_error(&st), "nonexistent: No such file or directory"),
    "missing directory: reason");
  T_OK(contains(sdu_state_advice(&st), "create the state directory"), "missing directory: advice");
  printf("#   %s\n", sdu_state_error(&st));
  sdu_state_close(&st);

  T_EQI(sdu_state_open(&st, at("nonexistent"), "t", SDU_STATE_RDONLY), -1, "missing directory, read-only");

  /* not writable even for root: the "directory" is below a regular file */
  T_EQI(t_writefile(at("plainfile"), "x", 1), 0, "make a plain file");
  errno = 0;
  T_EQI(sdu_state_open(&st, at("plainfile/sub"), "t", 0), -1, "directory below a plain file");
  T_EQI(errno, ENOTDIR, "directory below a plain file: ENOTDIR");
  printf("#   %s\n", sdu_state_error(&st));

  /* the directory is there but LMDB cannot create its data file */
  if (mkdir(at("dirdata"), 0755) == -1 || mkdir(at("dirdata/data.mdb"), 0755) == -1) exit(111);
  errno = 0;
  T_EQI(sdu_state_open(&st, at("dirdata"), "t", 0), -1, "data.mdb is a directory");
  T_EQI(errno, EISDIR, "data.mdb is a directory: EISDIR");
  T_OK(contains(sdu_state_error(&st), "unable to open ") && contains(sdu_state_error(&st), "dirdata"), "data.mdb is a directory: reason");
  printf("#   %s\n", sdu_state_error(&st));

  /* a directory without write permission, tried as an unprivileged user
     (as root: in a child that became nobody; root itself would succeed) */
  if (mkdir(at("rodir"), 0555) == -1 || chmod(at("rodir"), 0555) == -1) exit(111);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    int r;
    if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1)) _exit(2);
    if (access(at("rodir"), X_OK) == -1) _exit(3); /* nobody cannot even reach it */
    errno = 0;
    r = sdu_state_open(&st, at("rodir"), "t", 0);
    if (r == -1 && errno == EACCES && contains(sdu_state_error(&st), "Permission denied")
      && contains(sdu_state_advice(&st), "write the state directory")) _exit(0);
    _exit(1);
  }
  if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 3)
    T_SKIP("unwritable directory as nobody", "nobody cannot reach tests/tmp");
  else
    T_OK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "unwritable directory (as an unprivileged user): EACCES, Permission denied");

  /* garbage data.mdb: pseudo-random bytes */
  for (i = 0; i < sizeof garbage; ++i) { x = x * 1103515245u + 12345u; garbage[i] = (char) (x >> 16); }
  if (mkdir(at("garbage"), 0755) == -1) exit(111);
  T_EQI(t_writefile(at("garbage/data.mdb"), garbage, sizeof garbage), 0, "write a garbage data.mdb");
  errno = 0;
  T_EQI(sdu_state_open(&st, at("garbage"), "t", 0), -1, "garbage data.mdb");
  T_EQI(errno, EPROTO, "garbage data.mdb: EPROTO");
  T_OK(contains(sdu_state_error(&st), "database corrupt: ") && contains(sdu_state_error(&st), "garbage/data.mdb"),
    "garbage data.mdb: reason");
  printf("#   %s\n", sdu_state_error(&st));
  T_EQI(sdu_state_open(&st, at("garbage"), "t", SDU_STATE_RDONLY), -1, "garbage data.mdb, read-only");

  /* a data.mdb of zeros, and a short one */
  memset(garbage, 0, sizeof garbage);
  T_EQI(t_writefile(at("garbage/data.mdb"), garbage, sizeof garbage), 0, "write a data.mdb of zeros");
  T_EQI(sdu_state_open(&st, at("garbage"), "t", 0), -1, "data.mdb of zeros");
  T_OK(contains(sdu_state_error(&st), "database corrupt: "), "data.mdb of zeros: reason");
  T_EQI(t_writefile(at("garbage/data.mdb"), "LMDB", 4), 0, "write a 4-byte data.mdb");
  T_EQI(sdu_state_open(&st, at("garbage"), "t", 0), -1, "4-byte data.mdb");
  T_OK(contains(sdu_state_error(&st), "database corrupt: "), "4-byte data.mdb: reason");
  printf("#   %s\n", sdu_state_error(&st));
}

/* a real store cut short: the meta page names pages the file no longer has */
static void t_truncated(void)
{
  sdu_state st;
  char k[32], v[200];
  int i, fd;

  memset(v, 't', sizeof v);
  if (mkdir(at("trunc"), 0755) == -1) exit(111);
  T_EQI(sdu_state_open(&st, at("trunc"), "t", 0), 0, "open for truncation");
  for (i = 0; i < 500; ++i) {
    snprintf(k, sizeof k, "t%04d", i);
    if (sdu_state_put(&st, k, strlen(k), v, sizeof v, 0)) break;
  }
  T_EQI(i, 500, "500 puts");
  sdu_state_close(&st);
  fd = open(at("trunc/data.mdb"), O_WRONLY);
  T_OK(fd != -1 && ftruncate(fd, 3 * 4096) == 0, "truncate data.mdb to 3 pages");
  if (fd != -1) close(fd);
  errno = 0;
  T_EQI(sdu_state_open(&st, at("trunc"), "t", 0), -1, "truncated data.mdb refused");
  T_EQI(errno, EPROTO, "truncated data.mdb: EPROTO");
  T_OK(contains(sdu_state_error(&st), "database corrupt: "), "truncated data.mdb: reason");
  printf("#   %s\n", sdu_state_error(&st));
}

/* a no-sync store works the same, and what it wrote is seen by a normal one */
static void t_nosync(void)
{
  sdu_state st;
  stralloc val = {0};
  unsigned long n = 0;
  mkdir(at("nosync"), 0755);
  T_EQI(sdu_state_open(&st, at("nosync"), "t", SDU_STATE_NOSYNC), 0, "nosync: open");
  T_EQI(sdu_state_incr(&st, "k", 1, 100, 60, &n), 0, "nosync: incr");
  T_EQI(sdu_state_incr(&st, "k", 1, 101, 60, &n), 0, "nosync: incr again");
  T_EQI(n, 2, "nosync: counted");
  sdu_state_close(&st);
  T_EQI(sdu_state_open(&st, at("nosync"), "t", 0), 0, "nosync: reopened with sync");
  T_EQI(sdu_state_get(&st, "k", 1, &val, 102, 0), 1, "nosync: the counter is there");
  sdu_state_close(&st);
  stralloc_free(&val);
}

/* two opens of one directory in a process (links of sdu-chain): one
   environment, no second set of files, each table its own flush setting */
static void t_shared(void)
{
  sdu_state a, b, c;
  stralloc val = {0};
  unsigned char before[1024], after[1024];
  unsigned long n = 0;
  size_t i;
  int newfds = 0;
  mkdir(at("shared"), 0755);
  T_EQI(sdu_state_open(&a, at("shared"), "counters", SDU_STATE_NOSYNC), 0, "shared: first open");
  fdset(before, sizeof before);
  T_EQI(sdu_state_open(&b, at("shared"), "counted", 0), 0, "shared: second open of the directory");
  fdset(after, sizeof after);
  for (i = 0; i < sizeof after; ++i) if (after[i] && !before[i]) ++newfds;
  T_OK(a.env == b.env && newfds == 0, "shared: one environment, no file opened twice");
  T_EQI(sdu_state_incr(&a, "k", 1, 100, 60, &n), 0, "shared: count in the unflushed table");
  T_EQI(PUTS(&b, "x", "flushed", 0), 0, "shared: put in the flushed table");
  T_EQI(sdu_state_incr(&a, "k", 1, 101, 60, &n), 0, "shared: count again");
  T_EQI(n, 2, "shared: counted");
  T_EQI(PUTS(&b, "y", "again", 0), 0, "shared: put again");
  sdu_state_close(&a);
  T_EQI(GETS(&b, "x", &val, 102, 0), 1, "shared: the second still reads after the first closed");
  T_EQI(sdu_state_open(&c, at("shared"), "counters", 0), 0, "shared: a third open joins it");
  T_OK(c.env == b.env, "shared: the same environment");
  T_EQI(sdu_state_get(&c, "k", 1, &val, 102, 0), 1, "shared: the count is there");
  sdu_state_close(&b);
  sdu_state_close(&c);
  T_EQI(sdu_state_open(&a, at("shared"), "counted", SDU_STATE_RDONLY), 0, "shared: opened afresh after the last close");
  T_EQI(GETS(&a, "y", &val, 103, 0), 1, "shared: both puts are on disk");
  sdu_state_close(&a);
  stralloc_free(&val);
}

/* a batch: puts and counts over two tables in one transaction, all or nothing */
static void t_batch(void)
{
  sdu_state a, b;
  sdu_state_op op[3];
  stralloc val = {0};
  unsigned long long exp = 0;
  mkdir(at("batch"), 0755);
  T_EQI(sdu_state_open(&a, S("batch"), "a", 0), 0, "batch: open a");
  T_EQI(sdu_state_open_table(&b, &a, "b"), 0, "batch: open b");
  memset(op, 0, sizeof op);
  op[0].st = &a; op[0].key = "host"; op[0].klen = 4; op[0].val = "v1"; op[0].vlen = 2; op[0].expires = 500;
  op[1].st = &b; op[1].incr = 1; op[1].key = "rcpt"; op[1].klen = 4; op[1].window = 60;
  op[2] = op[1];
  T_EQI(sdu_state_batch(op, 3, 100), 0, "batch: put and two counts");
  T_OK(op[1].count == 1 && op[2].count == 2, "batch: each count sees the one before");
  T_OK(sdu_state_get(&a, "host", 4, &val, 100, &exp) == 1 && exp == 500, "batch: the put is there");
  T_EQB(val.s, val.len, "v1", "batch: its value");
  op[0].val = "v2";
  op[2].st = &a; op[2].key = "host"; /* a count on a plain entry fails the whole batch */
  errno = 0;
  T_EQI(sdu_state_batch(op, 3, 101), -1, "batch: a failing op fails it");
  T_EQI(errno, EPROTO, "batch: EPROTO");
  T_OK(sdu_state_get(&a, "host", 4, &val, 101, 0) == 1 && val.len == 2 && val.s[1] == '1', "batch: nothing of it done (put)");
  T_OK(sdu_state_incr(&b, "rcpt", 4, 101, 60, &op[1].count) == 0 && op[1].count == 3, "batch: nothing of it done (count)");
  op[0].klen = 0;
  T_EQI(sdu_state_batch(op, 1, 102), -1, "batch: empty key refused");
  T_EQI(sdu_state_batch(op, 0, 102), 0, "batch: no ops, nothing to do");

  /* a count with a hold: 2 in 60 s, the one that passes holds it 600 s */
  memset(op, 0, sizeof op);
  op[0].st = &b; op[0].incr = 1; op[0].key = "held"; op[0].klen = 4; op[0].window = 60;
  op[0].limit = 2; op[0].hold = 600;
  T_OK(sdu_state_batch(op, 1, 1000) == 0 && op[0].count == 1, "hold: 1 within the limit");
  T_OK(sdu_state_batch(op, 1, 1001) == 0 && op[0].count == 2, "hold: 2 within the limit");
  T_OK(sdu_state_batch(op, 1, 1002) == 0 && op[0].count == 3, "hold: 3 passes it");
  T_OK(sdu_state_get(&b, "held", 4, 0, 1100, &exp) == 1 && exp == 1602, "hold: the entry lives on until the hold's end");
  T_OK(sdu_state_batch(op, 1, 1500) == 0 && op[0].count == 4 && sdu_state_get(&b, "held", 4, 0, 1500, &exp) == 1
    && exp == 1602, "hold: counted on after the window, the hold not moved");
  T_OK(sdu_state_batch(op, 1, 1602) == 0 && op[0].count == 1, "hold: a new window after it");
  op[0].hold = 10;
  T_OK(sdu_state_batch(op, 1, 1603) == 0 && sdu_state_batch(op, 1, 1604) == 0 && sdu_state_get(&b, "held", 4, 0, 1604, &exp) == 1
    && op[0].count == 3 && exp == 1662, "hold: shorter than the window: the window's end stays");
  /* a hold past the end of time (a duration of ULONG_MAX seconds) holds for ever, as on Redis */
  op[0].key = "held2"; op[0].klen = 5; op[0].limit = 1; op[0].hold = (unsigned long) -1;
  T_OK(sdu_state_batch(op, 1, 2000) == 0 && sdu_state_batch(op, 1, 2001) == 0 && op[0].count == 2
    && sdu_state_get(&b, "held2", 5, 0, 2001, &exp) == 1 && exp == (unsigned long long) -1,
    "hold: of ULONG_MAX seconds: until the end of time");
  T_OK(sdu_state_batch(op, 1, 2100) == 0 && op[0].count == 3, "hold: of ULONG_MAX seconds: counted on after the window");
  {
    sdu_state_read rd[3];
    stralloc v0 = {0}, v2 = {0};
    T_EQI(PUTS(&a, "r1", "one", 2000), 0, "getn: put");
    T_EQI(PUTS(&a, "r3", "three", 1500), 0, "getn: put one that expires earlier");
    memset(rd, 0, sizeof rd);
    rd[0].key = "r1"; rd[0].klen = 2; rd[0].val = &v0;
    rd[1].key = "r2"; rd[1].klen = 2;
    rd[2].key = "r3"; rd[2].klen = 2; rd[2].val = &v2;
    T_EQI(sdu_state_getn(&a, rd, 3, 1200), 0, "getn: three keys at once");
    T_OK(rd[0].found == 1 && rd[0].expires == 2000 && v0.len == 3 && !memcmp(v0.s, "one", 3), "getn: the first found");
    T_OK(rd[1].found == 0, "getn: the second absent");
    T_OK(rd[2].found == 1 && v2.len == 5, "getn: the third found");
    T_OK(sdu_state_getn(&a, rd, 3, 1500) == 0 && rd[0].found && !rd[1].found && !rd[2].found, "getn: an expired entry is absent");
    rd[1].klen = 0;
    T_EQI(sdu_state_getn(&a, rd, 3, 1200), -1, "getn: an empty key refused");
    stralloc_free(&v0); stralloc_free(&v2);
  }
  sdu_state_close(&b);
  sdu_state_close(&a);
  stralloc_free(&val);
}

/* a process about to end leaves the store: its reader slot is free at
   once, the environment stays open (no unmapping) and a later open in the
   process takes it again */
static void t_leave(void)
{
  sdu_state a, b;
  stralloc val = {0};
  MDB_env *env;
  pid_t me = getpid(), pid;
  int ws;
  mkdir(at("leave"), 0755);
  T_EQI(sdu_state_open(&a, at("leave"), "t", 0), 0, "leave: open");
  T_EQI(PUTS(&a, "k", "v", 0), 0, "leave: put");
  T_EQI(GETS(&a, "k", &val, 1, 0), 1, "leave: a read takes a reader slot");
  env = a.env;
  readers = 0;
  mdb_reader_list(env, countreader, &me);
  T_EQI(readers, 1, "leave: one slot is ours before");
  sdu_state_leave(&a);
  readers = 0;
  mdb_reader_list(env, countreader, &me);
  T_EQI(readers, 0, "leave: none after");
  T_OK(a.env == 0, "leave: the table is closed");
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state c;
    if (sdu_state_open(&c, at("leave"), "t", 0) == -1) _exit(1);
    if (sdu_state_put(&c, "k2", 2, "w", 1, 0) == -1) _exit(2);
    sdu_state_close(&c);
    _exit(0);
  }
  T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "leave: another process writes meanwhile");
  T_EQI(sdu_state_open(&b, at("leave"), "t", 0), 0, "leave: opened again");
  T_OK(b.env == env, "leave: the environment left open is taken again");
  T_EQI(GETS(&b, "k2", &val, 1, 0), 1, "leave: and reads what the other process wrote");
  sdu_state_close(&b);
  T_EQI(sdu_state_open(&b, at("leave"), "t", SDU_STATE_RDONLY), 0, "leave: open after the last close");
  T_EQI(GETS(&b, "k", &val, 1, 0), 1, "leave: the first put is there");
  sdu_state_close(&b);
  stralloc_free(&val);
}

/* a misbehaving Redis: a real server on a unix socket that answers its
   connection's read i with answers[i] (the last one for every read after
   n), or with nothing when that is 0 (a server that hangs); its pid */
static pid_t liars(const char *sockpath, const char *const *answers, unsigned int n)
{
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  pid_t pid;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen(sockpath) >= sizeof sa.sun_path) exit(111);
  memcpy(sa.sun_path, sockpath, strlen(sockpath) + 1);
  unlink(sockpath);
  if (fd == -1 || bind(fd, (struct sockaddr *) &sa, sizeof sa) == -1 || listen(fd, 8) == -1) exit(111);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    for (;;) {
      int c = accept(fd, 0, 0);
      char buf[4096];
      unsigned int i = 0;
      if (c == -1) _exit(0);
      while (read(c, buf, sizeof buf) > 0) {
        const char *answer = answers[i < n - 1 ? i++ : n - 1];
        if (answer && write(c, answer, strlen(answer)) < 0) break;
      }
      close(c);
    }
  }
  close(fd);
  return pid;
}

/* one that answers every read with answer (wrong types, errors, two
   answers to one question) */
static pid_t liar(const char *sockpath, const char *answer)
{
  return liars(sockpath, &answer, 1);
}

static void t_redis_only(pid_t server)
{
  sdu_state st, t2;
  stralloc val = {0};
  unsigned long long exp = 0;
  unsigned long n = 0;
  char a[700];
  const char *sha, *text;
  int i;
  pid_t sp;
  redisContext *rc = redisConnectUnix(rsock);

  /* the scripts' digests built in are the server's: EVALSHA finds them */
  for (i = 0; (text = sdu_redis_script(i, &sha)); ++i) {
    redisReply *r = rc && !rc->err ? redisCommand(rc, "SCRIPT LOAD %s", text) : 0;
    T_OK(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, sha), "redis: a script's SHA-1 is the server's");
    if (r) freeReplyObject(r);
  }
  T_EQI(sdu_state_open(&st, rstore, "t.swap", 0), 0, "redis: open");
  T_EQI(sdu_state_shared(&st), 1, "redis: the store is shared");
  T_EQI(sdu_state_swap(&st, "h", 1, 0, 0, 0, 1, "v1", 2, 500, 100), 1, "swap: absent, so written");
  T_EQI(sdu_state_swap(&st, "h", 1, 0, 0, 0, 1, "v2", 2, 500, 100), 0, "swap: expected absent, but there");
  T_EQI(sdu_state_swap(&st, "h", 1, "v0", 2, 500, 0, "v2", 2, 600, 100), 0, "swap: another value, not written");
  T_EQI(sdu_state_swap(&st, "h", 1, "v1", 2, 499, 0, "v2", 2, 600, 100), 0, "swap: another expiry, not written");
  T_EQI(sdu_state_swap(&st, "h", 1, "v1", 2, 500, 0, "v2", 2, 600, 100), 1, "swap: the value read, written");
  T_OK(GETS(&st, "h", &val, 100, &exp) == 1 && exp == 600 && val.len == 2 && val.s[1] == '2', "swap: the new entry");
  T_EQI(sdu_state_swap(&st, "h", 1, 0, 0, 0, 1, "v3", 2, 900, 600), 1, "swap: expired counts as absent");
  /* a key's Redis expiry: a little past its own, and never none for an entry that expires */
  {
    redisReply *r = redisCommand(rc, "PTTL t.swap:h");
    T_OK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0, "redis: an entry that expires has a Redis expiry");
    if (r) freeReplyObject(r);
    T_EQI(sdu_state_incr(&st, "cnt", 3, sdu_now(), 60, &n), 0, "redis: a counter");
    r = redisCommand(rc, "PTTL t.swap:cnt");
    T_OK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 59000 && r->integer <= 61000, "redis: a counter expires with its window");
    if (r) freeReplyObject(r);
    T_EQI(sdu_state_incr(&st, "cnt", 3, sdu_now(), 60, &n), 0, "redis: counted again");
    r = redisCommand(rc, "PTTL t.swap:cnt");
    T_OK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 && r->integer <= 61000, "redis: counting keeps the window's expiry");
    if (r) freeReplyObject(r);
    {
      sdu_state_op op;
      memset(&op, 0, sizeof op);
      op.st = &st; op.incr = 1; op.key = "hk"; op.klen = 2; op.window = 60; op.limit = 1; op.hold = 3600;
      T_OK(sdu_state_batch(&op, 1, sdu_now()) == 0 && sdu_state_batch(&op, 1, sdu_now()) == 0 && op.count == 2,
        "redis: a count passes its limit");
      r = redisCommand(rc, "PTTL t.swap:hk");
      T_OK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 3590000 && r->integer <= 3601000, "redis: the hold is the key's expiry");
      if (r) freeReplyObject(r);
    }
  }
  /* the script cache emptied (a restarted server): EVAL, then EVALSHA again */
  {
    redisReply *r = redisCommand(rc, "SCRIPT FLUSH");
    if (r) freeReplyObject(r);
    T_OK(sdu_state_incr(&st, "cnt", 3, sdu_now(), 60, &n) == 0 && n == 3, "redis: NOSCRIPT: sent as text");
    T_OK(sdu_state_incr(&st, "cnt", 3, sdu_now(), 60, &n) == 0 && n == 4, "redis: then by its digest");
  }
  /* sdu_state_txn: this host's own LMDB table (local=) */
  T_EQI(sdu_state_open_table(&t2, &st, "t.local"), 0, "redis: a second table on the connection");
  T_EQI(PUTS(&t2, "k", "v", 0), 0, "redis: put in the second table");
  T_EQI(GETS(&st, "k", &val, 1, 0), 0, "redis: tables are separate");
  sdu_state_close(&t2);
  T_EQI(PUTS(&st, "after", "x", 0), 0, "redis: the first table works after the second closed");
  {
    struct txnctx c = { 0, 0, 0, 0 };
    sdu_state l;
    {
      unsigned int dd;
      struct viewctx vc;
      memset(&vc, 0, sizeof vc);
      errno = 0;
      T_OK(sdu_state_sub(&st, "t.sub", &dd) == -1 && errno == EINVAL && sdu_state_view(&st, viewfn, &vc) == -1
        && vc.runs == 0, "redis: no sub table, no view (EINVAL)");
    }
    T_EQI(sdu_state_txn(&st, txnfn, &c), 0, "redis: txn runs on this host's own table");
    T_OK(c.a == 1 && c.b == 2, "redis: txn: counted there");
    T_EQI(GETS(&st, "tb", 0, 100, 0), 0, "redis: txn: not in the shared store");
    T_EQI(sdu_state_open(&l, at("local"), "t.swap", 0), 0, "redis: txn: the local directory opens");
    T_EQI(GETS(&l, "tb", 0, 100, 0), 1, "redis: txn: its put is in the local table");
    sdu_state_close(&l);
  }
  sdu_state_close(&st);
  /* read-only, as in LMDB: reads, and no write of any kind */
  T_EQI(sdu_state_open(&st, rstore, "t.swap", SDU_STATE_RDONLY), 0, "redis read-only: open");
  T_EQI(GETS(&st, "after", &val, 1, 0), 1, "redis read-only: get");
  errno = 0;
  T_EQI(PUTS(&st, "x", "y", 0), -1, "redis read-only: put refused");
  T_EQI(errno, EROFS, "redis read-only: EROFS");
  T_EQI(sdu_state_del(&st, "after", 5), -1, "redis read-only: del refused");
  T_EQI(sdu_state_incr(&st, "cnt", 3, 1, 60, &n), -1, "redis read-only: incr refused");
  T_EQI(sdu_state_swap(&st, "zz", 2, 0, 0, 0, 1, "v", 1, 0, 1), -1, "redis read-only: swap refused");
  T_EQI(sdu_state_cleanup(&st, 1, &n), -1, "redis read-only: cleanup refused");
  sdu_state_close(&st);
  T_EQI(sdu_state_open(&st, rstore, "t.swap", 0), 0, "redis: open again");
  T_EQI(GETS(&st, "after", &val, 1, 0), 1, "redis read-only: nothing was deleted");
  sdu_state_close(&st);
  /* a password from a file, a database other than 0 */
  {
    char pf[700], ad[1600];
    redisReply *r;
    int fd;
    snprintf(pf, sizeof pf, "%s/redis.pass", top);
    fd = open(pf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1 || write(fd, "s3cret pw\n", 10) != 10) exit(111);
    close(fd);
    r = redisCommand(rc, "CONFIG SET requirepass %s", "s3cret pw");
    T_OK(r && r->type == REDIS_REPLY_STATUS, "redis: the server wants a password");
    if (r) freeReplyObject(r);
    r = redisCommand(rc, "AUTH %s", "s3cret pw");
    if (r) freeReplyObject(r);
    T_EQI(sdu_state_open(&st, rstore, "t.auth", 0), 0, "no password: the open itself succeeds");
    errno = 0;
    T_EQI(PUTS(&st, "k", "v", 0), -1, "no password: the first call fails");
    T_OK(contains(sdu_state_error(&st), "NOAUTH"), "no password: the reason says so");
    printf("#   %s\n", sdu_state_error(&st));
    sdu_state_close(&st);
    snprintf(ad, sizeof ad, "unix:%s?passfile=%s&db=3", rsock, pf);
    T_EQI(sdu_state_open(&st, ad, "t.auth", 0), 0, "password file and db=3: open");
    T_EQI(PUTS(&st, "k", "v", 0), 0, "password file and db=3: put");
    T_EQI(GETS(&st, "k", &val, 1, 0), 1, "password file and db=3: get");
    sdu_state_close(&st);
    r = redisCommand(rc, "SELECT 3");
    if (r) freeReplyObject(r);
    r = redisCommand(rc, "EXISTS t.auth:k");
    T_OK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "the entry is in database 3");
    if (r) freeReplyObject(r);
    r = redisCommand(rc, "SELECT 0");
    if (r) freeReplyObject(r);
    if ((fd = open(pf, O_WRONLY | O_TRUNC)) == -1 || write(fd, "wrong\n", 6) != 6) exit(111);
    close(fd);
    T_EQI(sdu_state_open(&st, ad, "t.auth", 0), 0, "a wrong password: open");
    errno = 0;
    T_EQI(PUTS(&st, "k", "v", 0), -1, "a wrong password: the first call fails");
    T_EQI(errno, EACCES, "a wrong password: EACCES");
    T_OK(contains(sdu_state_error(&st), "AUTH"), "a wrong password: the reason says AUTH");
    printf("#   %s\n", sdu_state_error(&st));
    sdu_state_close(&st);
    r = redisCommand(rc, "CONFIG SET requirepass %s", "");
    if (r) freeReplyObject(r);
  }
  /* a read-only replica, a full server, garbage, a server that hangs */
  snprintf(a, sizeof a, "unix:%s", rsock);
  memcpy(strstr(a, "redis.sock"), "liar.sock", 10);
  {
    static const struct { const char *answer, *reason; int e; } bad[] = {
      { "-READONLY You can't write against a read only replica.\r\n", "READONLY", EROFS },
      { "-OOM command not allowed when used memory > 'maxmemory'.\r\n", "OOM", ENOSPC },
      { "!garbage\r\n", "bad answer", EPROTO },
      { ":12\r\n", "unexpected type", EPROTO },
      /* refused at its length, before hiredis makes room for it */
      { "*100000000\r\n:1\r\n", "an array of 100000000 elements, at most 1 expected", EPROTO },
      { 0, "no answer within 50 ms", ETIMEDOUT },
    };
    char sp_path[1200];
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    for (i = 0; i < (int) (sizeof bad / sizeof bad[0]); ++i) {
      char name[200];
      sp = liar(sp_path, bad[i].answer);
      T_EQI(sdu_state_open(&st, a, "t", 0), 0, "misbehaving server: open");
      errno = 0;
      snprintf(name, sizeof name, "server answering %s: put fails", bad[i].reason);
      T_EQI(PUTS(&st, "k", "v", 0), -1, name);
      snprintf(name, sizeof name, "server answering %s: errno", bad[i].reason);
      T_EQI(errno, bad[i].e, name);
      snprintf(name, sizeof name, "server answering %s: the reason names the server and says why", bad[i].reason);
      T_OK(contains(sdu_state_error(&st), "liar.sock") && contains(sdu_state_error(&st), bad[i].reason), name);
      printf("#   %s\n", sdu_state_error(&st));
      sdu_state_close(&st);
      kill(sp, SIGTERM);
      waitpid(sp, 0, 0);
    }
  }
  /* a server that answers twice: the second answer is not taken for the next question's */
  {
    char sp_path[1200];
    unsigned long cnt = 0;
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    sp = liar(sp_path, "*1\r\n:1\r\n*1\r\n:7\r\n");
    T_EQI(sdu_state_open(&st, a, "t", 0), 0, "server answering twice: open");
    T_OK(sdu_state_incr(&st, "k", 1, 100, 60, &cnt) == 0 && cnt == 1, "server answering twice: the first count");
    errno = 0;
    T_EQI(sdu_state_incr(&st, "k", 1, 100, 60, &cnt), -1, "server answering twice: the next call fails");
    T_OK(errno == EPROTO && contains(sdu_state_error(&st), "out of step"), "server answering twice: out of step");
    printf("#   %s\n", sdu_state_error(&st));
    sdu_state_close(&st);
    kill(sp, SIGTERM);
    waitpid(sp, 0, 0);
  }
  /* a SCAN answer of more keys than asked for is refused at its length */
  {
    char sp_path[1200];
    struct walked w;
    memset(&w, 0, sizeof w);
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    sp = liar(sp_path, "*2\r\n$1\r\n0\r\n*20000\r\n");
    T_EQI(sdu_state_open(&st, a, "t", 0), 0, "SCAN of 20000 keys: open");
    errno = 0;
    T_EQI(sdu_state_walk(&st, 1, collect, &w), -1, "SCAN of 20000 keys: the walk fails");
    T_OK(errno == EPROTO && contains(sdu_state_error(&st), "an array of 20000 elements, at most 16000 expected"),
      "SCAN of 20000 keys: at its length");
    printf("#   %s\n", sdu_state_error(&st));
    sdu_state_close(&st);
    kill(sp, SIGTERM);
    waitpid(sp, 0, 0);
  }
  /* a count of keys deleted below 0 (cast, a huge one) or above the keys
     given: a bad answer, the connection given up */
  {
    static const char *const bad[] = { ":-5\r\n", ":2\r\n" };
    char sp_path[1200], name[200];
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    for (i = 0; i < 2; ++i) {
      const char *clean[2];
      clean[0] = "*2\r\n$1\r\n0\r\n*1\r\n$3\r\nt:k\r\n"; /* SCAN: one key */
      clean[1] = bad[i];
      sp = liars(sp_path, clean, 2);
      T_EQI(sdu_state_open(&st, a, "t", 0), 0, "a bad count: open");
      errno = 0;
      n = 0;
      snprintf(name, sizeof name, "cleanup answered %.3s for one key: refused, nothing counted", bad[i]);
      T_OK(sdu_state_cleanup(&st, 1, &n) == -1 && errno == EPROTO && n == 0
        && contains(sdu_state_error(&st), "unexpected"), name);
      printf("#   %s (removed=%lu)\n", sdu_state_error(&st), n);
      snprintf(name, sizeof name, "cleanup answered %.3s: the connection is given up", bad[i]);
      T_OK(PUTS(&st, "k", "v", 0) == -1 && contains(sdu_state_error(&st), "failed earlier"), name);
      sdu_state_close(&st);
      kill(sp, SIGTERM);
      waitpid(sp, 0, 0);
      sp = liar(sp_path, i ? ":2\r\n" : ":-1\r\n");
      T_EQI(sdu_state_open(&st, a, "t", 0), 0, "a bad count: open");
      errno = 0;
      snprintf(name, sizeof name, "DEL of one key answered %s: refused", i ? "2" : "-1");
      T_OK(sdu_state_del(&st, "k", 1) == -1 && errno == EPROTO && contains(sdu_state_error(&st), "unexpected"), name);
      sdu_state_close(&st);
      kill(sp, SIGTERM);
      waitpid(sp, 0, 0);
    }
  }
  /* SCAN MATCH "t:*" answering a key outside the table (another table's,
     or shorter than "t:"): a bad answer, before the walk reads it or the
     cleanup deletes it */
  {
    static const char *const scanned[] = {
      "*2\r\n$1\r\n0\r\n*2\r\n$3\r\nt:a\r\n$4\r\nxx:b\r\n",
      "*2\r\n$1\r\n0\r\n*2\r\n$3\r\nt:a\r\n$1\r\nt\r\n",
    };
    char sp_path[1200], name[200];
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    for (i = 0; i < 2; ++i) {
      struct walked w;
      const char *walk[2];
      walk[0] = scanned[i];
      /* MGET: two live entries (an expiry far ahead) */
      walk[1] = "*2\r\n$9\r\n\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f" "1\r\n$9\r\n\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f" "2\r\n";
      sp = liars(sp_path, walk, 2);
      memset(&w, 0, sizeof w);
      T_EQI(sdu_state_open(&st, a, "t", 0), 0, "a key outside the table: open");
      errno = 0;
      snprintf(name, sizeof name, "walk: SCAN answers %s: refused, nothing walked", i ? "t" : "xx:b");
      T_OK(sdu_state_walk(&st, 1, collect, &w) == -1 && errno == EPROTO && w.calls == 0
        && contains(sdu_state_error(&st), "outside the table"), name);
      printf("#   %s (walked: %.*s)\n", sdu_state_error(&st), (int) w.sa.len, w.sa.s ? w.sa.s : "");
      sdu_state_close(&st);
      stralloc_free(&w.sa);
      kill(sp, SIGTERM);
      waitpid(sp, 0, 0);
      walk[1] = ":2\r\n"; /* the clean script: both deleted */
      sp = liars(sp_path, walk, 2);
      T_EQI(sdu_state_open(&st, a, "t", 0), 0, "a key outside the table: open");
      errno = 0;
      n = 0;
      snprintf(name, sizeof name, "cleanup: SCAN answers %s: refused, nothing deleted", i ? "t" : "xx:b");
      T_OK(sdu_state_cleanup(&st, 1, &n) == -1 && errno == EPROTO && n == 0
        && contains(sdu_state_error(&st), "outside the table"), name);
      sdu_state_close(&st);
      kill(sp, SIGTERM);
      waitpid(sp, 0, 0);
    }
  }
  /* a server whose SCAN cursor never comes back to 0, with no key: a walk
     ends (in a child, stopped after 60 s if it does not; a cleanup goes
     through the same scan) */
  {
    char sp_path[1200];
    pid_t c;
    int status = 0;
    snprintf(sp_path, sizeof sp_path, "%s", a + 5);
    sp = liar(sp_path, "*2\r\n$1\r\n7\r\n*0\r\n");
    fflush(stdout);
    c = fork();
    if (!c) {
      struct walked w;
      int ok;
      memset(&w, 0, sizeof w);
      char a2[1300];
      alarm(60);
      /* a deadline of 2 s, not 50 ms: what ends the walk must be the
         count of SCAN rounds, not a slow moment of a loaded machine */
      snprintf(a2, sizeof a2, "%s?timeout=2s", a);
      if (sdu_state_open(&st, a2, "t", 0) == -1) _exit(2);
      ok = sdu_state_walk(&st, 1, collect, &w) == -1 && errno == EFBIG && contains(sdu_state_error(&st), "SCAN not done");
      printf("#   %s\n", sdu_state_error(&st));
      fflush(stdout);
      _exit(ok ? 0 : 1);
    }
    waitpid(c, &status, 0);
    T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a SCAN cursor that never ends: the walk fails, in bounded time");
    kill(sp, SIGTERM);
    waitpid(sp, 0, 0);
  }
  /* a deadline of at most 600 s: a longer one is a configuration error (a
     poll of 2147484 s or more, cast to int, wrapped to a negative or short
     wait), in the address as in SDU_REDIS_TIMEOUT */
  {
    static const char *const tmo[] = { "601s", "600001ms", "2147484s", "999999999s", 0 };
    char ad[1600], name[200];
    snprintf(ad, sizeof ad, "unix:%s?timeout=600s", rsock);
    T_EQI(sdu_state_open(&st, ad, "t", 0), 0, "timeout=600s: taken");
    sdu_state_close(&st);
    for (i = 0; tmo[i]; ++i) {
      snprintf(ad, sizeof ad, "unix:%s?timeout=%s", rsock, tmo[i]);
      errno = 0;
      snprintf(name, sizeof name, "timeout=%s: refused, EINVAL, the reason says the limit", tmo[i]);
      if (sdu_state_open(&st, ad, "t", 0) == 0) { sdu_state_close(&st); T_OK(0, name); continue; }
      T_OK(errno == EINVAL && contains(sdu_state_error(&st), "at most 600s"), name);
    }
    printf("#   %s\n", sdu_state_error(&st));
    setenv("SDU_REDIS_TIMEOUT", "2147484s", 1);
    snprintf(ad, sizeof ad, "unix:%s", rsock);
    errno = 0;
    i = sdu_state_open(&st, ad, "t", 0);
    if (!i) sdu_state_close(&st);
    T_OK(i == -1 && errno == EINVAL && contains(sdu_state_error(&st), "SDU_REDIS_TIMEOUT")
      && contains(sdu_state_error(&st), "at most 600s"), "SDU_REDIS_TIMEOUT=2147484s: refused, the reason says the limit");
    unsetenv("SDU_REDIS_TIMEOUT");
  }
  /* the server gone: open or the first call fails, naming it */
  t_redis_stop(server);
  errno = 0;
  i = sdu_state_open(&st, rstore, "t", 0);
  if (i == 0) { i = PUTS(&st, "k", "v", 0); }
  T_EQI(i, -1, "redis stopped: the store fails");
  T_OK(contains(sdu_state_error(&st), "redis.sock"), "redis stopped: the reason names the server");
  printf("#   %s\n", sdu_state_error(&st));
  sdu_state_close(&st);
  /* addresses */
  T_EQI(sdu_state_open(&st, "redis://:pw@127.0.0.1/0", "t", 0), -1, "a password in the address refused");
  T_OK(contains(sdu_state_error(&st), "passfile"), "refused: the reason says where the password goes");
  T_EQI(sdu_state_open(&st, "redis://127.0.0.1:99999/0", "t", 0), -1, "a bad port refused");
  T_EQI(sdu_state_open(&st, "unix:/x?timeout=0", "t", 0), -1, "a timeout of 0 refused");
  T_EQI(sdu_state_open(&st, "unix:/x?nosuch=1", "t", 0), -1, "an unknown option refused");
  T_EQI(sdu_state_open(&st, "unix:/x?passfile=/nonexistent/pw", "t", 0), -1, "a missing password file");
  T_OK(contains(sdu_state_error(&st), "/nonexistent/pw"), "a missing password file: named");
  /* a host name would be looked up outside the deadline */
  errno = 0;
  T_EQI(sdu_state_open(&st, "redis://redis.example.org:6379/0", "t", 0), -1, "a host name refused");
  T_OK(errno == EINVAL && contains(sdu_state_error(&st), "not an IP address"), "a host name: EINVAL, the reason says so");
  errno = 0;
  i = sdu_state_open(&st, "redis://[::1]:1/0", "t", 0);
  T_OK(errno != EINVAL, "an IPv6 address is one");
  if (!i) sdu_state_close(&st);
  errno = 0;
  i = sdu_state_open(&st, "redis://localhost:1/0", "t", 0);
  T_OK(errno != EINVAL, "localhost is 127.0.0.1");
  if (!i) sdu_state_close(&st);
  if (rc) redisFree(rc);
  stralloc_free(&val);
}


/* ---- faults inside LMDB: a store failure, never the process's end ---- */

/* data.mdb's current meta page (64-bit LMDB 0.9): the page size, the root
   of db 0 (free pages) or 1 (main), the file; 0 when it is not one */
struct meta { size_t psize, len; unsigned long long root[2]; unsigned char *d; };

static unsigned long long le64(const unsigned char *p)
{
  unsigned long long u = 0;
  int i;
  for (i = 7; i >= 0; --i) u = (u << 8) | p[i];
  return u;
}

static int readmeta(const char *file, struct meta *m)
{
  size_t off;
  int i, best = -1;
  unsigned long long txnid = 0;
  m->d = (unsigned char *) t_slurp(file, &m->len);
  if (!m->d || m->len < 2 * 4096) return 0;
  m->psize = (size_t) (m->d[40] | m->d[41] << 8 | m->d[42] << 16 | (unsigned long) m->d[43] << 24);
  if (m->psize < 512 || m->psize > 65536 || m->len < 2 * m->psize) return 0;
  for (i = 0; i < 2; ++i) {
    off = (size_t) i * m->psize;
    if (le64(m->d + off + 144) >= txnid) { txnid = le64(m->d + off + 144); best = i; }
  }
  off = (size_t) best * m->psize;
  m->root[0] = le64(m->d + off + 80);
  m->root[1] = le64(m->d + off + 128);
  return 1;
}

/* Page p keeps its number and flags (LMDB checks the flags), and its one
   node lies 65520 bytes on: past the end of a small file, a SIGBUS at the
   first look into the page, whatever LMDB's version */
static void badpointer(struct meta *m, unsigned long long p)
{
  unsigned char *pg = m->d + p * m->psize;
  pg[12] = 18; pg[13] = 0;        /* mp_lower: one node pointer */
  pg[14] = 0xf0; pg[15] = 0x0f;   /* mp_upper */
  pg[16] = 0xf0; pg[17] = 0xff;   /* the pointer */
}

/* pseudo-random bytes after the page header */
static void randompage(struct meta *m, unsigned long long p, unsigned int *x)
{
  size_t i;
  for (i = 12; i < m->psize; ++i) { *x = *x * 1103515245u + 12345u; m->d[p * m->psize + i] = (unsigned char) (*x >> 16); }
}

#define BAD_ALL 1       /* every page but the meta pages: a bad pointer */
#define BAD_TABLES 2    /* every page but the meta pages and the main root: random */
#define BAD_FREE 3      /* the root of the free pages: a bad pointer (reads work, writes fault) */
#define BAD_RANDOM 4    /* every page but the meta pages: random */

/* a store of a few pages with entries in table "t", then damaged */
static int makebad(const char *dir, int how)
{
  sdu_state st;
  struct meta m;
  char k[32], file[600];
  unsigned long long p, npages;
  unsigned int x = 4242;
  int i;
  mkdir(dir, 0755);
  if (sdu_state_open(&st, dir, "t", 0) == -1) return 0;
  for (i = 0; i < 150; ++i) {
    snprintf(k, sizeof k, "key%04d", i);
    if (PUTS(&st, k, "value", 0) == -1) return 0;
  }
  for (i = 0; i < 20; ++i) {
    snprintf(k, sizeof k, "key%04d", i * 7);
    if (PUTS(&st, k, "other", 0) == -1) return 0;
  }
  sdu_state_close(&st);
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  if (!readmeta(file, &m)) return 0;
  npages = m.len / m.psize;
  if (how == BAD_FREE) {
    if (m.root[0] >= npages || m.root[0] < 2) return 0;
    badpointer(&m, m.root[0]);
  } else
    for (p = 2; p < npages; ++p) {
      if (how == BAD_ALL) badpointer(&m, p);
      else if (how == BAD_RANDOM || p != m.root[1]) randompage(&m, p, &x);
    }
  i = t_writefile(file, (char *) m.d, m.len);
  free(m.d);
  return i == 0 && npages * m.psize + 65520 > 0 && m.len < 65520;
}

/* fork: fn runs in the child, whose "ok" lines are part of the output;
   the check is that it ended by itself, with all its checks passed */
static void inchild(void (*fn)(void), const char *name)
{
  pid_t pid;
  int ws;
  fflush(stdout);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) { sdu_t_failed = 0; fn(); fflush(stdout); _exit(sdu_t_failed); }
  if (waitpid(pid, &ws, 0) != pid) exit(111);
  if (WIFSIGNALED(ws)) printf("#   killed by signal %d\n", WTERMSIG(ws));
  T_OK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, name);
}

static void badall(void)
{
  sdu_state st;
  struct sigaction sa, before;
  if (sigaction(SIGBUS, 0, &before) == -1) exit(111);
  errno = 0;
  T_EQI(sdu_state_open(&st, at("bad.all"), "t", 0), -1, "bad pages: open fails");
  T_EQI(errno, EPROTO, "bad pages: EPROTO");
  T_OK(contains(sdu_state_error(&st), "database corrupt: ") && contains(sdu_state_error(&st), "SIGBUS inside LMDB"),
    "bad pages: the reason names the corrupt file and the fault");
  printf("#   %s\n", sdu_state_error(&st));
  T_OK(contains(sdu_state_advice(&st), "move data.mdb and lock.mdb aside"), "bad pages: advice: move the files aside");
  T_EQI(sdu_state_open(&st, at("bad.all"), "t", SDU_STATE_RDONLY), -1, "bad pages: read-only open fails too");
  T_OK(sigaction(SIGBUS, 0, &sa) == 0 && sa.sa_handler == before.sa_handler && sa.sa_flags == before.sa_flags,
    "bad pages: the handler is gone with the failed opens");
}

static void badtables(void)
{
  sdu_state st, st2;
  stralloc val = {0};
  unsigned long n = 0;
  T_EQI(sdu_state_open(&st, at("bad.tables"), "t", 0), 0, "random pages under a good main root: open works");
  errno = 0;
  T_EQI(GETS(&st, "key0001", &val, 1, 0), -1, "random pages: get fails");
  T_EQI(errno, EPROTO, "random pages: EPROTO");
  T_OK(contains(sdu_state_error(&st), "database corrupt: "), "random pages: reason");
  printf("#   %s\n", sdu_state_error(&st));
  T_EQI(sdu_state_incr(&st, "key0001", 7, 1, 60, &n), -1, "random pages: incr fails");
  T_EQI(sdu_state_open(&st2, at("bad.tables"), "t", 0), -1, "random pages: another open of the directory fails too");
  sdu_state_close(&st);
  stralloc_free(&val);
}

static void badrandom(void)
{
  sdu_state st;
  stralloc val = {0};
  /* LMDB may see it (MDB_CORRUPTED) or fault: a failure either way */
  if (sdu_state_open(&st, at("bad.random"), "t", 0) == 0) {
    T_EQI(GETS(&st, "key0001", &val, 1, 0), -1, "random pages everywhere: get fails");
    sdu_state_close(&st);
  } else
    T_OK(contains(sdu_state_error(&st), "database corrupt: "), "random pages everywhere: open fails, corrupt");
  printf("#   %s\n", sdu_state_error(&st));
  stralloc_free(&val);
}

static void badfree(void)
{
  sdu_state st, st2;
  stralloc val = {0};
  pid_t pid;
  int ws;
  T_EQI(sdu_state_open(&st, at("bad.free"), "t", 0), 0, "bad free-page root: open works");
  T_EQI(GETS(&st, "key0001", &val, 1, 0), 1, "bad free-page root: reads work");
  T_EQI(sdu_state_open_table(&st2, &st, "t"), 0, "bad free-page root: a second table handle");
  errno = 0;
  T_EQI(PUTS(&st, "new", "x", 0), -1, "bad free-page root: a write fails, the process lives");
  T_EQI(errno, EPROTO, "bad free-page root: EPROTO");
  T_OK(contains(sdu_state_error(&st), "SIGBUS inside LMDB"), "bad free-page root: the reason names the fault");
  printf("#   %s\n", sdu_state_error(&st));
  T_EQI(GETS(&st, "key0001", &val, 1, 0), -1, "then even reads fail: the environment is not used again");
  T_OK(contains(sdu_state_error(&st), "not used again"), "the reason says so");
  T_EQI(GETS(&st2, "key0001", &val, 1, 0), -1, "and so do the other tables of the environment");
  /* another process reads as before: the write lock and the reader slot
     were given back (this process is alive: a robust mutex would not be) */
  fflush(stdout);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state c;
    stralloc v = {0};
    alarm(20);
    if (sdu_state_open(&c, at("bad.free"), "t", 0) == -1) _exit(1);
    if (GETS(&c, "key0001", &v, 1, 0) != 1) _exit(2);
    if (PUTS(&c, "new", "x", 0) != -1 || !contains(sdu_state_error(&c), "SIGBUS")) _exit(3);
    _exit(0);
  }
  T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
    "another process meanwhile: reads, and its write fails the same way");
  if (!WIFEXITED(ws) || WEXITSTATUS(ws)) printf("#   status %d\n", ws);
  sdu_state_close(&st2);
  sdu_state_close(&st);
  stralloc_free(&val);
}

static void t_fault_corrupt(void)
{
  T_OK(makebad(at("bad.all"), BAD_ALL), "make a data.mdb: good meta pages, bad pointers elsewhere");
  inchild(badall, "bad pointers in every page: no crash");
  T_OK(makebad(at("bad.tables"), BAD_TABLES), "make a data.mdb: good meta pages and main root, random bytes elsewhere");
  inchild(badtables, "random pages below the tables: no crash");
  T_OK(makebad(at("bad.random"), BAD_RANDOM), "make a data.mdb: good meta pages, random bytes elsewhere");
  inchild(badrandom, "random pages everywhere: no crash");
  T_OK(makebad(at("bad.free"), BAD_FREE), "make a data.mdb with a bad root of its free pages");
  inchild(badfree, "a fault inside a write: no crash");
}

/* a fault in the middle of a write transaction (a signal raised inside
   sdu_state_txn stands for it): the process lives on, and other processes
   write as before, while it lives and after it is gone */
static int raises(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  unsigned long n;
  (void) ctx;
  if (sdu_state_txn_incr(txn, dbi, "w", 1, 100, 60, &n)) return MDB_PANIC;
  raise(SIGBUS);
  return 0;
}

static int exits(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  unsigned long n;
  (void) ctx;
  sdu_state_txn_incr(txn, dbi, "w", 1, 100, 60, &n);
  _exit(0);
}

static int write_elsewhere(const char *dir)
{
  pid_t pid = fork();
  int ws;
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state c;
    unsigned long n = 0;
    alarm(20); /* a write lock never given back would hang here */
    if (sdu_state_open(&c, dir, "t", 0) == -1) _exit(1);
    if (sdu_state_incr(&c, "w", 1, 100, 60, &n) == -1) _exit(2);
    sdu_state_close(&c);
    _exit(n == 1 ? 0 : 3);
  }
  if (waitpid(pid, &ws, 0) != pid) return 0;
  if (WIFSIGNALED(ws)) printf("#   the writer got signal %d\n", WTERMSIG(ws));
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

static void t_fault_locks(void)
{
  sdu_state st;
  struct sigaction sa, old;
  pid_t pid;
  int ws;
  stralloc val = {0};

  mkdir(at("locks"), 0755);
  T_OK(sigaction(SIGSEGV, 0, &old) == 0, "the SIGSEGV handler before");
  T_EQI(sdu_state_open(&st, at("locks"), "t", 0), 0, "locks: open");
  T_OK(sigaction(SIGSEGV, 0, &sa) == 0 && (sa.sa_flags & SA_SIGINFO), "while a table is open the store's handler is in place");
  errno = 0;
  T_EQI(sdu_state_txn(&st, raises, 0), -1, "a fault in the middle of a write: the write fails");
  T_OK(contains(sdu_state_error(&st), "SIGBUS inside LMDB"), "a fault in the middle of a write: reason");
  printf("#   %s\n", sdu_state_error(&st));
  T_OK(write_elsewhere(at("locks")), "another process writes while this one lives on (write lock given back)");
  T_EQI(GETS(&st, "w", &val, 100, 0), -1, "this process does not use the environment again");
  sdu_state_close(&st);
  T_OK(sigaction(SIGSEGV, 0, &sa) == 0 && sa.sa_handler == old.sa_handler && sa.sa_flags == old.sa_flags,
    "after the last close the previous handler is back");

  /* a process that dies holding the write lock: LMDB's robust mutex */
  mkdir(at("died"), 0755);
  fflush(stdout);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    sdu_state c;
    if (sdu_state_open(&c, at("died"), "t", 0) == -1) _exit(1);
    sdu_state_txn(&c, exits, 0);
    _exit(2);
  }
  T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "a process dies inside a write");
  T_OK(write_elsewhere(at("died")), "another process writes after it (the dead owner's lock is recovered)");

  /* a fault outside any store access is not the store's: the process ends
     of it as it would have without the store (by the signal, or by the
     sanitizer's handler in a SANITIZE=1 build) */
  {
    int with, without;
    fflush(stdout);
    pid = fork();
    if (pid == -1) exit(111);
    if (!pid) { raise(SIGSEGV); _exit(2); }
    if (waitpid(pid, &without, 0) != pid) exit(111);
    pid = fork();
    if (pid == -1) exit(111);
    if (!pid) {
      sdu_state c;
      if (sdu_state_open(&c, at("died"), "t", 0) == -1) _exit(1);
      raise(SIGSEGV);
      _exit(2);
    }
    if (waitpid(pid, &with, 0) != pid) exit(111);
    T_OK(with == without && !(WIFEXITED(with) && WEXITSTATUS(with) == 2),
      "a SIGSEGV outside a store access still ends the process, as without the store");
  }
  stralloc_free(&val);
}

/* lock.mdb made by LMDB itself is a file of holes: an open fills them */
static void t_lock_holes(void)
{
  MDB_env *env;
  struct stat s0, s1;
  sdu_state st;
  mkdir(at("holes"), 0755);
  if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, SDU_STATE_MAXREADERS)
    || mdb_env_open(env, at("holes"), 0, 0660)) exit(111);
  mdb_env_close(env);
  if (stat(at("holes/lock.mdb"), &s0) == -1) exit(111);
  if ((unsigned long long) s0.st_blocks * 512 >= (unsigned long long) s0.st_size) {
    T_SKIP("lock.mdb holes filled", "this file system made no holes");
    return;
  }
  T_EQI(sdu_state_open(&st, at("holes"), "t", 0), 0, "open a store whose lock.mdb has holes");
  sdu_state_close(&st);
  T_OK(stat(at("holes/lock.mdb"), &s1) == 0 && (unsigned long long) s1.st_blocks * 512 >= (unsigned long long) s1.st_size
    && s1.st_size == s0.st_size, "its holes are filled, its size kept");
}

/* a 64 KiB tmpfs, full: the state directory has a data.mdb and no lock.mdb
   (removed, as throttle's old recovery advice said) */
static char fullfs[600];
static void fullopen(void)
{
  sdu_state st;
  struct stat sb;
  char tmp[600];
  errno = 0;
  T_EQI(sdu_state_open(&st, at("full/state"), "t", 0), -1, "full file system: open fails");
  T_EQI(errno, ENOSPC, "full file system: ENOSPC");
  T_OK(contains(sdu_state_error(&st), "lock.mdb: No space left on device"), "full file system: reason");
  printf("#   %s\n", sdu_state_error(&st));
  T_OK(contains(sdu_state_advice(&st), "free space") && contains(sdu_state_advice(&st), "makes it worse"),
    "full file system: advice: free space, do not remove the files");
  T_OK(stat(at("full/state/lock.mdb"), &sb) == -1, "full file system: no lock.mdb of holes left behind");
  snprintf(tmp, sizeof tmp, "%s/lock.mdb.%ld.tmp", at("full/state"), (long) getpid());
  T_OK(stat(tmp, &sb) == -1, "full file system: no temporary file left behind");
}

static void t_fault_fullfs(void)
{
  sdu_state st;
  char buf[4096], *data;
  size_t len;
  int fd;
  snprintf(fullfs, sizeof fullfs, "%s", at("full"));
  mkdir(fullfs, 0755);
  if (geteuid() != 0 || mount("tmpfs", fullfs, "tmpfs", 0, "size=64k") == -1) {
    T_SKIP("full file system", "mounting a tmpfs needs root");
    return;
  }
  mkdir(at("fullsrc"), 0755);
  if (sdu_state_open(&st, at("fullsrc"), "t", 0) == -1 || PUTS(&st, "k", "v", 0) == -1) exit(111);
  sdu_state_close(&st);
  data = t_slurp(at("fullsrc/data.mdb"), &len);
  if (!data || mkdir(at("full/state"), 0755) == -1) exit(111);
  T_EQI(t_writefile(at("full/state/data.mdb"), data, len), 0, "a data.mdb on a 64 KiB tmpfs");
  free(data);
  memset(buf, 0, sizeof buf);
  fd = open(at("full/fill"), O_WRONLY | O_CREAT, 0644);
  while (fd != -1 && write(fd, buf, sizeof buf) > 0) ;
  if (fd != -1) close(fd);
  T_OK(fd != -1 && errno == ENOSPC, "fill the file system");
  inchild(fullopen, "full file system: no crash");
  T_OK(umount(fullfs) == 0, "unmount the tmpfs");
}

int main(void)
{
  char cmd[300];
  snprintf(top, sizeof top, "tests/tmp/t_state.%ld", (long) getpid());
  snprintf(cmd, sizeof cmd, "rm -rf %s", top);
  mkdir("tests", 0755);
  mkdir("tests/tmp", 0755);
  if (system(cmd) != 0 || mkdir(top, 0755) == -1 || mkdir(at("db"), 0755) == -1) {
    printf("not ok - cannot make %s\n", top);
    return 1;
  }
  t_time();
  t_basic();
  t_incr();
  t_concurrent();
  t_cleanup_walk();
  t_full();
  t_resized();
  t_stale_reader();
  t_open_fail();
  t_truncated();
  t_nosync();
  t_shared();
  t_leave();
  t_batch();
  t_txn();
  t_view_sub();
  t_fault_corrupt();
  t_fault_locks();
  t_lock_holes();
  t_fault_fullfs();
  /* the second pass: the cases every store shares, on a Redis server */
  {
    pid_t server = t_redis_start(top, rsock);
    if (!server) T_SKIP("the store on Redis", "no redis-server");
    else if (server == -1) T_OK(0, "redis-server starts");
    else {
      mkdir(at("local"), 0755);
      snprintf(raddr, sizeof raddr, "unix:%s?local=%s&timeout=2s", rsock, at("local"));
      rstore = raddr;
      t_basic();
      t_incr();
      t_concurrent();
      t_cleanup_walk();
      t_batch();
      t_redis_only(server);
      rstore = 0;
    }
  }
  if (!sdu_t_failed) system(cmd);
  T_DONE();
}
