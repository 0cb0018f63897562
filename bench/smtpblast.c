/* smtpblast.c: the benchmarks' SMTP client: sends N messages of a given size
   over one connection (or several in turn) and prints how long it took */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <time.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#define USAGE "smtpblast [ -n messages ] [ -s bytes ] [ -c connections ] [ -r ] [ -t seconds ] host port"

/* -t: a reply, or room to write, that does not come within this many
   seconds is a stall: exit 111 with "stalled" (0: wait for ever) */
static unsigned long stall;

static char rbuf[65536];
static size_t rlen;

static void die(const char *m) { fprintf(stderr, "smtpblast: fatal: %s\n", m); exit(111); }

static void writeall(int fd, const char *s, size_t len)
{
  while (len) {
    ssize_t w = write(fd, s, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      die(errno == EAGAIN || errno == EWOULDBLOCK ? "stalled: no room to write within -t" : "unable to write");
    }
    s += w; len -= (size_t) w;
  }
}

/* read one whole reply; return its code */
static int reply(int fd)
{
  for (;;) {
    char *nl;
    size_t start = 0;
    while ((nl = memchr(rbuf + start, '\n', rlen - start))) {
      size_t l = (size_t) (nl - rbuf) + 1;
      if (l - start >= 4 && rbuf[start + 3] != '-') {
        int code = atoi(rbuf + start);
        memmove(rbuf, rbuf + l, rlen - l);
        rlen -= l;
        return code;
      }
      start = l;
    }
    if (rlen == sizeof rbuf) die("reply too long");
    {
      ssize_t r = read(fd, rbuf + rlen, sizeof rbuf - rlen);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) die("stalled: no reply within -t");
      if (r <= 0) die("connection closed");
      rlen += (size_t) r;
    }
  }
}

static int dial(const char *host, const char *port)
{
  struct sockaddr_in6 s6;
  struct sockaddr_in s4;
  int fd, one = 1, r;
  memset(&s6, 0, sizeof s6);
  memset(&s4, 0, sizeof s4);
  if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
    s4.sin_family = AF_INET;
    s4.sin_port = htons((unsigned short) atoi(port));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    r = fd == -1 ? -1 : connect(fd, (struct sockaddr *) &s4, sizeof s4);
  } else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((unsigned short) atoi(port));
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    r = fd == -1 ? -1 : connect(fd, (struct sockaddr *) &s6, sizeof s6);
  } else die("host must be an IP address");
  if (r == -1) die("unable to connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (stall) {
    struct timeval tv;
    tv.tv_sec = (time_t) stall; tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return fd;
}

int main(int argc, char **argv)
{
  unsigned long n = 1000, size = 100000, conns = 1, c, i, refused = 0;
  int refusable = 0; /* -r: one envelope a connection, which the server may refuse */
  char *body;
  size_t blen = 0;
  struct timespec t0, t1;
  double secs;
  int opt;

  while ((opt = getopt(argc, argv, "n:s:c:rt:")) != -1)
    switch (opt) {
      case 'n': n = strtoul(optarg, 0, 10); break;
      case 's': size = strtoul(optarg, 0, 10); break;
      case 'c': conns = strtoul(optarg, 0, 10); break;
      case 'r': refusable = 1; break;
      case 't': stall = strtoul(optarg, 0, 10); break;
      default: fprintf(stderr, "usage: %s\n", USAGE); return 100;
    }
  if (argc - optind != 2 || !conns) { fprintf(stderr, "usage: %s\n", USAGE); return 100; }
  body = malloc(size + 200);
  if (!body) die("out of memory");
  blen = (size_t) sprintf(body, "Subject: benchmark\r\n\r\n");
  while (blen + 80 < size) {
    memset(body + blen, 'a' + (int) (blen % 26), 78);
    blen += 78;
    body[blen++] = '\r'; body[blen++] = '\n';
  }
  memcpy(body + blen, ".\r\n", 3); blen += 3;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (c = 0; c < conns; ++c) {
    int fd = dial(argv[optind], argv[optind + 1]);
    unsigned long per = n / conns + (c < n % conns);
    rlen = 0;
    if (reply(fd) != 220) die("no greeting");
    writeall(fd, "EHLO bench.example\r\n", 20);
    if (reply(fd) != 250) die("EHLO refused");
    if (refusable) {
      /* as a flood client does: the envelope and DATA pipelined, the
         message only if DATA gets its 354 */
      static const char env[] = "MAIL FROM:<bench@example.org>\r\nRCPT TO:<sink@example.net>\r\nDATA\r\n";
      int m, r2, d;
      writeall(fd, env, sizeof env - 1);
      m = reply(fd); r2 = reply(fd); d = reply(fd);
      (void) m; (void) r2;
      if (d == 354) {
        writeall(fd, body, blen);
        if (reply(fd) != 250) die("message refused");
      } else ++refused;
      per = 0;
    }
    for (i = 0; i < per; ++i) {
      static const char env[] = "MAIL FROM:<bench@example.org>\r\nRCPT TO:<sink@example.net>\r\nDATA\r\n";
      writeall(fd, env, sizeof env - 1);
      if (reply(fd) != 250 || reply(fd) != 250 || reply(fd) != 354) die("envelope refused");
      writeall(fd, body, blen);
      if (reply(fd) != 250) die("message refused");
    }
    writeall(fd, "QUIT\r\n", 6);
    reply(fd);
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (refusable)
    printf("sessions=%lu refused=%lu seconds=%.3f ms_per_session=%.3f\n", conns, refused, secs, secs * 1e3 / (double) conns);
  else
    printf("messages=%lu bytes=%lu seconds=%.3f MBps=%.1f\n", n, (unsigned long) blen * n, secs,
      (double) blen * (double) n / secs / 1e6);
  return 0;
}
