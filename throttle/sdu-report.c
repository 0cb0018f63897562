/* sdu-report.c: the worst hosts and the morning summary from the logs of all sdu links */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include "sdu_msg.h"
#include "sdu_time.h"
#include "throttle_rules.h"
#include "throttle_report.h"

#define USAGE "sdu-report [ -t | -n | -r | -s ] [ -p period | -a ] [ -N hosts ] [ -m connections ] [ -T timeout ] [ file|dir ... ]"
#define BUFSZ 65536

static tr_stats stats;
static char buf[BUFSZ + 1];

static void feed(int fd, const char *name)
{
  size_t len = 0;
  int skipping = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, BUFSZ - len);
    size_t start = 0, i;
    if (r < 0) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", name); }
    if (r == 0) break;
    for (i = len; i < len + (size_t) r; ++i)
      if (buf[i] == '\n') {
        if (!skipping && tr_feed(&stats, buf + start, i - start) == -1) sdu_nomem();
        skipping = 0;
        start = i + 1;
      }
    len += (size_t) r;
    memmove(buf, buf + start, len - start);
    len -= start;
    if (len == BUFSZ) { skipping = 1; len = 0; } /* a line longer than any decision */
  }
  if (len && !skipping && tr_feed(&stats, buf, len) == -1) sdu_nomem();
}

static void feedfile(const char *name)
{
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", name);
  feed(fd, name);
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
    size_t l = strlen(e->d_name);
    unsigned long long t;
    if (strcmp(e->d_name, "current")) {
      if (l != 27 || e->d_name[25] != '.' || (e->d_name[26] != 's' && e->d_name[26] != 'u')) continue;
      if (!tr_tai64n(e->d_name, l, &t)) continue;
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

static unsigned long number(const char *s)
{
  unsigned long u;
  if (!throttle_number(s, &u)) sdu_usage(USAGE);
  return u;
}

int main(int argc, char **argv)
{
  int opt, form = TR_TABLE, summary = 0;
  unsigned long period = 86400, max = 20, minconn = 1;
  const char *timeout = "6h";
  unsigned long long now = sdu_now();
  stralloc out = {0};
  tr_host **worst;
  long n;
  size_t done = 0;

  sdu_iam("sdu-report");
  while ((opt = getopt(argc, argv, "tnrsp:aN:m:T:")) != -1)
    switch (opt) {
      case 't': form = TR_TABLE; summary = 0; break;
      case 'n': form = TR_NFT; summary = 0; break;
      case 'r': form = TR_TCPRULES; summary = 0; break;
      case 's': summary = 1; break;
      case 'p': if (!sdu_parse_duration(optarg, &period) || !period) sdu_usage(USAGE); break;
      case 'a': period = 0; break;
      case 'N': max = number(optarg); break;
      case 'm': minconn = number(optarg); break;
      case 'T': { unsigned long u; if (!sdu_parse_duration(optarg, &u)) sdu_usage(USAGE); timeout = optarg; } break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  tr_init(&stats, period && now > period ? now - period : 0);
  if (!*argv) feed(0, "stdin");
  for (; *argv; ++argv) {
    struct stat sb;
    if (!strcmp(*argv, "-")) { feed(0, "stdin"); continue; }
    if (stat(*argv, &sb) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", *argv);
    if (S_ISDIR(sb.st_mode)) feeddir(*argv);
    else feedfile(*argv);
  }
  if (summary) {
    if (!tr_summary(&out, &stats, now)) sdu_nomem();
  } else {
    n = tr_worst(&stats, minconn, max, &worst);
    if (n < 0 || !tr_format(&out, worst, n, form, timeout)) sdu_nomem();
    free(worst);
  }
  while (done < out.len) {
    ssize_t w = write(1, out.s + done, out.len - done);
    if (w < 0) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to write output"); }
    done += (size_t) w;
  }
  stralloc_free(&out);
  tr_free(&stats);
  return 0;
}
