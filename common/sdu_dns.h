/* sdu_dns.h: many DNS queries at once under one deadline, from one UDP socket per server */
#ifndef SDU_DNS_H
#define SDU_DNS_H

#include <stddef.h>
#include <stralloc.h>
#include <dns.h>

enum { SDU_DNS_A = 1, SDU_DNS_PTR = 12, SDU_DNS_TXT = 16, SDU_DNS_AAAA = 28 };

enum {
  SDU_DNS_PENDING,  /* not answered: sdu_dns_run stopped because enough said so */
  SDU_DNS_OK,       /* answer holds at least one record of the type */
  SDU_DNS_NXDOMAIN, /* no such name, or no record of this type */
  SDU_DNS_TIMEOUT,  /* no answer before the deadline */
  SDU_DNS_FAIL      /* SERVFAIL, REFUSED, server unreachable, bad packet, bad name */
};

#define SDU_DNS_TXTMAX 1024 /* at most this many bytes of TXT (with the NULs) */
#define SDU_DNS_NAMEMAX 255 /* longest dotted name we ask for */

/* answer, when status is SDU_DNS_OK:
   A     4 bytes per address, in the order of the packet
   AAAA  16 bytes per address
   TXT   per record: its strings joined, then a '\0' (a NUL inside the data
         becomes '?'); cut to SDU_DNS_TXTMAX bytes in all
   PTR   per record: the dotted name, then a '\0' (answer.s is a C string)
   Set name and type with sdu_dnsq_init on a fresh q; the rest is
   sdu_dns_run's. A q may run again (set name and type anew): its answer
   buffer is reused; sdu_dnsq_free releases it. */
typedef struct sdu_dnsq {
  const char *name;   /* dotted, without or with the trailing dot */
  int type;
  int status;
  stralloc answer;
  unsigned long ms;   /* from the start to the answer (or to giving up) */
  /* internal */
  char query[12 + 255 + 4]; /* the packet: header, question */
  unsigned int querylen;
  unsigned int server;      /* the server asked last */
  unsigned int round;       /* rounds of the server list so far */
  struct taia next;         /* when to ask the next server */
  unsigned int refused;     /* a bit per server that said no (unreachable, REFUSED, SERVFAIL) */
  int told;                 /* enough() has heard of its end */
  int tcp;                  /* truncated: asked again through tx */
  struct dns_transmit tx;
} sdu_dnsq;

void sdu_dnsq_init(sdu_dnsq *q, const char *name, int type);
void sdu_dnsq_free(sdu_dnsq *q, unsigned int n);

/* Start all n queries, wait until every one is answered or timeout_ms has
   passed. All queries to one server go out from one connected UDP socket
   (the kernel picks a random port and drops datagrams from elsewhere),
   each with a random 16-bit id; a datagram answers the query whose id and
   question it repeats, in any order, and is otherwise ignored. A server
   that says no (closed port, SERVFAIL, REFUSED) is not asked again by that
   query, which moves on to the next server at once, or fails at once when
   every server has said no; one that is silent is left after 3 s (then 11,
   45 s per round of the list, as libowfat's dns_transmit). A truncated
   answer (TC) is asked again through libowfat's dns_transmit, which goes
   on to TCP: a DNSBL's A records never need it, but a long TXT might, and
   the records of a truncated UDP answer may be missing. After each query
   that ends, call enough(ctx, q, n) if not 0: a
   nonzero return stops the waiting (queries still out stay SDU_DNS_PENDING).
   Servers from $DNSCACHEIP, else /etc/resolv.conf (libowfat's
   dns_resolvconfip). Returns 0; -1 when there is no server list or no
   memory, every query then SDU_DNS_FAIL. */
int sdu_dns_run(sdu_dnsq *q, unsigned int n, unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx);

/* the real-time clock as libowfat's taia_now, read through sdu_clock */
void sdu_taia_now(struct taia *t);

/* the same with the servers given: up to 16 addresses of 16 bytes each
   (v4 as ::ffff:a.b.c.d), unused ones all zero, port 53 */
int sdu_dns_run_servers(const char servers[256], sdu_dnsq *q, unsigned int n,
  unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n), void *ctx);

/* what else to do while the queries run (rblcheck watches the client for
   bytes sent before the greeting, and says the greeting's first line when
   the answers are slow) */
typedef struct sdu_dnswatch {
  int fd;                       /* watched for reading, -1 none */
  int (*ready)(void *ctx);      /* fd readable: called once, fd then watched no more;
                                   nonzero stops the waiting, as enough's does */
  void (*late)(void *ctx);      /* 0, or called once late_ms after every query was
                                   sent, unless enough or ready stopped the run before */
  unsigned long late_ms;        /* 0: as soon as every query is sent */
} sdu_dnswatch;

/* the same with a watch (0: none) */
int sdu_dns_run_watch(sdu_dnsq *q, unsigned int n, unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n),
  const sdu_dnswatch *w, void *ctx);
int sdu_dns_run_servers_watch(const char servers[256], sdu_dnsq *q, unsigned int n,
  unsigned long timeout_ms,
  int (*enough)(void *ctx, sdu_dnsq *q, unsigned int n),
  const sdu_dnswatch *w, void *ctx);

/* the next TXT string (or PTR name) of an answer: start with *pos = 0;
   1 and s/len set, or 0 when there is no more */
int sdu_dnsq_next(const sdu_dnsq *q, size_t *pos, const char **s, size_t *len);

/* read a response packet into q->answer and q->status (sdu_dns_run's work;
   for tests): returns q->status */
int sdu_dns_packet(sdu_dnsq *q, const char *buf, unsigned int len);

/* the query packet for q->name and q->type with this id, into q->query and
   q->querylen (sdu_dns_run's work; for tests): 0, or -1 for a bad name */
int sdu_dns_query(sdu_dnsq *q, const char id[2]);

/* what a datagram from a server is to the pending UDP queries q[0..n)
   (sdu_dns_run's work; for tests): SDU_DNS_R_NONE when it answers none of
   them (not a response, another id or question: dropped); else *which is
   the query it answers and the return says what to do: */
enum {
  SDU_DNS_R_NONE,
  SDU_DNS_R_NO,        /* SERVFAIL, REFUSED, ...: ask the next server */
  SDU_DNS_R_TRUNCATED, /* TC: ask again over TCP */
  SDU_DNS_R_ANSWER     /* NOERROR or NXDOMAIN: read it with sdu_dns_packet */
};
int sdu_dns_reply(const sdu_dnsq *q, unsigned int n, const char *buf, unsigned int len, unsigned int *which);

#endif
