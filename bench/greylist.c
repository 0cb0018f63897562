/* greylist.c: the cost of throttle's greylisting decision per RCPT with few and
   with many triplets in the store (issue 16: 10^6 triplets at most 1.5 x 10)
   usage: greylist [ -n lookups ] [ -k rounds ] [ -c children ] [ -r redis-address ] dir triplets...
   For each count: a fresh store in dir/N (and, with -r, one in a database of
   that Redis server of its own: db=1, 2, ...), filled with that many triplets
   of one client network, half pending (first seen 60 s before), half passed,
   as throttle writes them (a transaction per thousand). Then, on random ones
   of them, in microseconds per decision:
   - early: the store's lookup alone as throttle makes it per RCPT (the
     network's automatic whitelist and the triplet in one read), on pending
     triplets;
   - known: the same on passed triplets (reads: the expiry is fresh);
   - rcpt: what a RCPT costs throttle's session: a transaction (MAIL, its
     reply, RCPT, its reply) of a greylisted client to a passed triplet,
     with the decision's log line written (to /dev/null), the store's
     reads and the hashing included;
   - first: the same transaction as the first of a new process, as
     tcpserver runs throttle for each connection: a child opens the store
     (not timed), then the MAIL and RCPT are timed; every page of the map
     they touch is a page fault there, with few triplets and with many
     (LMDB stores only; -c children a round).
   The stores are measured in turn, round after round (the load of the
   machine moves from second to second: each round measures every store
   within a second or so), and each figure is the median of the rounds.
   A Redis store gets a tenth of the lookups (each is a round trip; its
   deadline is 5 s unless the address names one). The
   size of data.mdb after the fill is printed too. */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "sdu_state.h"
#include "sdu_msg.h"
#include <fcntl.h>
#include "sdu_smtp.h"
#include "../throttle/throttle_store.h"
#include "../throttle/throttle_session.h"

#define MAP (1UL << 30)
#define FILL 1000       /* triplets per transaction, as many processes' writes */
#define ROUNDS_MAX 31
#define STORES_MAX 16
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

/* triplets from .. to as throttle_grey_check writes them, in one write */
static void fill(sdu_state *st, unsigned long from, unsigned long to)
{
  static throttle_grey_entry e[FILL];
  unsigned long i;
  unsigned int n = 0;
  for (i = from; i < to; ++i, ++n) {
    hash(e[n].hash, i);
    e[n].passed = (i & 1) != 0;
    e[n].first = NOW - 3600 + 200; /* first seen 60 s before the lookups below */
    e[n].expires = (i & 1) ? NOW + G.awltime : NOW + 86400;
  }
  if (throttle_grey_put(st, e, n, NOW - 3600 + 200) == -1) sdu_fatal(111, sdu_state_error(st));
}

static double secs(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

struct store {
  unsigned long n;       /* triplets */
  int redis;
  sdu_state st;
  char dir[512];
  unsigned int seed;
  double us[4][ROUNDS_MAX]; /* early, known, rcpt, first: per round */
};

/* one MAIL and RCPT of a greylisted client to passed triplet j */
static void transaction(throttle_session *ss, unsigned long j)
{
  const char *t;
  char cmdarg[128];
  int len = snprintf(cmdarg, sizeof cmdarg, "FROM:<sender%lu@example.org>", j);
  if (throttle_session_command(ss, SDU_V_MAIL, cmdarg, (size_t) len, NOW, &t) != SDU_PASS) sdu_fatal(111, "MAIL not passed");
  throttle_session_reply(ss, SDU_V_MAIL, 250, "250 ok\r\n", 8, NOW);
  len = snprintf(cmdarg, sizeof cmdarg, "TO:<rcpt%lu@example.net>", j % 5000);
  if (throttle_session_command(ss, SDU_V_RCPT, cmdarg, (size_t) len, NOW, &t) != SDU_PASS) sdu_fatal(111, "RCPT not passed");
  throttle_session_reply(ss, SDU_V_RCPT, 250, "250 ok\r\n", 8, NOW);
}

static int bydouble(const void *a, const void *b);

/* the first transaction of new processes on s's store: the median of
   children, each opening the store itself, as throttle does */
static double first(struct store *s, unsigned int children)
{
  double us[64];
  unsigned int c;
  if (!children) return 0;
  if (children > 64) children = 64;
  for (c = 0; c < children; ++c) {
    unsigned long j = ((unsigned long) rand_r(&s->seed) % s->n) | 1;
    int pfd[2], ws;
    pid_t pid;
    if (j >= s->n) j = s->n - 1;
    if (pipe(pfd) == -1) sdu_fatalsys(111, "unable to create a pipe");
    pid = fork();
    if (pid == -1) sdu_fatalsys(111, "unable to fork");
    if (!pid) {
      sdu_state st;
      throttle_session ss;
      double t0, d;
      close(pfd[0]);
      if (sdu_state_open_size(&st, s->dir, THROTTLE_TABLE, SDU_STATE_NOSYNC, MAP) == -1) _exit(111);
      throttle_session_init(&ss);
      ss.greylist = 1; ss.grey = G; ss.st = &st;
      memcpy(ss.gnet, net, nl); ss.gnlen = nl;
      ss.greylog = greylog;
      t0 = secs();
      transaction(&ss, j);
      d = (secs() - t0) * 1e6;
      if (ss.storefailed || ss.greypassed != 1) _exit(111);
      if (write(pfd[1], &d, sizeof d) != (ssize_t) sizeof d) _exit(111);
      _exit(0);
    }
    close(pfd[1]);
    if (read(pfd[0], &us[c], sizeof us[c]) != (ssize_t) sizeof us[c]) sdu_fatal(111, "a child's first transaction failed");
    close(pfd[0]);
    if (waitpid(pid, &ws, 0) != pid || ws) sdu_fatal(111, "a child's first transaction failed");
  }
  qsort(us, children, sizeof *us, bydouble);
  return children & 1 ? us[children / 2] : (us[children / 2 - 1] + us[children / 2]) / 2;
}

/* one round on s: lookups of each kind, in microseconds each */
static void round1(struct store *s, unsigned long lookups, unsigned int children, unsigned int r)
{
  unsigned long i, n = s->n;
  double t0;
  int pass;
  for (pass = 0; pass < 2; ++pass) {
    t0 = secs();
    for (i = 0; i < lookups; ++i) {
      unsigned char h[THROTTLE_GREY_HASH];
      unsigned long j = (unsigned long) rand_r(&s->seed) % n;
      int d;
      /* pending entries are the even ones, passed the odd ones */
      j = pass ? (j | 1) % n : j & ~1UL;
      hash(h, j);
      d = throttle_grey_decide(&s->st, &G, net, nl, h, 0, NOW - 3600 + 260 + (pass ? 3600 - 260 : 0));
      if (d != (pass ? THROTTLE_GREY_KNOWN : THROTTLE_GREY_EARLY)) sdu_fatal(111, "unexpected decision: ", sdu_state_error(&s->st));
    }
    s->us[pass][r] = (secs() - t0) * 1e6 / (double) lookups;
  }
  {
    throttle_session ss;
    throttle_session_init(&ss);
    ss.greylist = 1; ss.grey = G; ss.st = &s->st;
    memcpy(ss.gnet, net, nl); ss.gnlen = nl;
    ss.greylog = greylog;
    t0 = secs();
    for (i = 0; i < lookups; ++i) {
      unsigned long j = ((unsigned long) rand_r(&s->seed) % n) | 1;
      if (j >= n) j = n - 1;
      transaction(&ss, j);
    }
    s->us[2][r] = (secs() - t0) * 1e6 / (double) lookups;
    if (ss.storefailed || ss.greypassed != lookups) sdu_fatal(111, "the session's decisions are not the expected ones");
  }
  s->us[3][r] = s->redis ? 0 : first(s, children);
}

static int bydouble(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned int n)
{
  double c[ROUNDS_MAX];
  memcpy(c, v, n * sizeof *v);
  qsort(c, n, sizeof *c, bydouble);
  return n & 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

static void report(struct store *s, unsigned int ns, unsigned int rounds, int redis, const char *what)
{
  struct store *lo = 0, *hi = 0;
  unsigned int i;
  double m[4], f[4] = { 0, 0, 0, 0 };
  int k;
  for (i = 0; i < ns; ++i) {
    struct stat sb;
    char f2[600], size[32] = "-";
    if (s[i].redis != redis) continue;
    for (k = 0; k < 4; ++k) m[k] = median(s[i].us[k], rounds);
    if (!redis) {
      snprintf(f2, sizeof f2, "%s/data.mdb", s[i].dir);
      if (stat(f2, &sb) == 0) snprintf(size, sizeof size, "%.1fM", (double) sb.st_size / 1048576.0);
    }
    printf("%-6s %10lu %10.2f %10.2f %10.2f %10.2f %10s\n", what, s[i].n, m[0], m[1], m[2], m[3], size);
    if (!lo) { lo = &s[i]; for (k = 0; k < 4; ++k) f[k] = m[k]; }
    hi = &s[i];
  }
  if (lo && hi != lo && f[0] > 0 && f[1] > 0 && f[2] > 0) {
    for (k = 0; k < 4; ++k) m[k] = median(hi->us[k], rounds);
    printf("%s: a RCPT's cost with %lu triplets / with %lu: %.2f in a warm loop (target <= 1.5)",
      what, hi->n, lo->n, m[2] / f[2]);
    if (f[3] > 0) printf(", %.2f as the first of a new process", m[3] / f[3]);
    printf("; the lookups alone: early %.2f, known %.2f\n", m[0] / f[0], m[1] / f[1]);
  }
}

int main(int argc, char **argv)
{
  static struct store s[STORES_MAX];
  unsigned long lookups = 20000;
  unsigned int rounds = 7, ns = 0, i, r, children = 31;
  const char *redis = 0;
  int opt, a;
  sdu_iam("greylist");
  while ((opt = getopt(argc, argv, "n:k:r:c:")) != -1)
    if (opt == 'n') lookups = strtoul(optarg, 0, 10);
    else if (opt == 'c') children = (unsigned int) strtoul(optarg, 0, 10);
    else if (opt == 'k') rounds = (unsigned int) strtoul(optarg, 0, 10);
    else if (opt == 'r') redis = optarg;
    else { fprintf(stderr, "usage: greylist [ -n lookups ] [ -k rounds ] [ -c children ] [ -r redis-address ] dir triplets...\n"); return 100; }
  if (argc - optind < 2 || !rounds || rounds > ROUNDS_MAX || !lookups || (argc - optind - 1) * (redis ? 2 : 1) > STORES_MAX) {
    fprintf(stderr, "usage: greylist [ -n lookups ] [ -k rounds ] [ -c children ] [ -r redis-address ] dir triplets...\n");
    return 100;
  }
  {
    sdu_ip ip;
    sdu_ip_parse(&ip, "198.51.100.7");
    nl = throttle_grey_net(net, &ip);
  }
  logfd = open("/dev/null", O_WRONLY);
  if (logfd == -1) sdu_fatalsys(111, "unable to open /dev/null");
  for (a = optind + 1; a < argc; ++a) {
    unsigned long n = strtoul(argv[a], 0, 10), done;
    int k;
    for (k = 0; k < (redis ? 2 : 1); ++k) {
      struct store *x = &s[ns++];
      char f[600];
      x->n = n;
      x->redis = k;
      x->seed = 12345;
      if (!k) {
        snprintf(x->dir, sizeof x->dir, "%s/%lu", argv[optind], n);
        mkdir(x->dir, 0700);
        snprintf(f, sizeof f, "%s/data.mdb", x->dir); unlink(f);
        snprintf(f, sizeof f, "%s/lock.mdb", x->dir); unlink(f);
        /* NOSYNC, as throttle opens its table */
        if (sdu_state_open_size(&x->st, x->dir, THROTTLE_TABLE, SDU_STATE_NOSYNC, MAP) == -1) sdu_fatal(111, sdu_state_error(&x->st));
      } else {
        /* a deadline for the fill's batches of a thousand, unless one is given */
        snprintf(x->dir, sizeof x->dir, "%s%sdb=%u%s", redis, strchr(redis, '?') ? "&" : "?", ns,
          strstr(redis, "timeout=") ? "" : "&timeout=5s");
        if (sdu_state_open(&x->st, x->dir, THROTTLE_TABLE, 0) == -1) sdu_fatal(111, sdu_state_error(&x->st));
      }
      for (done = 0; done < n; done += FILL) fill(&x->st, done, done + FILL < n ? done + FILL : n);
    }
  }
  for (r = 0; r < rounds; ++r)
    for (i = 0; i < ns; ++i) round1(&s[i], s[i].redis ? (lookups + 9) / 10 : lookups, children, r);
  printf("%-6s %10s %10s %10s %10s %10s %10s   (medians of %u rounds)\n", "store", "triplets", "early us", "known us", "rcpt us", "first us", "data.mdb", rounds);
  report(s, ns, rounds, 0, "lmdb");
  if (redis) report(s, ns, rounds, 1, "redis");
  for (i = 0; i < ns; ++i) {
    char f[600];
    sdu_state_close(&s[i].st);
    if (s[i].redis) continue;
    snprintf(f, sizeof f, "%s/data.mdb", s[i].dir); unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", s[i].dir); unlink(f);
    rmdir(s[i].dir);
  }
  return 0;
}
