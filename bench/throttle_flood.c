/* throttle_flood.c: the flood for bench/throttle.sh: keeps many SMTP sessions in
   flight from many source addresses for a while, and counts how each ended */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define USAGE "throttle_flood [ -c inflight ] [ -t seconds ] [ -s source-prefix ] [ -n sources ] host port"
#define MAXC 4096

enum { S_CONN, S_GREET, S_CMDS, S_DATA, S_DONE };
struct conn {
  int fd, state, replies;
  double start;
  char buf[4096]; size_t len;
};

static struct conn c[MAXC];
static struct pollfd pf[MAXC];
static double *lat;
static unsigned long nlat, alat, served, refused, failed, started;
static struct sockaddr_in dst;
static char prefix[32] = "";
static unsigned long nsrc = 1, nextsrc;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void finish(struct conn *k, unsigned long *what)
{
  ++*what;
  close(k->fd);
  k->fd = -1;
  k->state = S_DONE;
}

static void begin(struct conn *k)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  k->len = 0; k->replies = 0; k->state = S_CONN; k->start = now(); k->fd = fd;
  ++started;
  if (fd == -1) { finish(k, &failed); return; }
  if (*prefix) {
    struct sockaddr_in src;
    char a[64];
    unsigned long i = nextsrc++ % nsrc;
    snprintf(a, sizeof a, "%s.%lu.%lu", prefix, i / 250, 1 + i % 250);
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    inet_pton(AF_INET, a, &src.sin_addr);
    if (bind(fd, (struct sockaddr *) &src, sizeof src) == -1) { finish(k, &failed); return; }
  }
  if (connect(fd, (struct sockaddr *) &dst, sizeof dst) == -1 && errno != EINPROGRESS) finish(k, &failed);
}

static void say(struct conn *k, const char *s)
{
  size_t n = strlen(s);
  if (write(k->fd, s, n) != (ssize_t) n) finish(k, &failed);
}

/* a whole reply at the head of the buffer: its code, 0 if not yet whole */
static int reply(struct conn *k)
{
  size_t start = 0;
  char *nl;
  while ((nl = memchr(k->buf + start, '\n', k->len - start))) {
    size_t l = (size_t) (nl - k->buf) + 1;
    if (l - start >= 4 && k->buf[start + 3] != '-') {
      int code = atoi(k->buf + start);
      memmove(k->buf, k->buf + l, k->len - l);
      k->len -= l;
      return code ? code : 999;
    }
    start = l;
  }
  return 0;
}

static void input(struct conn *k)
{
  ssize_t r = read(k->fd, k->buf + k->len, sizeof k->buf - k->len);
  int code;
  if (r <= 0) { if (r < 0 && errno == EAGAIN) return; finish(k, &failed); return; }
  k->len += (size_t) r;
  while (k->state != S_DONE && (code = reply(k))) {
    switch (k->state) {
      case S_GREET:
        if (nlat == alat) {
          alat = alat ? 2 * alat : 65536;
          if (!(lat = realloc(lat, alat * sizeof *lat))) { fprintf(stderr, "no memory\n"); exit(111); }
        }
        lat[nlat++] = now() - k->start;
        if (code != 220) { finish(k, &refused); break; }
        say(k, "HELO flood.test\r\nMAIL FROM:<flood@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n");
        k->state = S_CMDS; k->replies = 0;
        break;
      case S_CMDS:
        ++k->replies;
        if (k->replies == 3 && code >= 400) k->replies = 100; /* a refused recipient */
        if (k->replies == 4) {
          if (code != 354) { finish(k, &failed); break; }
          say(k, "Subject: flood\r\n\r\nhello\r\n.\r\nQUIT\r\n");
          k->state = S_DATA;
        }
        if (k->replies == 101) { say(k, "QUIT\r\n"); finish(k, &refused); }
        break;
      case S_DATA:
        if (code == 250) finish(k, &served);
        else if (code >= 400 && code < 600) finish(k, &refused);
        else finish(k, &failed);
        break;
    }
  }
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  unsigned long inflight = 200, i;
  double seconds = 60, t0, end;
  struct rusage ru;
  int opt;
  while ((opt = getopt(argc, argv, "c:t:s:n:")) != -1)
    switch (opt) {
      case 'c': inflight = strtoul(optarg, 0, 10); break;
      case 't': seconds = atof(optarg); break;
      case 's': snprintf(prefix, sizeof prefix, "%s", optarg); break;
      case 'n': nsrc = strtoul(optarg, 0, 10); break;
      default: fprintf(stderr, "usage: %s\n", USAGE); return 100;
    }
  argv += optind;
  if (!argv[0] || !argv[1] || !inflight || inflight > MAXC || !nsrc) { fprintf(stderr, "usage: %s\n", USAGE); return 100; }
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((unsigned short) atoi(argv[1]));
  if (inet_pton(AF_INET, argv[0], &dst.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 100; }
  t0 = now(); end = t0 + seconds;
  for (i = 0; i < inflight; ++i) begin(&c[i]);
  for (;;) {
    double t = now();
    unsigned long live = 0;
    for (i = 0; i < inflight; ++i) {
      if (c[i].state != S_DONE && t - c[i].start > 30) finish(&c[i], &failed);
      if (c[i].state == S_DONE && t < end) begin(&c[i]);
      if (c[i].state != S_DONE) ++live;
      pf[i].fd = c[i].state == S_DONE ? -1 : c[i].fd;
      pf[i].events = c[i].state == S_CONN ? POLLOUT : POLLIN;
    }
    if (!live) break;
    if (poll(pf, inflight, 100) < 0 && errno != EINTR) { perror("poll"); return 111; }
    for (i = 0; i < inflight; ++i) {
      if (c[i].state == S_DONE || !pf[i].revents) continue;
      if (c[i].state == S_CONN) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { finish(&c[i], &failed); continue; }
        c[i].state = S_GREET;
        continue;
      }
      input(&c[i]);
    }
  }
  qsort(lat, nlat, sizeof *lat, cmp);
  /* the load generator's own CPU: what the server side did not get of the machine */
  getrusage(RUSAGE_SELF, &ru);
  printf("sessions=%lu served=%lu refused=%lu failed=%lu seconds=%.1f rate=%.1f greeting_p50_ms=%.2f greeting_p99_ms=%.2f client_cpu_s=%.2f\n",
    started, served, refused, failed, now() - t0, (double) (served + refused) / (now() - t0),
    nlat ? 1000 * lat[nlat / 2] : 0.0, nlat ? 1000 * lat[nlat * 99 / 100] : 0.0,
    (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6);
  free(lat);
  return 0;
}
