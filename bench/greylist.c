/* greylist.c: the cost of throttle's greylisting decision per RCPT with few and
   with many triplets in the store (issue 16: 10^6 triplets at most 1.5 x 10)
   usage: greylist [ -n lookups ] dir triplets...
   For each count: a fresh store in dir/N, filled with that many triplets of
   one client network, half pending (first seen 60 s before), half passed.
   Then, on random ones of them, in microseconds per decision:
   - early: the store's lookups alone as throttle makes them per RCPT (the
     network's automatic whitelist, then the triplet), on pending triplets;
   - known: the same on passed triplets (reads: the expiry is fresh);
   - rcpt: what a RCPT costs throttle's session: a transaction (MAIL, its
     reply, RCPT, its reply) of a greylisted client to a passed triplet,
     with the decision's log line written (to /dev/null), the store's
     reads and the hashing included.
   The size of data.mdb after the fill is printed too. */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>
#include <lmdb.h>
#include "sdu_state.h"
#include "sdu_msg.h"
#include <fcntl.h>
#include "sdu_smtp.h"
#include "../throttle/throttle_store.h"
#include "../throttle/throttle_session.h"

#define MAP (1UL << 30)
static const throttle_grey G = { 300, 86400, 5, 35 * 86400UL };
static const unsigned long long NOW = 1800000000ULL;

static char net[THROTTLE_GREY_NET_MAX];
static size_t nl;
static int logfd;

static void hash(unsigned char *h, unsigned long i)
{
  char s[64], r[64];
  int sl, rl;
  sl = snprintf(s, sizeof s, "sender%lu@example.org", i);
  rl = snprintf(r, sizeof r, "rcpt%lu@example.net", i % 5000);
  throttle_grey_triplet(h, net, nl, s, (size_t) sl, r, (size_t) rl);
}

/* as throttle.c logs a decision */
static void greylog(void *ctx, int d, int refused, const char *hex)
{
  sdu_log l;
  (void) ctx;
  sdu_log_start(&l);
  sdu_log_kv(&l, "ip", "198.51.100.7");
  sdu_log_kv(&l, "lists", "pbl");
  sdu_log_kv(&l, "action", refused ? "tempfail" : "pass");
  sdu_log_kv(&l, "grey", throttle_grey_name(d));
  sdu_log_kv(&l, "triplet", hex);
  sdu_log_emit(&l, logfd);
}

struct fill { unsigned long from, to; int passed; };
static int fill_in(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct fill *f = ctx;
  unsigned long i;
  for (i = f->from; i < f->to; ++i) {
    unsigned char k[1 + THROTTLE_GREY_HASH], v[8 + 9];
    MDB_val key, val;
    int rc;
    k[0] = 'g';
    hash(k + 1, i);
    /* the store's entry format: expiry, then throttle's bytes */
    sdu_state_pack64(v, (i & 1) ? NOW + G.awltime : NOW + 86400);
    v[8] = (i & 1) ? 'P' : 'p';
    sdu_state_pack64(v + 9, NOW - 3600 + 200); /* first seen 60 s before the lookups below */
    key.mv_data = k; key.mv_size = sizeof k;
    val.mv_data = v; val.mv_size = sizeof v;
    if ((rc = mdb_put(txn, dbi, &key, &val, 0))) return rc;
  }
  return 0;
}

static double secs(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  unsigned long lookups = 20000;
  int opt, a;
  sdu_iam("greylist");
  while ((opt = getopt(argc, argv, "n:")) != -1)
    if (opt == 'n') lookups = strtoul(optarg, 0, 10);
    else { fprintf(stderr, "usage: greylist [ -n lookups ] dir triplets...\n"); return 100; }
  if (argc - optind < 2) { fprintf(stderr, "usage: greylist [ -n lookups ] dir triplets...\n"); return 100; }
  {
    sdu_ip ip;
    sdu_ip_parse(&ip, "198.51.100.7");
    nl = throttle_grey_net(net, &ip);
  }
  logfd = open("/dev/null", O_WRONLY);
  if (logfd == -1) sdu_fatalsys(111, "unable to open /dev/null");
  printf("%10s %10s %10s %10s %10s\n", "triplets", "early us", "known us", "rcpt us", "data.mdb");
  double first[3] = { 0, 0, 0 }, last[3] = { 0, 0, 0 };
  unsigned long nfirst = 0, nlast = 0;
  for (a = optind + 1; a < argc; ++a) {
    unsigned long n = strtoul(argv[a], 0, 10), i, done;
    char dir[512], f[600];
    sdu_state st;
    struct stat sb;
    double t0, early = 0, known = 0, rcpt = 0;
    unsigned int seed = 12345;
    int pass;
    snprintf(dir, sizeof dir, "%s/%lu", argv[optind], n);
    mkdir(dir, 0700);
    snprintf(f, sizeof f, "%s/data.mdb", dir); unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", dir); unlink(f);
    /* NOSYNC, as throttle opens its table */
    if (sdu_state_open_size(&st, dir, THROTTLE_TABLE, SDU_STATE_NOSYNC, MAP) == -1) sdu_fatal(111, sdu_state_error(&st));
    for (done = 0; done < n; done += 100000) {
      struct fill fl;
      fl.from = done; fl.to = done + 100000 < n ? done + 100000 : n;
      if (sdu_state_txn(&st, fill_in, &fl) == -1) sdu_fatal(111, sdu_state_error(&st));
    }
    for (pass = 0; pass < 2; ++pass) {
      t0 = secs();
      for (i = 0; i < lookups; ++i) {
        unsigned char h[THROTTLE_GREY_HASH];
        unsigned long j = (unsigned long) rand_r(&seed) % n;
        int d;
        /* pending entries are the even ones, passed the odd ones */
        j = pass ? (j | 1) % n : j & ~1UL;
        hash(h, j);
        if (throttle_grey_auto(&st, &G, net, nl, NOW) != 0) sdu_fatal(111, "whitelist lookup failed");
        d = throttle_grey_check(&st, &G, h, NOW - 3600 + 260 + (pass ? 3600 - 260 : 0));
        if (d != (pass ? THROTTLE_GREY_KNOWN : THROTTLE_GREY_EARLY)) sdu_fatal(111, "unexpected decision");
      }
      if (pass) known = (secs() - t0) * 1e6 / (double) lookups;
      else early = (secs() - t0) * 1e6 / (double) lookups;
    }
    {
      throttle_session s;
      const char *t;
      char cmdarg[128];
      throttle_session_init(&s);
      s.greylist = 1; s.grey = G; s.st = &st;
      memcpy(s.gnet, net, nl); s.gnlen = nl;
      s.greylog = greylog;
      t0 = secs();
      for (i = 0; i < lookups; ++i) {
        unsigned long j = ((unsigned long) rand_r(&seed) % n) | 1;
        int len;
        if (j >= n) j = n - 1;
        len = snprintf(cmdarg, sizeof cmdarg, "FROM:<sender%lu@example.org>", j);
        if (throttle_session_command(&s, SDU_V_MAIL, cmdarg, (size_t) len, NOW, &t) != SDU_PASS) sdu_fatal(111, "MAIL not passed");
        throttle_session_reply(&s, SDU_V_MAIL, 250, "250 ok\r\n", 8, NOW);
        len = snprintf(cmdarg, sizeof cmdarg, "TO:<rcpt%lu@example.net>", j % 5000);
        if (throttle_session_command(&s, SDU_V_RCPT, cmdarg, (size_t) len, NOW, &t) != SDU_PASS) sdu_fatal(111, "RCPT not passed");
        throttle_session_reply(&s, SDU_V_RCPT, 250, "250 ok\r\n", 8, NOW);
      }
      rcpt = (secs() - t0) * 1e6 / (double) lookups;
      if (s.storefailed || s.greypassed != lookups) sdu_fatal(111, "the session's decisions are not the expected ones");
    }
    snprintf(f, sizeof f, "%s/data.mdb", dir);
    if (stat(f, &sb) == -1) sb.st_size = 0;
    printf("%10lu %10.2f %10.2f %10.2f %9.1fM\n", n, early, known, rcpt, (double) sb.st_size / 1048576.0);
    if (a == optind + 1) { first[0] = early; first[1] = known; first[2] = rcpt; nfirst = n; }
    last[0] = early; last[1] = known; last[2] = rcpt; nlast = n;
    sdu_state_close(&st);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", dir); unlink(f);
    rmdir(dir);
  }
  if (argc - optind > 2 && first[2] > 0 && first[0] > 0 && first[1] > 0) {
    printf("a RCPT's cost with %lu triplets / with %lu: %.2f (target <= 1.5)\n", nlast, nfirst, last[2] / first[2]);
    printf("the store's lookups alone: early %.2f, known %.2f (random reads over the whole file: memory, not the code)\n",
      last[0] / first[0], last[1] / first[1]);
  }
  return 0;
}
