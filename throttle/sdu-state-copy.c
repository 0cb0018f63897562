/* sdu-state-copy.c: copy the tables of one state store into another (an LMDB
   directory into Redis when a site moves to several MX hosts), entries with
   their expiries; the expired ones are left behind */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "sdu_msg.h"
#include "sdu_state.h"
#include "sdu_time.h"
#include "throttle_store.h"

#define USAGE "sdu-state-copy [ -t table ... ] from to"
#define TABLES_MAX 16

/* every table an sdu program keeps: throttle, its greylisting triplets in
   LMDB, rcptcheck's counted addresses, spamgrab's host cache and recipient cap */
static const char *const known[] = { "throttle", THROTTLE_GREY_TABLE, "rcptcount", "spamgrab_hosts",
  "spamgrab_cap", 0 };

struct copy { sdu_state *to; unsigned long n; int failed; unsigned long long now; };

static int one(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  struct copy *c = ctx;
  if (sdu_state_put(c->to, key, klen, val, vlen, expires) == -1) { c->failed = 1; return 1; }
  ++c->n;
  return 0;
}

/* a chunk of LMDB's greylisting hash table: its triplets go one by one
   into the throttle table of to, as throttle would record them there (in
   to's hash table, or as entries of their own on Redis) */
static int grey(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  struct copy *c = ctx;
  throttle_grey_entry e[THROTTLE_GREY_CHUNK];
  int n = throttle_grey_unpack(key, klen, val, vlen, c->now, e);
  (void) expires;
  if (n == -1) return 0; /* not a chunk: nothing throttle reads */
  if (throttle_grey_put(c->to, e, (unsigned int) n, c->now) == -1) { c->failed = 1; return 1; }
  c->n += (unsigned long) n;
  return 0;
}

int main(int argc, char **argv)
{
  const char *tables[TABLES_MAX + 1];
  unsigned int nt = 0, i;
  int opt, bad = 0;
  unsigned long long now;

  sdu_iam("sdu-state-copy");
  while ((opt = getopt(argc, argv, "t:")) != -1)
    switch (opt) {
      case 't': if (nt == TABLES_MAX) sdu_usage(USAGE); tables[nt++] = optarg; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (!argv[0] || !argv[1] || argv[2]) sdu_usage(USAGE);
  if (!nt) for (; known[nt]; ++nt) tables[nt] = known[nt];
  tables[nt] = 0;
  now = sdu_now();
  for (i = 0; i < nt; ++i) {
    sdu_state from, to;
    struct copy c;
    sdu_log l;
    int r, isgrey;
    if (sdu_state_open(&from, argv[0], tables[i], SDU_STATE_RDONLY) == -1) {
      if (errno == ENOENT && !sdu_state_isaddr(argv[0])) { sdu_state_close(&from); continue; } /* no such table */
      sdu_warn(sdu_state_error(&from));
      sdu_state_close(&from);
      bad = 1;
      continue;
    }
    isgrey = !strcmp(tables[i], THROTTLE_GREY_TABLE);
    if (sdu_state_open(&to, argv[1], isgrey ? "throttle" : tables[i], 0) == -1) {
      sdu_warn(sdu_state_error(&to));
      sdu_state_close(&to);
      sdu_state_close(&from);
      bad = 1;
      continue;
    }
    c.to = &to; c.n = 0; c.failed = 0; c.now = now;
    r = sdu_state_walk(&from, now, isgrey ? grey : one, &c);
    sdu_log_start(&l);
    sdu_log_kv(&l, "table", tables[i]);
    sdu_log_kvu(&l, "copied", c.n);
    if (r == -1) { sdu_warn(sdu_state_error(&from)); bad = 1; sdu_log_kv(&l, "result", "failed"); }
    else if (c.failed) { sdu_warn(sdu_state_error(&to)); bad = 1; sdu_log_kv(&l, "result", "failed"); }
    else sdu_log_kv(&l, "result", "ok");
    sdu_log_emit(&l, 2);
    sdu_state_close(&to);
    sdu_state_close(&from);
  }
  return bad ? SDU_EXIT_TEMP : 0;
}
