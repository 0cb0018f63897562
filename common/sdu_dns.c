/* sdu_dns.c: many DNS queries at once under one deadline, from one UDP socket per server */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <dns.h>
#include <ip6.h>
#include <iopause.h>
#include <taia.h>
#include "sdu_dns.h"
#include "sdu_time.h"

void sdu_dnsq_init(sdu_dnsq *q, const char *name, int type)
{
  memset(q, 0, sizeof *q);
  q->name = name;
  q->type = type;
}

void sdu_dnsq_free(sdu_dnsq *q, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; ++i) {
    dns_transmit_free(&q[i].tx);
    stralloc_free(&q[i].answer);
  }
}

int sdu_dnsq_next(const sdu_dnsq *q, size_t *pos, const char **s, size_t *len)
{
  const char *nul;
  if (*pos >= q->answer.len) return 0;
  *s = q->answer.s + *pos;
  nul = memchr(*s, 0, q->answer.len - *pos);
  *len = nul ? (size_t) (nul - *s) : q->answer.len - *pos;
  *pos += *len + 1;
  return 1;
}

static unsigned int u16(const char *p)
{
  return (unsigned int) (unsigned char) p[0] << 8 | (unsigned char) p[1];
}

/* TXT rdata: strings joined, '\0' after the record, all cut to TXTMAX */
static int txt(stralloc *sa, const char *buf, unsigned int pos, unsigned int end)
{
  if (sa->len >= SDU_DNS_TXTMAX) return 1;
  if (!stralloc_readyplus(sa, SDU_DNS_TXTMAX)) return 0;
  while (pos < end) {
    unsigned int l = (unsigned char) buf[pos++], i;
    if (l > end - pos) return -1;
    for (i = 0; i < l && sa->len < SDU_DNS_TXTMAX - 1; ++i)
      sa->s[sa->len++] = buf[pos + i] ? buf[pos + i] : '?';
    pos += l;
  }
  sa->s[sa->len++] = 0;
  return 1;
}

static int ptr(stralloc *sa, const char *buf, unsigned int len, unsigned int pos)
{
  char *d = 0;
  int r;
  if (sa->len >= SDU_DNS_TXTMAX) return 1;
  if (!dns_packet_getname(buf, len, pos, &d)) return -1;
  r = dns_domain_todot_cat(sa, d) && stralloc_0(sa);
  dns_domain_free(&d);
  return r;
}

int sdu_dns_packet(sdu_dnsq *q, const char *buf, unsigned int len)
{
  char hdr[12], rr[10];
  unsigned int pos, i, n, rdlen;
  int r;

  q->answer.len = 0;
  q->status = SDU_DNS_FAIL;
  pos = dns_packet_copy(buf, len, 0, hdr, 12);
  if (!pos) return q->status;
  switch (hdr[3] & 15) {
    case 0: break;
    case 3: return q->status = SDU_DNS_NXDOMAIN;
    default: return q->status;
  }
  n = u16(hdr + 4);
  for (i = 0; i < n; ++i) {
    pos = dns_packet_skipname(buf, len, pos);
    if (!pos || len - pos < 4) return q->status;
    pos += 4;
  }
  n = u16(hdr + 6);
  for (i = 0; i < n; ++i) {
    pos = dns_packet_skipname(buf, len, pos);
    if (!pos) goto bad;
    pos = dns_packet_copy(buf, len, pos, rr, 10);
    if (!pos) goto bad;
    rdlen = u16(rr + 8);
    if (rdlen > len - pos) goto bad;
    /* other types (the CNAMEs on the way) are skipped, as dns_txt_packet does */
    if (u16(rr) == (unsigned int) q->type && !memcmp(rr + 2, DNS_C_IN, 2)) {
      r = 1;
      switch (q->type) {
        case SDU_DNS_A:
          if (rdlen == 4) r = stralloc_catb(&q->answer, buf + pos, 4);
          break;
        case SDU_DNS_AAAA:
          if (rdlen == 16) r = stralloc_catb(&q->answer, buf + pos, 16);
          break;
        case SDU_DNS_TXT: r = txt(&q->answer, buf, pos, pos + rdlen); break;
        case SDU_DNS_PTR: r = ptr(&q->answer, buf, len, pos); break;
      }
      if (r != 1) goto bad;
    }
    pos += rdlen;
  }
  return q->status = q->answer.len ? SDU_DNS_OK : SDU_DNS_NXDOMAIN;
bad:
  q->answer.len = 0;
  return q->status = SDU_DNS_FAIL;
}

/* libowfat's taia_now through sdu_clock (a link's few reads of the clock
   never map the vDSO): the real-time clock, as libowfat's dns_transmit sets
   its deadlines from it and compares them with ours */
void sdu_taia_now(struct taia *t)
{
  struct timespec ts;
  sdu_clock(CLOCK_REALTIME, &ts);
  tai_unix(&t->sec, (uint64) ts.tv_sec);
  t->nano = (uint32) ts.tv_nsec;
  t->atto = 0;
}

/* the chain's binary is linked with --wrap=taia_now (Makefile, TAIA_WRAP):
   libowfat's own reads of the clock, dns_resolvconfip's at every
   connection among them, come here too */
void __wrap_taia_now(struct taia *t);
void __wrap_taia_now(struct taia *t) { sdu_taia_now(t); }

/* the time from a to b in whole milliseconds, 0 if b is not later, rounded
   up or down, at most 1000 s; without floating point: libowfat's
   taia_approx and iopause read their double constants from a page of
   rodata that a connection touches for nothing else (a page fault of every
   link's start) */
static unsigned long ms_between(const struct taia *a, const struct taia *b, int up)
{
  struct taia d;
  if (!taia_less(a, b)) return 0;
  taia_sub(&d, b, a);
  if (d.sec.x >= 1000) return 1000000;
  return (unsigned long) (d.sec.x * 1000 + (d.nano + (up ? 999999 : 0)) / 1000000);
}

static unsigned long ms_since(const struct taia *start, const struct taia *now)
{
  return ms_between(start, now, 0);
}

/* iopause's wait: poll until the deadline, rounded up to the next
   millisecond (iopause added 20 ms: a greeting's first line due 5 ms after
   the queries went out went 25 ms after) */
static void pause_until(iopause_fd *x, unsigned int len, const struct taia *deadline,
  const struct taia *now)
{
  unsigned int i;
  for (i = 0; i < len; ++i) x[i].revents = 0;
  poll(x, len, (int) ms_between(now, deadline, 1));
}

/* how long each round of the server list waits for an answer: djbdns's
   dns_transmit schedule (libowfat's starts at 3 s). A datagram dropped on
   the way to or from a cache on this host, as when the cache is starved of
   CPU in a connection flood, costs a second, not three; the query goes out
   again with the same id, so a late answer to the first still counts */
static const unsigned int rounds[] = { 1, 3, 11, 45 };
#define ROUNDS (sizeof rounds / sizeof rounds[0])

/* what one sdu_dns_run_servers call shares between its queries */
struct run {
  const char *servers;
  unsigned int all;      /* a bit per server in the list */
  int fd[16];            /* per server: its socket, or -1 before it is needed */
  struct taia begin, now;
  char ids[64];          /* random query ids, used two bytes at a time */
  unsigned int idpos;
  int seeded;            /* dns_random_init done (for a TCP retry) */
};

static void randbytes(char *buf, size_t len)
{
  ssize_t r = getrandom(buf, len, GRND_NONBLOCK);
  if (r != (ssize_t) len) {
    /* no entropy pool yet (early boot): urandom, else at least time and pid */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    struct taia t;
    size_t i;
    if (fd != -1) { r = read(fd, buf, len); close(fd); }
    if (r != (ssize_t) len) {
      sdu_taia_now(&t);
      for (i = 0; i < len; ++i)
        buf[i] ^= (char) (t.nano >> (8 * (i % 4))) ^ (char) (getpid() >> (8 * (i % 2)));
    }
  }
}

static int newid(struct run *r, char id[2])
{
  if (r->idpos + 2 > sizeof r->ids) {
    randbytes(r->ids, sizeof r->ids);
    r->idpos = 0;
  }
  id[0] = r->ids[r->idpos++];
  id[1] = r->ids[r->idpos++];
  return 1;
}

int sdu_dns_query(sdu_dnsq *q, const char id[2])
{
  char *wire = 0;
  size_t len = 0;
  unsigned int wl;

  while (q->name[len])
    if (++len > SDU_DNS_NAMEMAX + 1) return -1;
  if (!dns_domain_fromdot(&wire, q->name, len)) return -1;
  wl = dns_domain_length(wire);
  if (wl > 255) { dns_domain_free(&wire); return -1; }
  memcpy(q->query, id, 2);
  memcpy(q->query + 2, "\001\000\000\001\000\000\000\000\000\000", 10); /* RD, one question */
  memcpy(q->query + 12, wire, wl);
  q->query[12 + wl] = (char) (q->type >> 8);
  q->query[13 + wl] = (char) q->type;
  memcpy(q->query + 14 + wl, DNS_C_IN, 2);
  q->querylen = 16 + wl;
  dns_domain_free(&wire);
  return 0;
}

/* the query packet, kept in q for the retries and to know its answer */
static int build(struct run *r, sdu_dnsq *q)
{
  if (sdu_dns_query(q, "\0\0") == -1) return -1;
  newid(r, q->query);
  return 0;
}

/* the socket for server s: connected, so the kernel drops datagrams from
   elsewhere and reports a closed port (ECONNREFUSED); its local port is
   the kernel's random choice */
static int sock(struct run *r, unsigned int s)
{
  const char *ip = r->servers + 16 * s;
  int fd;
  if (r->fd[s] != -1) return r->fd[s];
  if (!memcmp(ip, V4mappedprefix, 12)) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    memcpy(&sa.sin_addr, ip + 12, 4);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) return -1;
    if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == -1) { close(fd); return -2; }
  } else {
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(53);
    memcpy(&sa.sin6_addr, ip, 16);
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) return -1;
    if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == -1) { close(fd); return -2; }
  }
  return r->fd[s] = fd;
}

static void done(struct run *r, sdu_dnsq *q, int status)
{
  q->status = status;
  q->ms = ms_since(&r->begin, &r->now);
}

/* server s said no to q (closed port, SERVFAIL, REFUSED, no route): when
   every server has, q fails now; else it moves on at once */
static void said_no(struct run *r, sdu_dnsq *q, unsigned int s)
{
  q->refused |= 1u << s;
  if ((q->refused & r->all) == r->all) done(r, q, SDU_DNS_FAIL);
  else q->next = r->now;
}

/* a closed port is reported once per socket, not per query: it holds for
   every query waiting on that server */
static void unreachable(struct run *r, sdu_dnsq *q, unsigned int n, unsigned int s)
{
  unsigned int i;
  for (i = 0; i < n; ++i)
    if (q[i].status == SDU_DNS_PENDING && !q[i].tcp && q[i].querylen && q[i].server == s) said_no(r, &q[i], s);
}

/* send q to its server; -1 when no socket can be had at all */
static int ask(struct run *r, sdu_dnsq *q, unsigned int n, unsigned int i)
{
  sdu_dnsq *qq = &q[i];
  struct taia t;
  int fd = sock(r, qq->server);
  if (fd == -1) return -1;
  taia_uint(&t, rounds[qq->round]);
  taia_add(&qq->next, &r->now, &t);
  if (fd == -2) said_no(r, qq, qq->server);
  else if (send(fd, qq->query, qq->querylen, 0) != (ssize_t) qq->querylen) {
    if (errno == ECONNREFUSED) unreachable(r, q, n, qq->server);
    else said_no(r, qq, qq->server);
  }
  return 0;
}

/* the next server for q after a timeout or a no: the next one in the list
   that has not said no, a new round after the last; 0 when none is left */
static int move(struct run *r, sdu_dnsq *q)
{
  unsigned int s = q->server, tries;
  for (tries = 0; tries < 16; ++tries) {
    if (++s == 16) {
      s = 0;
      if (++q->round == ROUNDS) return 0;
    }
    if ((r->all >> s & 1) && !(q->refused >> s & 1)) {
      q->server = s;
      return 1;
    }
  }
  return 0;
}

static int first(const struct run *r)
{
  unsigned int s;
  for (s = 0; s < 16 && !(r->all >> s & 1); ++s) ;
  return (int) s;
}

/* a truncated answer: ask this one again through libowfat, which goes on
   to TCP */
static int bytcp(struct run *r, sdu_dnsq *q)
{
  char seed[128];
  if (!r->seeded) {
    memset(seed, 0, sizeof seed);
    randbytes(seed, sizeof seed);
    dns_random_init(seed);
    r->seeded = 1;
  }
  q->tcp = 1;
  return dns_transmit_start(&q->tx, r->servers, 1, q->query + 12, q->query + q->querylen - 4, V6any);
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* which query a datagram answers: same id, same question (djbdns's
   irrelevant()); n when none */
static unsigned int match(const sdu_dnsq *q, unsigned int n, const char *buf, unsigned int len)
{
  unsigned int i, j;
  if (len < 12 || !(buf[2] & 0x80) || buf[4] || buf[5] != 1) return n;
  for (i = 0; i < n; ++i) {
    const sdu_dnsq *qq = &q[i];
    if (qq->status != SDU_DNS_PENDING || qq->tcp || !qq->querylen) continue;
    if (len < qq->querylen || memcmp(buf, qq->query, 2)) continue;
    for (j = 12; j < qq->querylen && lower((unsigned char) buf[j]) == lower((unsigned char) qq->query[j]); ++j) ;
    if (j == qq->querylen) return i;
  }
  return n;
}

int sdu_dns_reply(const sdu_dnsq *q, unsigned int n, const char *buf, unsigned int len, unsigned int *which)
{
  unsigned int i = match(q, n, buf, len), rcode;
  *which = i;
  if (i == n) return SDU_DNS_R_NONE;
  rcode = buf[3] & 15;
  if (rcode != 0 && rcode != 3) return SDU_DNS_R_NO;
  if (buf[2] & 2) return SDU_DNS_R_TRUNCATED;
  return SDU_DNS_R_ANSWER;
}

/* a datagram from server s */
static void got(struct run *r, sdu_dnsq *q, unsigned int n, unsigned int s, const char *buf, unsigned int len)
{
  unsigned int i;
  switch (sdu_dns_reply(q, n, buf, len, &i)) {
    case SDU_DNS_R_NO:
      said_no(r, &q[i], s);
      break;
    case SDU_DNS_R_TRUNCATED:
      if (bytcp(r, &q[i]) == -1) done(r, &q[i], SDU_DNS_FAIL);
      break;
    case SDU_DNS_R_ANSWER:
      sdu_dns_packet(&q[i], buf, len);
      q[i].ms = ms_since(&r->begin, &r->now);
      break;
  }
}

static void failall(sdu_dnsq *q, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; ++i) q[i].status = SDU_DNS_FAIL;
}

/* enough(), once for each query that ended since the last call */
static int tell(sdu_dnsq *q, unsigned int upto, unsigned int n,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx)
{
  unsigned int i;
  for (i = 0; i < upto; ++i)
    if (q[i].status != SDU_DNS_PENDING && !q[i].told) {
      q[i].told = 1;
      if (enough && enough(ctx, q, n)) return 1;
    }
  return 0;
}

int sdu_dns_run_servers(const char servers[256], sdu_dnsq *q, unsigned int n,
  unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx)
{
  return sdu_dns_run_servers_watch(servers, q, n, timeout_ms, enough, 0, ctx);
}

int sdu_dns_run_servers_watch(const char servers[256], sdu_dnsq *q, unsigned int n,
  unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n),
  const sdu_dnswatch *w, void *ctx)
{
  struct run r;
  struct taia deadline, stamp, lateat;
  iopause_fd *x;
  unsigned int *which;
  unsigned int i, j, k, nsock;
  /* a UDP answer to a query without EDNS is 512 bytes at most (RFC 1035
     4.2.1; a longer one comes truncated, and goes again over TCP): MSG_TRUNC
     tells a longer datagram's length, which is no such answer. 4 KB here
     was a page of stack touched at every connection */
  char buf[513];
  int stop = 0, timedout = 0, more, late = w && w->late, watch = w ? w->fd : -1;
  ssize_t len;

  sdu_taia_now(&r.begin);
  r.now = r.begin;
  for (i = 0; i < n; ++i) {
    q[i].status = SDU_DNS_PENDING;
    q[i].answer.len = 0;
    q[i].ms = 0;
    q[i].refused = 0;
    q[i].round = 0;
    q[i].tcp = 0;
    q[i].told = 0;
    q[i].querylen = 0;
    memset(&q[i].tx, 0, sizeof q[i].tx);
  }
  if (!n) return 0;
  r.servers = servers;
  r.all = 0;
  r.seeded = 0;
  r.idpos = sizeof r.ids;
  for (i = 0; i < 16; ++i) {
    r.fd[i] = -1;
    if (memcmp(servers + 16 * i, V6any, 16)) r.all |= 1u << i;
  }
  if (!r.all) { failall(q, n); return -1; }
  x = malloc((n + 17) * sizeof *x);
  which = malloc((n + 17) * sizeof *which);
  if (!x || !which) {
    free(x);
    free(which);
    failall(q, n);
    errno = ENOMEM;
    return -1;
  }

  taia_uint(&deadline, (unsigned int) (timeout_ms / 1000));
  deadline.nano = (uint32) (timeout_ms % 1000) * 1000000;
  taia_add(&deadline, &deadline, &r.begin);

  for (i = 0; i < n; ++i) q[i].server = (unsigned int) first(&r);
  for (i = 0; i < n && !stop; ++i) {
    if (build(&r, &q[i]) == -1 || ask(&r, q, n, i) == -1) done(&r, &q[i], SDU_DNS_FAIL);
    stop = tell(q, i + 1, n, enough, ctx);
  }
  /* late: at once, or late_ms from now */
  if (stop) late = 0;
  else if (late && !w->late_ms) { late = 0; w->late(ctx); }
  else if (late) {
    /* from the start: the queries went out microseconds after it */
    taia_uint(&lateat, (unsigned int) (w->late_ms / 1000));
    lateat.nano = (uint32) (w->late_ms % 1000) * 1000000;
    taia_add(&lateat, &lateat, &r.begin);
  }

  /* r.now: the start's reading in the first turn (the queries went out
     since, without a wait), the one after the wait in the others: the
     clock read once a wait, a system call each on a link's start */
  while (!stop) {
    if (!taia_less(&r.now, &deadline)) { timedout = 1; break; }
    stamp = deadline;
    k = 0;
    for (i = 0; i < 16; ++i)
      if (r.fd[i] != -1) {
        x[k].fd = r.fd[i];
        x[k].events = POLLIN;
        x[k].revents = 0;
        which[k++] = i;
      }
    nsock = k;
    more = 0;
    for (i = 0; i < n; ++i) {
      if (q[i].status != SDU_DNS_PENDING) continue;
      more = 1;
      if (q[i].tcp) {
        dns_transmit_io(&q[i].tx, &x[k], &stamp);
        which[k++] = i;
      } else if (taia_less(&q[i].next, &stamp)) stamp = q[i].next;
    }
    if (!more) break;
    if (late && taia_less(&lateat, &stamp)) stamp = lateat;
    if (watch >= 0) {
      x[k].fd = watch;
      x[k].events = POLLIN;
      x[k].revents = 0;
    }
    pause_until(x, watch >= 0 ? k + 1 : k, &stamp, &r.now);
    sdu_taia_now(&r.now);

    /* the watched descriptor, after the rest: once (it stays readable) */
    if (watch >= 0 && x[k].revents) {
      watch = -1;
      if (w->ready && w->ready(ctx)) break;
    }

    /* answers, in any order, on the servers' sockets */
    for (j = 0; j < nsock && !stop; ++j) {
      if (!x[j].revents) continue;
      for (;;) {
        len = recv(x[j].fd, buf, sizeof buf, MSG_TRUNC);
        if (len == -1) {
          if (errno == EINTR) continue;
          if (errno != ECONNREFUSED) break;
          unreachable(&r, q, n, which[j]);
        } else if (len < (ssize_t) sizeof buf) /* longer: not DNS over UDP without EDNS */
          got(&r, q, n, which[j], buf, (unsigned int) len);
        if ((stop = tell(q, n, n, enough, ctx))) break;
      }
    }
    /* the truncated ones, through libowfat */
    for (j = nsock; j < k && !stop; ++j) {
      sdu_dnsq *qq = &q[which[j]];
      int rr = dns_transmit_get(&qq->tx, &x[j], &r.now);
      if (rr == 0) continue;
      if (rr == 1) sdu_dns_packet(qq, qq->tx.packet, qq->tx.packetlen);
      else qq->status = errno == ETIMEDOUT ? SDU_DNS_TIMEOUT : SDU_DNS_FAIL;
      qq->ms = ms_since(&r.begin, &r.now);
      dns_transmit_free(&qq->tx);
      stop = tell(q, n, n, enough, ctx);
    }
    /* no answer in time, or a no: the next server */
    for (i = 0; i < n && !stop; ++i) {
      sdu_dnsq *qq = &q[i];
      while (qq->status == SDU_DNS_PENDING && !qq->tcp && !taia_less(&r.now, &qq->next)) {
        if (!move(&r, qq)) done(&r, qq, SDU_DNS_TIMEOUT);
        else if (ask(&r, q, n, i) == -1) done(&r, qq, SDU_DNS_FAIL);
      }
      stop = tell(q, n, n, enough, ctx);
    }
    if (late && !stop && !taia_less(&r.now, &lateat)) { late = 0; w->late(ctx); }
  }
  for (i = 0; i < n; ++i) {
    if (q[i].status == SDU_DNS_PENDING && timedout) {
      q[i].status = SDU_DNS_TIMEOUT;
      q[i].ms = ms_since(&r.begin, &r.now);
    }
    dns_transmit_free(&q[i].tx);
  }
  for (i = 0; i < 16; ++i)
    if (r.fd[i] != -1) close(r.fd[i]);
  free(x);
  free(which);
  return 0;
}

int sdu_dns_run(sdu_dnsq *q, unsigned int n, unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx)
{
  return sdu_dns_run_watch(q, n, timeout_ms, enough, 0, ctx);
}

int sdu_dns_run_watch(sdu_dnsq *q, unsigned int n, unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n),
  const sdu_dnswatch *w, void *ctx)
{
  char servers[256];
  unsigned int i;

  /* every transmit ends inside sdu_dns_run_servers: a local list outlives them */
  if (dns_resolvconfip(servers) == -1) {
    for (i = 0; i < n; ++i) {
      q[i].status = SDU_DNS_FAIL;
      q[i].answer.len = 0;
    }
    return -1;
  }
  return sdu_dns_run_servers_watch(servers, q, n, timeout_ms, enough, w, ctx);
}
