/* spamgrab_bench.c: spamgrab's benchmarks: processes per second on a message, and the parser alone in MB/s
   usage: spamgrab_bench spawn N P FILE PROG [ARG...] run PROG N times, P at once, stdin FILE
                                                      (a "%lu" in FILE: the run's number)
          spamgrab_bench parse SECONDS FILE...        parse the files over and over */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "spamgrab_parse.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* FILE with one "%lu" in it names a file per run: FILE % run */
static void runfile(char *out, size_t max, const char *file, long i)
{
  const char *pc = strstr(file, "%lu");
  if (!pc || strchr(pc + 1, '%') || strchr(file, '%') != pc) { snprintf(out, max, "%s", file); return; }
  snprintf(out, max, "%.*s%lu%s", (int) (pc - file), file, (unsigned long) i, pc + 3);
}

/* n runs of argv with par of them in flight at once, as qmail-send runs local deliveries */
static double cpu_children(void)
{
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* n runs of argv with par of them in flight at once, as qmail-send runs local deliveries;
   also the CPU time (user + system) the runs and their children took, per run: the cost
   a run puts on the machine, apart from waiting for the disk */
static int spawn(long n, long par, const char *file, char **argv)
{
  long i = 0, running = 0, bad = 0;
  double c0 = cpu_children(), t0 = now(), t;
  char path[4096];
  if (par < 1) par = 1;
  while (i < n || running) {
    int st, fd;
    pid_t pid;
    if (i < n && running < par) {
      runfile(path, sizeof path, file, i);
      pid = fork();
      if (pid == -1) { perror("fork"); return 111; }
      if (pid == 0) {
        fd = open(path, O_RDONLY);
        if (fd == -1 || dup2(fd, 0) == -1) _exit(111);
        fd = open("/dev/null", O_WRONLY);
        if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1) _exit(111);
        execvp(argv[0], argv);
        _exit(111);
      }
      ++i; ++running;
      continue;
    }
    if (wait(&st) == -1) { perror("wait"); return 111; }
    --running;
    if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 99)) ++bad;
  }
  t = now() - t0;
  printf("runs=%ld inflight=%ld seconds=%.3f per_second=%.0f cpu_us_per_run=%.0f failed=%ld\n",
         n, par, t, n / t, (cpu_children() - c0) * 1e6 / n, bad);
  return bad ? 1 : 0;
}

static int parse(double secs, int nf, char **files)
{
  static const char *const hosts[] = { "mx.example.net", 0 };
  char *buf[256];
  size_t len[256], total = 0, k;
  long rounds = 0;
  double t0, t, anchor;
  int i;
  unsigned long sink = 0;
  if (nf > 256) nf = 256;
  for (i = 0; i < nf; ++i) {
    FILE *f = fopen(files[i], "rb");
    long n;
    if (!f) { perror(files[i]); return 111; }
    fseek(f, 0, SEEK_END); n = ftell(f); rewind(f);
    buf[i] = malloc((size_t) n + 1);
    if (!buf[i] || fread(buf[i], 1, (size_t) n, f) != (size_t) n) return 111;
    fclose(f);
    len[i] = (size_t) n;
    total += (size_t) n;
  }
  t0 = now();
  do {
    for (i = 0; i < nf; ++i) {
      sg_parsed p;
      sg_parse(&p, buf[i], len[i], 0, hosts);
      sink += p.client.found;
    }
    ++rounds;
  } while ((t = now() - t0) < secs);
  /* the anchor: one pass over the same bytes looking for line ends */
  {
    long r2 = 0;
    double t1 = now();
    do {
      for (i = 0; i < nf; ++i) {
        const char *s = buf[i], *e = buf[i] + len[i];
        while ((s = memchr(s, '\n', (size_t) (e - s)))) { ++s; ++sink; }
      }
      ++r2;
    } while ((anchor = now() - t1) < secs);
    anchor = (double) total * r2 / anchor / 1e6;
  }
  k = total * (size_t) rounds;
  printf("parser_mb_per_s=%.1f messages_per_s=%.0f memchr_lines_mb_per_s=%.1f ratio=%.3f (sink %lu)\n",
    k / t / 1e6, (double) nf * rounds / t, anchor, (k / t / 1e6) / anchor, sink % 10);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc >= 6 && !strcmp(argv[1], "spawn")) return spawn(atol(argv[2]), atol(argv[3]), argv[4], argv + 5);
  if (argc >= 4 && !strcmp(argv[1], "parse")) return parse(atof(argv[2]), argc - 3, argv + 3);
  fprintf(stderr, "usage: spamgrab_bench spawn N P FILE PROG [ARG...] | parse SECONDS FILE...\n");
  return 100;
}
