/* sdu-report.c: the worst hosts, the morning summary and the metrics from the logs of all sdu links */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include "sdu_msg.h"
#include "sdu_time.h"
#include "throttle_rules.h"
#include "throttle_report.h"
#include "throttle_logread.h"
#include "throttle_metrics.h"
#include "throttle_html.h"

#define USAGE "sdu-report [ -t | -n | -r | -s [ -H | -M to ] | -P file -S state ] [ -p period | -a ] [ -N hosts ] [ -m connections ] [ -T timeout ] [ file|dir ... ]"
#define STATE_MAGIC "sdu-report-state 1"

static tr_stats stats;
static tm_metrics metrics;

static int line_stats(void *ctx, const char *line, size_t len)
{
  (void) ctx;
  return tr_feed(&stats, line, len) == -1 ? -1 : 0;
}

static int line_metrics(void *ctx, const char *line, size_t len)
{
  (void) ctx;
  tm_feed(&metrics, line, len);
  return 0;
}

static void feed(int fd, const char *name, tl_linefn fn)
{
  int r = tl_feed(fd, 0, fn, 0, 0);
  if (r == -1) sdu_nomem();
  if (!r) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", name);
}

static void feedfile(const char *name)
{
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", name);
  feed(fd, name, line_stats);
  close(fd);
}

static int byname(const void *a, const void *b)
{
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* a multilog directory: the rotated files (@tai64n.s, .u), oldest first,
   then current; a rotated file named before the period holds only older lines */
static void feeddir(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = 0;
  size_t n = 0, a = 0, i;
  stralloc path = {0};
  if (!d) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", dir);
  while ((e = readdir(d))) {
    unsigned long long t;
    if (strcmp(e->d_name, "current")) {
      if (!tl_rotated(e->d_name) || !tr_tai64n(e->d_name, 27, &t)) continue;
      if (stats.since && t < stats.since) continue;
    }
    if (n == a) {
      char **m = realloc(names, (a = a ? 2 * a : 64) * sizeof *m);
      if (!m) sdu_nomem();
      names = m;
    }
    if (!(names[n] = strdup(e->d_name))) sdu_nomem();
    if (!strcmp(names[n], "current")) names[n][0] = '~'; /* sorts after every '@' */
    ++n;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, byname); /* names is 0 for an empty directory */
  for (i = 0; i < n; ++i) {
    if (names[i][0] == '~') names[i][0] = 'c';
    if (!stralloc_copys(&path, dir) || !stralloc_cats(&path, "/") || !stralloc_cats(&path, names[i])
      || !stralloc_0(&path)) sdu_nomem();
    feedfile(path.s);
    free(names[i]);
  }
  free(names);
  stralloc_free(&path);
}

static unsigned long number(const char *s, unsigned long *u)
{
  if (!throttle_number(s, u)) sdu_usage(USAGE);
  return *u;
}

static void writeall(int fd, const char *s, size_t len, const char *name)
{
  while (len) {
    ssize_t w = write(fd, s, len);
    if (w < 0) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to write ", name); }
    s += w; len -= (size_t) w;
  }
}

/* file gets s whole or not at all: a temp file beside it (node_exporter reads
   only *.prom), flushed, renamed over it */
static void replace(const char *file, const stralloc *s)
{
  stralloc tmp = {0};
  int fd;
  if (!stralloc_copys(&tmp, file) || !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)) sdu_nomem();
  fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to create ", tmp.s);
  writeall(fd, s->s, s->len, tmp.s);
  if (fsync(fd) == -1 || close(fd) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to write ", tmp.s);
  if (rename(tmp.s, file) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to rename ", tmp.s, " to ", file);
  stralloc_free(&tmp);
}

/* the state: where each source was left, and the counters */
typedef struct source { const char *path; tl_pos pos; } source;

static void badstate(const char *state, unsigned long line)
{
  char n[SDU_FMT_ULONG];
  n[sdu_fmt_ulong(n, line)] = 0;
  sdu_fatal(SDU_EXIT_PERM, "unable to read ", state, " line ", n, ": not sdu-report's state (remove it to count anew)");
}

static void loadstate(const char *state, source *src, size_t nsrc)
{
  stralloc sa = {0};
  char buf[4096];
  int fd = open(state, O_RDONLY | O_CLOEXEC);
  size_t i = 0, lineno = 0;
  if (fd == -1) {
    if (errno == ENOENT) return; /* the first run: everything is new */
    sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", state);
  }
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", state); }
    if (!r) break;
    if (!stralloc_catb(&sa, buf, (size_t) r)) sdu_nomem();
  }
  close(fd);
  while (i < sa.len) {
    char *s = sa.s + i, *nl = memchr(s, '\n', sa.len - i);
    size_t len = nl ? (size_t) (nl - s) : sa.len - i;
    i += len + 1;
    ++lineno;
    if (lineno == 1) {
      if (len != strlen(STATE_MAGIC) || memcmp(s, STATE_MAGIC, len)) badstate(state, lineno);
      continue;
    }
    if (len > 4 && !memcmp(s, "pos ", 4)) {
      tl_pos p;
      int off = 0;
      size_t k;
      s[len] = 0;
      memset(&p, 0, sizeof p);
      if (sscanf(s + 4, "%llu %llu %llu %llu %llu %llu %n", &p.dev, &p.ino, &p.off, &p.head, &p.last, &p.lastns,
          &off) < 6 || !off) badstate(state, lineno);
      for (k = 0; k < nsrc; ++k)
        if (!strcmp(src[k].path, s + 4 + off)) { src[k].pos = p; src[k].pos.known = 1; }
      continue; /* a source no longer named is forgotten */
    }
    if (!tm_load(&metrics, s, len)) badstate(state, lineno);
  }
  stralloc_free(&sa);
}

static void savestate(const char *state, const source *src, size_t nsrc)
{
  stralloc sa = {0};
  char line[256];
  size_t k;
  if (!stralloc_copys(&sa, STATE_MAGIC "\n")) sdu_nomem();
  for (k = 0; k < nsrc; ++k) {
    const tl_pos *p = &src[k].pos;
    if (!p->known) continue;
    snprintf(line, sizeof line, "pos %llu %llu %llu %llu %llu %llu ", p->dev, p->ino, p->off, p->head, p->last,
      p->lastns);
    if (!stralloc_cats(&sa, line) || !stralloc_cats(&sa, src[k].path) || !stralloc_cats(&sa, "\n")) sdu_nomem();
  }
  if (!tm_save(&sa, &metrics)) sdu_nomem();
  replace(state, &sa);
  stralloc_free(&sa);
}

/* -P: what is new in each source since the last run, added to the counters */
static void prom(const char *file, const char *state, char **argv)
{
  stralloc lock = {0}, out = {0}, what = {0};
  source *src;
  size_t n = 0, k;
  int lfd;
  while (argv[n]) ++n;
  if (!(src = calloc(n ? n : 1, sizeof *src))) sdu_nomem();
  for (k = 0; k < n; ++k) {
    src[k].path = argv[k];
    if (strchr(argv[k], '\n')) sdu_usage(USAGE);
  }
  /* one run at a time: a slow run and the next one from cron would count lines twice */
  if (!stralloc_copys(&lock, state) || !stralloc_cats(&lock, ".lock") || !stralloc_0(&lock)) sdu_nomem();
  lfd = open(lock.s, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lfd == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", lock.s);
  if (lockf(lfd, F_TLOCK, 0) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to lock ", lock.s, " (another sdu-report -P?)");
  tm_init(&metrics);
  loadstate(state, src, n);
  if (!n) feed(0, "stdin", line_metrics);
  for (k = 0; k < n; ++k) {
    int r;
    if (!strcmp(src[k].path, "-")) { feed(0, "stdin", line_metrics); continue; }
    r = tl_source(src[k].path, &src[k].pos, line_metrics, 0, &what);
    if (r == -1) sdu_nomem();
    if (!r) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", what.s);
  }
  /* the state first: a crash before the metrics are renamed loses nothing */
  savestate(state, src, n);
  if (!tm_prom(&out, &metrics)) sdu_nomem();
  replace(file, &out);
  close(lfd);
  stralloc_free(&out); stralloc_free(&what); stralloc_free(&lock);
  free(src);
}

int main(int argc, char **argv)
{
  int opt, form = TR_TABLE, summary = 0, html = 0;
  unsigned long period = 86400, max = 20, minconn = 1, u;
  const char *timeout = "6h", *promfile = 0, *state = 0, *mailto = 0;
  unsigned long long now = sdu_now();
  stralloc out = {0};
  tr_host **worst;
  long n;

  sdu_iam("sdu-report");
  while ((opt = getopt(argc, argv, "tnrsHM:P:S:p:aN:m:T:")) != -1)
    switch (opt) {
      case 't': form = TR_TABLE; summary = 0; break;
      case 'n': form = TR_NFT; summary = 0; break;
      case 'r': form = TR_TCPRULES; summary = 0; break;
      case 's': summary = 1; break;
      case 'H': summary = 1; html = 1; mailto = 0; break;
      case 'M': summary = 1; html = 1; mailto = optarg; break;
      case 'P': promfile = optarg; break;
      case 'S': state = optarg; break;
      case 'p': if (!sdu_parse_duration(optarg, &period) || !period) sdu_usage(USAGE); break;
      case 'a': period = 0; break;
      case 'N': max = number(optarg, &u); break;
      case 'm': minconn = number(optarg, &u); break;
      case 'T': if (!sdu_parse_duration(optarg, &u)) sdu_usage(USAGE); timeout = optarg; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (!promfile != !state) sdu_usage(USAGE);
  if (mailto && !tr_mail_address_ok(mailto)) sdu_usage(USAGE);
  if (promfile) { prom(promfile, state, argv); return 0; }

  tr_init(&stats, period && now > period ? now - period : 0);
  if (html) tr_chart(&stats, now);
  if (!*argv) feed(0, "stdin", line_stats);
  for (; *argv; ++argv) {
    struct stat sb;
    if (!strcmp(*argv, "-")) { feed(0, "stdin", line_stats); continue; }
    if (stat(*argv, &sb) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", *argv);
    if (S_ISDIR(sb.st_mode)) feeddir(*argv);
    else feedfile(*argv);
  }
  if (stats.overhosts) {
    char k[SDU_FMT_ULONG];
    k[sdu_fmt_ulong(k, TR_HOSTS_MAX)] = 0;
    sdu_warn("more than ", k, " hosts: the others are counted in the totals, not one by one");
  }
  if (html) {
    n = tr_worst(&stats, minconn, max, &worst);
    if (n < 0) sdu_nomem();
    if (!(mailto ? tr_mail(&out, &stats, worst, n, now, mailto) : tr_html(&out, &stats, worst, n, now))) sdu_nomem();
    free(worst);
  } else if (summary) {
    if (!tr_summary(&out, &stats, now)) sdu_nomem();
  } else {
    n = tr_worst(&stats, minconn, max, &worst);
    if (n < 0 || !tr_format(&out, worst, n, form, timeout)) sdu_nomem();
    free(worst);
  }
  writeall(1, out.s, out.len, "output");
  stralloc_free(&out);
  tr_free(&stats);
  return 0;
}
