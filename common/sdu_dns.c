/* sdu_dns.c: many DNS queries at once under one deadline (the dnsfilter way) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <dns.h>
#include <ip6.h>
#include <iopause.h>
#include <taia.h>
#include "sdu_dns.h"

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

static unsigned long ms_since(const struct taia *start, const struct taia *now)
{
  struct taia d;
  if (taia_less(now, start)) return 0;
  taia_sub(&d, now, start);
  return (unsigned long) (taia_approx(&d) * 1000.0);
}

static int start(sdu_dnsq *q, const char servers[256])
{
  char *wire = 0;
  char qtype[2];
  size_t len = 0;
  int r;

  while (q->name[len])
    if (++len > SDU_DNS_NAMEMAX + 1) return -1;
  if (!dns_domain_fromdot(&wire, q->name, len)) return -1;
  qtype[0] = (char) (q->type >> 8);
  qtype[1] = (char) q->type;
  r = dns_transmit_start(&q->tx, servers, 1, wire, qtype, V6any);
  dns_domain_free(&wire);
  return r;
}

/* dns_transmit does not give up on a server that says no: after ICMP port
   unreachable it waits for the next timeout (3 s, then 11 s here), after
   REFUSED or SERVFAIL it asks the same server again and then waits too.
   Look at what arrived first; when every server has said no, the query
   fails now rather than at the deadline. A port unreachable error is
   consumed here, so dns_transmit_get reads nothing and moves on to the
   next server; a packet is only peeked at. */
static int said_no(sdu_dnsq *q, int fd, unsigned int all)
{
  char buf[12];
  ssize_t r = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (r == -1) {
    if (errno != ECONNREFUSED) return 0;
  } else {
    /* ours (the id of the query, after its 2-byte TCP length), a
       response, and neither NOERROR nor NXDOMAIN */
    if (r < 12 || !q->tx.query || memcmp(buf, q->tx.query + 2, 2)) return 0;
    if (!(buf[2] & 0x80) || (buf[3] & 15) == 0 || (buf[3] & 15) == 3) return 0;
  }
  if (q->tx.curserver < 16) q->refused |= 1u << q->tx.curserver;
  return (q->refused & all) == all;
}

static void failall(sdu_dnsq *q, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; ++i) q[i].status = SDU_DNS_FAIL;
}

int sdu_dns_run_servers(const char servers[256], sdu_dnsq *q, unsigned int n,
  unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx)
{
  struct taia begin, deadline, now, stamp;
  iopause_fd *x;
  unsigned int *which;
  unsigned int i, j, k, all = 0;
  char seed[128];
  int stop = 0, timedout = 0, r;

  taia_now(&begin);
  for (i = 0; i < n; ++i) {
    q[i].status = SDU_DNS_PENDING;
    q[i].answer.len = 0;
    q[i].ms = 0;
    q[i].refused = 0;
    memset(&q[i].tx, 0, sizeof q[i].tx);
  }
  if (!n) return 0;
  for (i = 0; i < 16; ++i)
    if (memcmp(servers + 16 * i, V6any, 16)) all |= 1u << i;
  if (!all) { failall(q, n); return -1; }
  x = malloc(n * sizeof *x);
  which = malloc(n * sizeof *which);
  if (!x || !which) {
    free(x);
    free(which);
    failall(q, n);
    errno = ENOMEM;
    return -1;
  }
  /* query ids and source ports come from dns_random: seed it unguessably */
  memset(seed, 0, sizeof seed);
  (void) getrandom(seed, sizeof seed, GRND_NONBLOCK); /* if it fails, time and pid still go in */
  dns_random_init(seed);

  taia_uint(&deadline, (unsigned int) (timeout_ms / 1000));
  deadline.nano = (uint32) (timeout_ms % 1000) * 1000000;
  taia_add(&deadline, &deadline, &begin);

  for (i = 0; i < n && !stop; ++i)
    if (start(&q[i], servers) == -1) {
      q[i].status = SDU_DNS_FAIL;
      if (enough && enough(ctx, q, n)) stop = 1;
    }

  while (!stop) {
    taia_now(&now);
    if (!taia_less(&now, &deadline)) { timedout = 1; break; }
    stamp = deadline;
    for (i = 0, k = 0; i < n; ++i)
      if (q[i].status == SDU_DNS_PENDING) {
        dns_transmit_io(&q[i].tx, &x[k], &stamp);
        which[k++] = i;
      }
    if (!k) break;
    iopause(x, k, &stamp, &now);
    taia_now(&now);
    for (j = 0; j < k && !stop; ++j) {
      sdu_dnsq *qq = &q[which[j]];
      if (x[j].revents && !qq->tx.tcpstate && said_no(qq, x[j].fd, all))
        qq->status = SDU_DNS_FAIL;
      else {
        r = dns_transmit_get(&qq->tx, &x[j], &now);
        if (r == 0) continue;
        if (r == 1)
          sdu_dns_packet(qq, qq->tx.packet, qq->tx.packetlen);
        else /* every server tried, each in its time: ours is the deadline */
          qq->status = errno == ETIMEDOUT ? SDU_DNS_TIMEOUT : SDU_DNS_FAIL;
      }
      qq->ms = ms_since(&begin, &now);
      dns_transmit_free(&qq->tx);
      if (enough && enough(ctx, q, n)) stop = 1;
    }
  }
  for (i = 0; i < n; ++i) {
    if (q[i].status == SDU_DNS_PENDING && timedout) {
      q[i].status = SDU_DNS_TIMEOUT;
      q[i].ms = ms_since(&begin, &now);
    }
    dns_transmit_free(&q[i].tx);
  }
  free(x);
  free(which);
  return 0;
}

int sdu_dns_run(sdu_dnsq *q, unsigned int n, unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx)
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
  return sdu_dns_run_servers(servers, q, n, timeout_ms, enough, ctx);
}
