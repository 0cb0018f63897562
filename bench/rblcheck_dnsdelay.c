/* rblcheck_dnsdelay.c: a DNSBL server for benchmarks and tests that answers after a delay, or never */
/*
 * usage: rblcheck_dnsdelay [ -d ms ] [ -x ] [ -r rcode ] [ -l ip ]... addr [ port ]
 *
 * Answers UDP queries on addr (port 53 by default) for any zone, each one
 * ms milliseconds after it came (0 by default), without holding the others
 * up: a name that starts with the reversed address of an IPv4 client given
 * with -l gets A 127.0.0.2 and TXT "listed by rblcheck_dnsdelay"; any other
 * name is NXDOMAIN. -x: read queries and never answer (a dead list).
 * -r rcode: answer other names with that code instead of NXDOMAIN (2
 * SERVFAIL, 5 REFUSED), as a resolver that gave up or will not serve us.
 */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define QMAX 4096
#define LISTED_MAX 16
#define TXT "listed by rblcheck_dnsdelay"

struct pending {
  long long due;
  struct sockaddr_storage to; socklen_t tolen;
  unsigned char buf[600]; size_t len;
};

static struct pending q[QMAX];
static unsigned int qhead, qlen;
static char listed[LISTED_MAX][20];
static unsigned int nlisted;
static unsigned int norcode = 3; /* the answer for a name not listed */

static void die(const char *m) { fprintf(stderr, "rblcheck_dnsdelay: fatal: %s\n", m); exit(111); }

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the reply to query in[0..len) in out, 0 if it is not worth one */
static size_t answer(const unsigned char *in, size_t len, unsigned char *out)
{
  char name[300];
  size_t pos = 12, nl = 0, qend, o, i;
  unsigned int qtype, hit = 0;
  if (len < 17 || len > 512 || (in[2] & 0x80)) return 0;
  while (in[pos]) {
    unsigned int l = in[pos];
    if (l > 63 || pos + 1 + l >= len || nl + l + 1 >= sizeof name) return 0;
    for (i = 0; i < l; ++i) {
      char c = (char) in[pos + 1 + i];
      name[nl++] = (c >= 'A' && c <= 'Z') ? (char) (c + 32) : c;
    }
    name[nl++] = '.';
    pos += 1 + l;
  }
  name[nl] = 0;
  qend = pos + 5;
  if (qend > len) return 0;
  qtype = (unsigned int) in[pos + 1] << 8 | in[pos + 2];
  for (i = 0; i < nlisted; ++i)
    if (!strncmp(name, listed[i], strlen(listed[i])) && nl > strlen(listed[i])) hit = 1;
  memcpy(out, in, qend);
  out[2] = (unsigned char) (0x84 | (in[2] & 0x01)); /* QR AA, RD copied */
  out[3] = (unsigned char) (hit ? 0 : norcode);
  out[4] = 0; out[5] = 1;
  memset(out + 6, 0, 6);
  o = qend;
  if (hit && (qtype == 1 || qtype == 16)) {
    size_t tl = strlen(TXT);
    out[7] = 1;
    out[o++] = 0xc0; out[o++] = 12;
    out[o++] = 0; out[o++] = (unsigned char) qtype;
    out[o++] = 0; out[o++] = 1;
    out[o++] = 0; out[o++] = 0; out[o++] = 0; out[o++] = 60;
    if (qtype == 1) {
      out[o++] = 0; out[o++] = 4;
      out[o++] = 127; out[o++] = 0; out[o++] = 0; out[o++] = 2;
    } else {
      out[o++] = 0; out[o++] = (unsigned char) (tl + 1);
      out[o++] = (unsigned char) tl;
      memcpy(out + o, TXT, tl); o += tl;
    }
  }
  return o;
}

int main(int argc, char **argv)
{
  struct sockaddr_in sa;
  long delay = 0;
  int opt, fd, never = 0;
  unsigned short port = 53;

  while ((opt = getopt(argc, argv, "d:xr:l:")) != -1)
    switch (opt) {
      case 'd': delay = atol(optarg); break;
      case 'x': never = 1; break;
      case 'r': norcode = (unsigned int) atoi(optarg) & 15; break;
      case 'l': {
        struct in_addr a;
        unsigned char *b = (unsigned char *) &a;
        if (nlisted >= LISTED_MAX || inet_pton(AF_INET, optarg, &a) != 1) die("bad -l address");
        snprintf(listed[nlisted++], sizeof listed[0], "%u.%u.%u.%u.", b[3], b[2], b[1], b[0]);
        break;
      }
      default: die("usage: rblcheck_dnsdelay [ -d ms ] [ -x ] [ -r rcode ] [ -l ip ]... addr [ port ]");
    }
  argv += optind;
  if (!argv[0]) die("usage: rblcheck_dnsdelay [ -d ms ] [ -x ] [ -r rcode ] [ -l ip ]... addr [ port ]");
  if (argv[1]) port = (unsigned short) atoi(argv[1]);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, argv[0], &sa.sin_addr) != 1) die("bad address");
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd == -1) die("unable to create socket");
  if (bind(fd, (struct sockaddr *) &sa, sizeof sa) == -1) die("unable to bind");
  fprintf(stderr, "rblcheck_dnsdelay: started on %s port %u, delay %ld ms\n", argv[0], port, delay);

  for (;;) {
    struct pollfd p;
    long long t = now_ms();
    int wait = -1;
    while (qlen && q[qhead].due <= t) {
      struct pending *e = &q[qhead];
      sendto(fd, e->buf, e->len, 0, (struct sockaddr *) &e->to, e->tolen);
      qhead = (qhead + 1) % QMAX;
      --qlen;
    }
    if (qlen) wait = (int) (q[qhead].due - t);
    p.fd = fd; p.events = POLLIN; p.revents = 0;
    if (poll(&p, 1, wait) <= 0) continue;
    for (;;) {
      unsigned char in[600];
      struct pending *e;
      ssize_t r;
      if (qlen == QMAX) break; /* full: the rest wait in the socket */
      e = &q[(qhead + qlen) % QMAX];
      e->tolen = sizeof e->to;
      r = recvfrom(fd, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *) &e->to, &e->tolen);
      if (r <= 0) break;
      if (never) continue;
      e->len = answer(in, (size_t) r, e->buf);
      if (!e->len) continue;
      e->due = now_ms() + delay;
      ++qlen;
    }
  }
}
