/* greylist.c: the cost of throttle's greylisting decision per RCPT with few and
   with many triplets in the store (issue 16: 10^6 triplets at most 1.5 x 10)
   usage: greylist [ -n lookups ] dir triplets...
   For each count: a fresh store in dir/N, filled with that many triplets
   (pending ones, first seen an hour before), then lookups decisions on
   random ones of them, as throttle makes them per RCPT (the network's
   automatic whitelist, then the triplet: early, nothing written) and as
   many on triplets that passed (known: the entry's expiry refreshed, one
   write). Prints microseconds per decision and the size of data.mdb. */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>
#include <lmdb.h>
#include "sdu_state.h"
#include "sdu_msg.h"
#include "../throttle/throttle_store.h"

#define MAP (1UL << 30)
static const throttle_grey G = { 300, 86400, 5, 35 * 86400UL };
static const unsigned long long NOW = 1800000000ULL;

static void hash(unsigned char *h, unsigned long i)
{
  char net[THROTTLE_GREY_NET_MAX], s[64], r[64];
  sdu_ip ip;
  int sl, rl;
  memset(&ip, 0, sizeof ip);
  ip.a[0] = (unsigned char) (i >> 16); ip.a[1] = (unsigned char) (i >> 8); ip.a[2] = (unsigned char) i;
  sl = snprintf(s, sizeof s, "sender%lu@example.org", i);
  rl = snprintf(r, sizeof r, "rcpt%lu@example.net", i % 5000);
  throttle_grey_triplet(h, net, throttle_grey_net(net, &ip), s, (size_t) sl, r, (size_t) rl);
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
    sdu_state_pack64(v, NOW + 86400);
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
  printf("%10s %12s %12s %10s\n", "triplets", "early us", "known us", "data.mdb");
  for (a = optind + 1; a < argc; ++a) {
    unsigned long n = strtoul(argv[a], 0, 10), i, done;
    char dir[512], f[600];
    sdu_state st;
    struct stat sb;
    double t0, early = 0, known = 0;
    unsigned int seed = 12345;
    int pass;
    char net[THROTTLE_GREY_NET_MAX];
    sdu_ip ip;
    size_t nl;
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
    memset(&ip, 0, sizeof ip);
    ip.a[0] = 198; ip.a[1] = 51; ip.a[2] = 100;
    nl = throttle_grey_net(net, &ip);
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
        d = throttle_grey_check(&st, &G, h, NOW - 3600 + 260);
        if (d != (pass ? THROTTLE_GREY_KNOWN : THROTTLE_GREY_EARLY)) sdu_fatal(111, "unexpected decision");
      }
      if (pass) known = (secs() - t0) * 1e6 / (double) lookups;
      else early = (secs() - t0) * 1e6 / (double) lookups;
    }
    snprintf(f, sizeof f, "%s/data.mdb", dir);
    if (stat(f, &sb) == -1) sb.st_size = 0;
    printf("%10lu %12.2f %12.2f %9.1fM\n", n, early, known, (double) sb.st_size / 1048576.0);
    sdu_state_close(&st);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", dir); unlink(f);
    rmdir(dir);
  }
  return 0;
}
