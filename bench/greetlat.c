/* greetlat.c: time to the complete greeting (the first reply line "220 "),
   from before connect(), for connections to two servers taken in turn (the
   same moments of the machine for both); median and quartiles of each.
   usage: greetlat [ -n connections ] [ -b addr ] host portA portB */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* one connection: microseconds to the end of the greeting, -1 on failure */
static double once(const struct sockaddr_in *to, const struct sockaddr_in *from)
{
  char buf[4096];
  size_t len = 0, start = 0;
  double t0 = now_us(), t = -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd == -1) return -1;
  if (from && bind(fd, (const struct sockaddr *) from, sizeof *from) == -1) { close(fd); return -1; }
  if (connect(fd, (const struct sockaddr *) to, sizeof *to) == -1) { close(fd); return -1; }
  while (t < 0) {
    ssize_t r = read(fd, buf + len, sizeof buf - len);
    char *nl;
    if (r <= 0) break;
    len += (size_t) r;
    while ((nl = memchr(buf + start, '\n', len - start))) {
      if (nl - (buf + start) >= 3 && buf[start + 3] == ' ') { t = now_us() - t0; break; }
      start = (size_t) (nl - buf) + 1;
    }
    if (len == sizeof buf) break;
  }
  if (write(fd, "QUIT\r\n", 6) == 6) while (read(fd, buf, sizeof buf) > 0) ;
  close(fd);
  return t;
}

int main(int argc, char **argv)
{
  struct sockaddr_in to[2], from;
  double *t[2];
  int n = 1000, opt, i, k, m[2] = { 0, 0 };
  const char *bindaddr = 0;
  while ((opt = getopt(argc, argv, "n:b:")) != -1)
    switch (opt) {
      case 'n': n = atoi(optarg); break;
      case 'b': bindaddr = optarg; break;
      default: goto usage;
    }
  argv += optind;
  if (argc - optind != 3 || n < 1) goto usage;
  for (k = 0; k < 2; ++k) {
    memset(&to[k], 0, sizeof to[k]);
    to[k].sin_family = AF_INET;
    to[k].sin_port = htons((unsigned short) atoi(argv[1 + k]));
    if (inet_pton(AF_INET, argv[0], &to[k].sin_addr) != 1) goto usage;
    t[k] = malloc((size_t) n * sizeof *t[k]);
    if (!t[k]) return 111;
  }
  memset(&from, 0, sizeof from);
  from.sin_family = AF_INET;
  if (bindaddr && inet_pton(AF_INET, bindaddr, &from.sin_addr) != 1) goto usage;
  for (i = 0; i < n; ++i)
    for (k = 0; k < 2; ++k) {
      /* A then B, B then A: neither always goes first */
      int w = (i & 1) ? 1 - k : k;
      double d = once(&to[w], bindaddr ? &from : 0);
      if (d < 0) { fprintf(stderr, "greetlat: connection %d to port %s failed\n", i, argv[1 + w]); return 111; }
      t[w][m[w]++] = d;
    }
  for (k = 0; k < 2; ++k) {
    qsort(t[k], (size_t) n, sizeof *t[k], cmp);
    printf("%.1f %.1f %.1f\n", t[k][n / 4], t[k][n / 2], t[k][3 * n / 4]);
  }
  return 0;
usage:
  fprintf(stderr, "usage: greetlat [ -n connections ] [ -b addr ] host portA portB\n");
  return 100;
}
