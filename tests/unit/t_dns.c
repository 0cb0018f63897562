/* t_dns.c: DNS answers read from packets; with "live" arguments (given by
   tests/e2e/dns.t.sh), queries in parallel against a real rbldnsd */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "sdu_t.h"
#include "sdu_dns.h"

/* ---- packets built by hand ---- */

static char pkt[4096];
static unsigned int plen;

static void put(const void *p, unsigned int n) { memcpy(pkt + plen, p, n); plen += n; }
static void put16(unsigned int v) { pkt[plen++] = (char) (v >> 8); pkt[plen++] = (char) v; }
static void putname(const char *dotted)
{
  while (*dotted) {
    const char *dot = strchr(dotted, '.');
    unsigned int l = dot ? (unsigned int) (dot - dotted) : (unsigned int) strlen(dotted);
    pkt[plen++] = (char) l;
    put(dotted, l);
    dotted += l;
    if (*dotted) ++dotted;
  }
  pkt[plen++] = 0;
}

/* header and question for q.example; answers follow at offset 12+17+4 */
static void head(unsigned int rcode, unsigned int ancount, unsigned int type)
{
  plen = 0;
  put16(0x1234);
  put16(0x8180 | rcode);
  put16(1);
  put16(ancount);
  put16(0);
  put16(0);
  putname("q.example");
  put16(type);
  put16(1);
}

/* an answer owned by the question's name (compressed pointer to offset 12) */
static void rr(unsigned int type, unsigned int class, const char *rdata, unsigned int rdlen)
{
  put16(0xc00c);
  put16(type);
  put16(class);
  put16(0);
  put16(300);
  put16(rdlen);
  put(rdata, rdlen);
}

/* T_EQB stops at a NUL: answers hold NULs */
#define T_BIN(sa, lit, name) T_OK((sa).len == sizeof lit - 1 && !memcmp((sa).s, lit, sizeof lit - 1), name)

static void packet_tests(void)
{
  sdu_dnsq q;
  size_t pos, len;
  const char *s;
  unsigned int i;
  char big[256];

  sdu_dnsq_init(&q, "q.example", SDU_DNS_A);
  head(0, 3, 1);
  rr(5, 1, "\001x\007example\000", 11); /* CNAME on the way */
  rr(1, 1, "\177\000\000\002", 4);
  rr(1, 1, "\177\000\000\012", 4);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_OK, "A answer after a CNAME is OK");
  T_BIN(q.answer, "\177\000\000\002\177\000\000\012", "both A records, 4 bytes each");

  head(0, 2, 1);
  rr(1, 3, "\177\000\000\003", 4); /* class CH is not ours */
  rr(1, 1, "\177\000\000\004\005", 5); /* wrong length */
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_NXDOMAIN, "A records of another class or length are not answers");

  head(3, 0, 1);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_NXDOMAIN, "rcode 3 is NXDOMAIN");
  head(2, 0, 1);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_FAIL, "rcode 2 (SERVFAIL) is FAIL");
  head(5, 0, 1);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_FAIL, "rcode 5 (REFUSED) is FAIL");
  head(0, 0, 1);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_NXDOMAIN, "NOERROR without answers is no data");
  head(0, 1, 1);
  rr(16, 1, "\002hi", 3);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_NXDOMAIN, "an answer of another type is no data");

  head(0, 2, 1);
  rr(1, 1, "\177\000\000\002", 4);
  rr(1, 1, "\177\000\000\003", 4);
  T_EQI(sdu_dns_packet(&q, pkt, plen - 3), SDU_DNS_FAIL, "cut packet is FAIL");
  T_EQI(q.answer.len, 0, "and leaves no answer");
  T_EQI(sdu_dns_packet(&q, pkt, 11), SDU_DNS_FAIL, "short header is FAIL");
  head(0, 1, 1);
  rr(1, 1, "\177\000\000\002", 4);
  pkt[plen - 5] = 100; /* rdlength past the end */
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_FAIL, "rdlength past the end is FAIL");
  head(0, 1, 1);
  pkt[12] = (char) 0xc0; /* question name points at itself */
  pkt[13] = 12;
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_FAIL, "compression loop is FAIL");

  sdu_dnsq_free(&q, 1);
  sdu_dnsq_init(&q, "q.example", SDU_DNS_AAAA);
  head(0, 1, 28);
  rr(28, 1, "\040\001\015\270\0\0\0\0\0\0\0\0\0\0\0\001", 16);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_OK, "AAAA answer");
  T_BIN(q.answer, "\040\001\015\270\0\0\0\0\0\0\0\0\0\0\0\001", "16 bytes per AAAA");
  sdu_dnsq_free(&q, 1);

  sdu_dnsq_init(&q, "q.example", SDU_DNS_TXT);
  head(0, 2, 16);
  rr(16, 1, "\002ab\002cd", 6);
  rr(16, 1, "\003x\000y\000", 5);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_OK, "TXT answer");
  T_BIN(q.answer, "abcd\0x?y\0", "TXT: strings joined, NUL after each record, NUL inside becomes ?");
  pos = 0;
  T_OK(sdu_dnsq_next(&q, &pos, &s, &len) && len == 4 && !memcmp(s, "abcd", 4), "first TXT record");
  T_OK(sdu_dnsq_next(&q, &pos, &s, &len) && len == 3 && !memcmp(s, "x?y", 3), "second TXT record");
  T_OK(!sdu_dnsq_next(&q, &pos, &s, &len), "no third TXT record");
  head(0, 1, 16);
  rr(16, 1, "\005ab", 3);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_FAIL, "TXT string longer than its record is FAIL");

  memset(big, 'z', sizeof big);
  big[0] = (char) 255;
  head(0, 6, 16);
  for (i = 0; i < 6; ++i) rr(16, 1, big, 256);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_OK, "1530 bytes of TXT");
  T_EQI(q.answer.len, SDU_DNS_TXTMAX, "TXT cut to SDU_DNS_TXTMAX");
  T_OK(q.answer.s[q.answer.len - 1] == 0, "the cut TXT still ends in a NUL");
  for (pos = 0, i = 0; sdu_dnsq_next(&q, &pos, &s, &len); ++i) ;
  T_EQI(i, 4, "four records fit (the fourth cut)");
  sdu_dnsq_free(&q, 1);

  sdu_dnsq_init(&q, "q.example", SDU_DNS_PTR);
  head(0, 2, 12);
  rr(12, 1, "\004host\300\016", 7); /* host + pointer to "example" in the question */
  rr(12, 1, "\001a\001b\000", 5);
  T_EQI(sdu_dns_packet(&q, pkt, plen), SDU_DNS_OK, "PTR answer");
  T_BIN(q.answer, "host.example\0a.b\0", "PTR names, compressed ones expanded");
  T_EQS(q.answer.s, "host.example", "PTR answer is a C string");
  sdu_dnsq_free(&q, 1);
}

/* sdu_dns_query and sdu_dns_reply: which query a datagram answers, and what it says */
static void reply_tests(void)
{
  sdu_dnsq q[3];
  char d[600];
  unsigned int which = 99, dl;
  char longname[300];

  sdu_dnsq_init(&q[0], "2.0.0.127.zen.example", SDU_DNS_A);
  sdu_dnsq_init(&q[1], "2.0.0.127.ZEN.example.", SDU_DNS_TXT);
  sdu_dnsq_init(&q[2], "b.example", SDU_DNS_A);
  T_EQI(sdu_dns_query(&q[0], "\x12\x34"), 0, "query: built");
  T_EQI(q[0].querylen, 12 + 23 + 4, "query: header, name, type and class");
  T_OK(!memcmp(q[0].query, "\x12\x34\001\000\000\001\000\000\000\000\000\000\0012", 14), "query: id, RD, one question");
  T_OK(!memcmp(q[0].query + 12 + 23, "\000\001\000\001", 4), "query: type A, class IN");
  T_EQI(sdu_dns_query(&q[1], "\x12\x34"), 0, "query with a trailing dot: built");
  T_EQI(sdu_dns_query(&q[2], "\x56\x78"), 0, "another query: built");
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  q[2].name = longname;
  T_EQI(sdu_dns_query(&q[2], "\x56\x78"), -1, "query for a 299-byte name: -1");
  q[2].name = "b.example";
  T_EQI(sdu_dns_query(&q[2], "\x56\x78"), 0, "query again: built");

  /* the answer to q[0]: its id and question, QR set */
  memcpy(d, q[0].query, q[0].querylen);
  dl = q[0].querylen;
  d[2] = (char) 0x81; d[3] = (char) 0x80;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_ANSWER, "reply: an answer");
  T_EQI(which, 0, "  to the query of its id and question");
  d[3] = (char) 0x83;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_ANSWER, "reply: NXDOMAIN is an answer");
  d[3] = (char) 0x82;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NO, "reply: SERVFAIL says no");
  d[3] = (char) 0x85;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NO, "reply: REFUSED says no");
  d[3] = (char) 0x80; d[2] = (char) 0x83;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_TRUNCATED, "reply: TC is truncated");
  d[2] = (char) 0x81;
  d[23] = 'Z'; d[25] = 'N';
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_ANSWER, "reply: the question in another case");
  T_EQI(which, 0, "  answers the same query");
  d[dl - 3] = 16;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_ANSWER, "reply: type TXT, same id and name");
  T_EQI(which, 1, "  answers the TXT query");
  d[dl - 3] = 1;
  d[2] = 1;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: without QR: none");
  T_EQI(which, 3, "  which is n");
  d[2] = (char) 0x81;
  d[5] = 2;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: two questions: none");
  d[5] = 1;
  d[1] = 0x35;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: another id: none");
  d[1] = 0x34;
  d[13] = '3';
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: another name: none");
  d[13] = '2';
  T_EQI(sdu_dns_reply(q, 3, d, dl - 1, &which), SDU_DNS_R_NONE, "reply: question cut short: none");
  T_EQI(sdu_dns_reply(q, 3, d, 11, &which), SDU_DNS_R_NONE, "reply: shorter than a header: none");
  q[0].status = SDU_DNS_OK;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: to a query already answered: none");
  q[0].status = SDU_DNS_PENDING;
  q[0].tcp = 1;
  T_EQI(sdu_dns_reply(q, 3, d, dl, &which), SDU_DNS_R_NONE, "reply: to a query gone to TCP: none");
  q[0].tcp = 0;
  T_EQI(sdu_dns_reply(q, 1, d, dl, &which), SDU_DNS_R_ANSWER, "reply: to the only query");
  T_EQI(sdu_dns_reply(q + 1, 2, d, dl, &which), SDU_DNS_R_NONE, "reply: to none of the others");
  sdu_dnsq_free(q, 3);
}

static int calls;
static int count_enough(void *ctx, sdu_dnsq *q, unsigned int n)
{
  (void) ctx; (void) q; (void) n;
  ++calls;
  return 0;
}

static void run_tests_offline(void)
{
  char servers[256];
  sdu_dnsq q[2];
  char longname[400];

  memset(servers, 0, sizeof servers);
  sdu_dnsq_init(&q[0], "a.example", SDU_DNS_A);
  sdu_dnsq_init(&q[1], "b.example", SDU_DNS_A);
  T_EQI(sdu_dns_run_servers(servers, q, 2, 1000, 0, 0), -1, "no servers: -1");
  T_OK(q[0].status == SDU_DNS_FAIL && q[1].status == SDU_DNS_FAIL, "no servers: every query FAIL");
  T_EQI(sdu_dns_run_servers(servers, q, 0, 1000, 0, 0), 0, "no queries: nothing to do");

  /* a bad name fails before anything is sent (the server is never asked) */
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  servers[10] = servers[11] = (char) 0xff;
  servers[12] = 127; servers[15] = 1;
  sdu_dnsq_init(&q[0], longname, SDU_DNS_A);
  calls = 0;
  T_EQI(sdu_dns_run_servers(servers, q, 1, 1000, count_enough, 0), 0, "bad name: run returns 0");
  T_EQI(q[0].status, SDU_DNS_FAIL, "a 399-byte name is FAIL");
  T_EQI(calls, 1, "enough is called for it");
  sdu_dnsq_free(q, 2);
}

/* ---- live, against rbldnsd ---- */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void server16(char *out, const char *ip4)
{
  struct in_addr a;
  memset(out, 0, 16);
  out[10] = out[11] = (char) 0xff;
  if (inet_pton(AF_INET, ip4, &a) == 1) memcpy(out + 12, &a, 4);
}

static int bind53(const char *ip4)
{
  struct sockaddr_in sa;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s == -1) return -1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  if (inet_pton(AF_INET, ip4, &sa.sin_addr) != 1 || bind(s, (struct sockaddr *) &sa, sizeof sa) == -1) {
    close(s);
    return -1;
  }
  return s;
}

/* the set of A answers, as "127.0.0.2,127.0.0.10" sorted by last octet */
static void alist(const sdu_dnsq *q, char *out, size_t max)
{
  unsigned int seen[256] = {0};
  size_t i, len = 0;
  out[0] = 0;
  for (i = 0; i + 4 <= q->answer.len; i += 4)
    if (!memcmp(q->answer.s + i, "\177\000\000", 3)) seen[(unsigned char) q->answer.s[i + 3]]++;
    else seen[0]++;
  for (i = 0; i < 256; ++i)
    while (seen[i]-- > 0 && len + 16 < max)
      len += (size_t) snprintf(out + len, max - len, "%s127.0.0.%u", len ? "," : "", (unsigned int) i);
}

static void expect(sdu_dnsq *q, int status, const char *alistwant, const char *name)
{
  char got[256];
  char n2[300];
  snprintf(n2, sizeof n2, "%s: status", name);
  T_EQI(q->status, status, n2);
  if (alistwant) {
    alist(q, got, sizeof got);
    snprintf(n2, sizeof n2, "%s: answers", name);
    T_EQS(got, alistwant, n2);
  }
}

/* the sent hook: how often, and whether the query was out by then */
static int sentcalls, sentout;
static sdu_dnsq *sentq;
static double sentat;
static void on_sent(void *c)
{
  (void) c;
  ++sentcalls;
  sentat = now();
  sentout = sentq[0].status == SDU_DNS_PENDING && sentq[0].querylen > 0;
}

static int watch_stop(void *ctx) { ++*(int *) ctx; return 1; }
static int watch_go(void *ctx) { ++*(int *) ctx; return 0; }

static int stop_at_first(void *ctx, sdu_dnsq *q, unsigned int n)
{
  (void) ctx; (void) n;
  ++calls;
  return q[0].status != SDU_DNS_PENDING;
}


/* ---- a scripted server on the closed address: what one socket must ignore ---- */

/* the answer to query in[0..len): id and question copied, rcode, flags
   (0x80 QR, 0x02 TC in the third byte), an A or TXT record when rd */
static unsigned int reply(char *out, const char *in, unsigned int len, const char *id,
  unsigned int flags, unsigned int rcode, unsigned int type, const char *rd, unsigned int rdlen)
{
  unsigned int o = len;
  memcpy(out, in, len);
  if (id) memcpy(out, id, 2);
  out[2] = (char) flags;
  out[3] = (char) rcode;
  out[6] = 0; out[7] = rd ? 1 : 0;
  if (rd) {
    out[o++] = (char) 0xc0; out[o++] = 12;
    out[o++] = 0; out[o++] = (char) type;
    out[o++] = 0; out[o++] = 1;
    out[o++] = 0; out[o++] = 0; out[o++] = 0; out[o++] = 60;
    out[o++] = 0; out[o++] = (char) rdlen;
    memcpy(out + o, rd, rdlen);
    o += rdlen;
  }
  return o;
}

/* the question of a query for another name, same id and type */
static unsigned int othername(char *out, const char *in, unsigned int len)
{
  memcpy(out, in, len);
  out[13] = 'c'; /* a.fake.test or b.fake.test -> c.fake.test */
  return len;
}

static int qnamestart(const char *buf, unsigned int len, char c)
{
  return len > 17 && buf[12] == 1 && buf[13] == c;
}

/* child: two A queries, answered in reverse order after four that must be
   ignored; then a TXT query answered truncated over UDP and whole over TCP */
static void fake(int us, int ts, int forger)
{
  char in[2][600], out[700], buf[600];
  unsigned int inlen[2], n = 0, o;
  struct sockaddr_storage from[2];
  socklen_t fl;
  ssize_t r;
  struct pollfd p[2];
  int c, oneport;
  unsigned short port[2];

  alarm(10);
  while (n < 2) {
    fl = sizeof from[0];
    r = recvfrom(us, buf, sizeof buf, 0, (struct sockaddr *) &from[n], &fl);
    if (r < 17) _exit(1);
    /* sort: a.fake.test first */
    c = qnamestart(buf, (unsigned int) r, 'a') ? 0 : 1;
    memcpy(in[c], buf, (size_t) r);
    inlen[c] = (unsigned int) r;
    port[n] = ((struct sockaddr_in *) &from[n])->sin_port;
    ++n;
  }
  /* both from one socket: one address to answer to */
  oneport = port[0] == port[1];
  from[1] = from[0];
  fl = from[0].ss_family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6);
  {
    char wrongid[2];
    wrongid[0] = (char) (in[0][0] ^ 1);
    wrongid[1] = in[0][1];
    /* the right answer for a, from another address */
    o = reply(out, in[0], inlen[0], 0, 0x81, 0, 1, "\177\000\000\143", 4);
    sendto(forger, out, o, 0, (struct sockaddr *) &from[0], fl);
    /* a REFUSED with a wrong id: were it taken, a would fail */
    o = reply(out, in[0], inlen[0], wrongid, 0x81, 5, 1, 0, 0);
    sendto(us, out, o, 0, (struct sockaddr *) &from[0], fl);
    /* a's id, another question */
    othername(buf, in[0], inlen[0]);
    o = reply(out, buf, inlen[0], 0, 0x81, 0, 1, "\177\000\000\142", 4);
    sendto(us, out, o, 0, (struct sockaddr *) &from[0], fl);
    /* not a response */
    o = reply(out, in[0], inlen[0], 0, 0x01, 0, 1, "\177\000\000\141", 4);
    sendto(us, out, o, 0, (struct sockaddr *) &from[0], fl);
    /* a's answer in a datagram of 600 bytes: no answer to a query without
       EDNS is longer than 512 (RFC 1035 4.2.1) */
    o = reply(out, in[0], inlen[0], 0, 0x81, 0, 1, "\177\000\000\140", 4);
    memset(out + o, 0, 600 - o);
    sendto(us, out, 600, 0, (struct sockaddr *) &from[0], fl);
    /* then b, then a */
    o = reply(out, in[1], inlen[1], 0, 0x81, 0, 1, "\177\000\000\003", 4);
    sendto(us, out, o, 0, (struct sockaddr *) &from[1], fl);
    o = reply(out, in[0], inlen[0], 0, 0x81, 0, 1, "\177\000\000\002", 4);
    sendto(us, out, o, 0, (struct sockaddr *) &from[0], fl);
  }
  /* the TXT query: truncated over UDP, as often as asked; whole over TCP */
  p[0].fd = us; p[0].events = POLLIN;
  p[1].fd = ts; p[1].events = POLLIN;
  for (;;) {
    if (poll(p, 2, -1) < 1) _exit(1);
    if (p[0].revents) {
      fl = sizeof from[0];
      r = recvfrom(us, buf, sizeof buf, 0, (struct sockaddr *) &from[0], &fl);
      if (r < 17) _exit(1);
      o = reply(out, buf, (unsigned int) r, 0, 0x83, 0, 16, 0, 0);
      sendto(us, out, o, 0, (struct sockaddr *) &from[0], fl);
    }
    if (p[1].revents) {
      unsigned int len, got = 0;
      c = accept(ts, 0, 0);
      if (c == -1) _exit(1);
      while (got < 2 || got < 2 + ((unsigned int) (unsigned char) buf[0] << 8 | (unsigned char) buf[1])) {
        r = read(c, buf + got, sizeof buf - got);
        if (r <= 0) _exit(1);
        got += (unsigned int) r;
      }
      len = got - 2;
      o = reply(out + 2, buf + 2, len, 0, 0x81, 0, 16, "\017whole over TCP.", 16);
      out[0] = (char) (o >> 8);
      out[1] = (char) o;
      if (write(c, out, o + 2) != (ssize_t) (o + 2)) _exit(1);
      close(c);
      _exit(oneport ? 0 : 2);
    }
  }
}

static int order[4], norder;
static int record_order(void *ctx, sdu_dnsq *q, unsigned int n)
{
  unsigned int i;
  (void) ctx;
  for (i = 0; i < n; ++i)
    if (q[i].status != SDU_DNS_PENDING && norder < 4) {
      int seen = 0, j;
      for (j = 0; j < norder; ++j) if (order[j] == (int) i) seen = 1;
      if (!seen) order[norder++] = (int) i;
    }
  return 0;
}

static void scripted(const char *addr, int forger)
{
  struct sockaddr_in sa;
  char srv[256];
  sdu_dnsq q[2];
  size_t pos = 0, len;
  const char *s;
  int us, ts, st, one = 1;
  pid_t pid;

  us = bind53(addr);
  ts = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  setsockopt(ts, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (us == -1 || ts == -1 || bind(ts, (struct sockaddr *) &sa, sizeof sa) == -1 || listen(ts, 4) == -1) {
    T_OK(0, "scripted server bound (UDP and TCP)");
    return;
  }
  pid = fork();
  if (pid == -1) { T_OK(0, "fork"); return; }
  if (pid == 0) fake(us, ts, forger);
  close(us);
  close(ts);

  memset(srv, 0, sizeof srv);
  server16(srv, addr);
  sdu_dnsq_init(&q[0], "a.fake.test", SDU_DNS_A);
  sdu_dnsq_init(&q[1], "b.fake.test", SDU_DNS_A);
  norder = 0;
  sdu_dns_run_servers(srv, q, 2, 3000, record_order, 0);
  T_EQI(q[0].status, SDU_DNS_OK, "scripted: a answered");
  T_BIN(q[0].answer, "\177\000\000\002", "scripted: a's answer, not a forged, mismatched, non-response or oversized one");
  T_EQI(q[1].status, SDU_DNS_OK, "scripted: b answered");
  T_BIN(q[1].answer, "\177\000\000\003", "scripted: b's answer");
  T_OK(norder == 2 && order[0] == 1 && order[1] == 0, "scripted: answers taken in the order they came (b, then a)");
  T_OK(q[1].ms <= q[0].ms, "scripted: b's time is not after a's");

  sdu_dnsq_free(q, 1);
  sdu_dnsq_init(&q[0], "t.fake.test", SDU_DNS_TXT);
  sdu_dns_run_servers(srv, q, 1, 3000, 0, 0);
  T_EQI(q[0].status, SDU_DNS_OK, "scripted: truncated TXT asked again over TCP");
  T_OK(sdu_dnsq_next(&q[0], &pos, &s, &len) && len == 15 && !memcmp(s, "whole over TCP.", 15), "scripted: the TCP answer's text");
  sdu_dnsq_free(q, 2);

  /* it ends after the TCP answer, or at its alarm */
  T_OK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "scripted server saw every exchange it expected, the two A queries from one port");
}

static int live(const char *server, const char *hole, const char *closed)
{
  char srv[256], tmp[256];
  sdu_dnsq q[24];
  unsigned int i;
  int hs, cs;
  double t0, dt, one, four;
  size_t pos, len;
  const char *s;
  char name[24][64];
  char msg[200];

  if (geteuid() != 0) {
    T_SKIP("live DNS tests", "need root to bind port 53");
    T_DONE();
  }
  hs = bind53(hole); /* a server that reads nothing and never answers */
  T_OK(hs != -1, "blackhole bound");
  cs = bind53(closed); /* nothing may listen on the closed address */
  T_OK(cs != -1, "closed address is free");
  if (cs != -1) close(cs);
  memset(srv, 0, sizeof srv);
  server16(srv, server);

  /* DNSCACHEIP points at rbldnsd: this is sdu_dns_run's own server list */
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  sdu_dnsq_init(&q[1], "1.2.0.192.bl.test", SDU_DNS_TXT);
  sdu_dnsq_init(&q[2], "2.2.0.192.bl.test", SDU_DNS_A);
  sdu_dnsq_init(&q[3], "77.100.51.198.bl.test.", SDU_DNS_A);
  sdu_dnsq_init(&q[4], "99.2.0.192.bl.test", SDU_DNS_A);
  sdu_dnsq_init(&q[5], "99.2.0.192.bl.test", SDU_DNS_TXT);
  /* 2001:db8:1:0:ffff::7 in the ip6trie /48 */
  sdu_dnsq_init(&q[6], "7.0.0.0.0.0.0.0.0.0.0.0.f.f.f.f.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test", SDU_DNS_A);
  /* 2001:db8:2:3:: in the ip6tset /64 */
  sdu_dnsq_init(&q[7], "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.0.2.0.0.0.8.b.d.0.1.0.0.2.bl.test", SDU_DNS_A);
  /* 2001:db8:9:: listed nowhere */
  sdu_dnsq_init(&q[8], "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.0.0.0.8.b.d.0.1.0.0.2.bl.test", SDU_DNS_A);
  sdu_dnsq_init(&q[9], "50.2.0.192.bl.test", SDU_DNS_TXT);
  sdu_dnsq_init(&q[10], "2.2.0.192.bl.test", SDU_DNS_TXT);
  t0 = now();
  T_EQI(sdu_dns_run(q, 11, 3000, 0, 0), 0, "run against $DNSCACHEIP");
  dt = now() - t0;
  expect(&q[0], SDU_DNS_OK, "127.0.0.2,127.0.0.10", "listed twice: both codes");
  expect(&q[1], SDU_DNS_OK, 0, "TXT of a listed address");
  T_OK(q[1].answer.len && memmem(q[1].answer.s, q[1].answer.len, "Listed in bl: 192.0.2.1", 23), "TXT text with the address put in");
  expect(&q[2], SDU_DNS_OK, "127.0.0.3", "own code");
  expect(&q[3], SDU_DNS_OK, "127.0.0.2", "inside a listed /24, trailing dot");
  expect(&q[4], SDU_DNS_NXDOMAIN, "", "unlisted v4");
  expect(&q[5], SDU_DNS_NXDOMAIN, "", "TXT of unlisted v4");
  expect(&q[6], SDU_DNS_OK, "127.0.0.5", "v6 in an ip6trie /48");
  expect(&q[7], SDU_DNS_OK, "127.0.0.2", "v6 in an ip6tset /64");
  expect(&q[8], SDU_DNS_NXDOMAIN, "", "unlisted v6");
  expect(&q[9], SDU_DNS_OK, 0, "long TXT");
  T_OK(q[9].answer.len > 200 && q[9].answer.len <= SDU_DNS_TXTMAX && q[9].answer.s[q[9].answer.len - 1] == 0,
    "long TXT is bounded and ends in NUL");
  for (pos = 0, i = 0; sdu_dnsq_next(&q[9], &pos, &s, &len); ++i) ;
  printf("# long TXT: %lu bytes in %u records\n", (unsigned long) q[9].answer.len, i);
  T_OK(memchr(q[9].answer.s, '\001', q[9].answer.len) != 0, "control bytes come through as data (callers make them printable)");
  expect(&q[10], SDU_DNS_OK, 0, "TXT of the own-code entry");
  T_OK(sdu_dnsq_next(&q[10], (pos = 0, &pos), &s, &len) && len == 11 && !memcmp(s, "second code", 11), "its text");
  T_OK(dt < 1.0, "11 queries answered within a second");
  printf("# 11 queries: %.1f ms\n", dt * 1000);
  sdu_dnsq_free(q, 11);

  /* 20 at once */
  for (i = 0; i < 20; ++i) {
    snprintf(name[i], sizeof name[i], "%u.100.51.198.bl.test", i * 10);
    sdu_dnsq_init(&q[i], name[i], SDU_DNS_A);
  }
  sdu_dnsq_init(&q[19], "99.2.0.192.bl.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(srv, q, 20, 3000, 0, 0);
  dt = now() - t0;
  for (i = 0; i < 19 && q[i].status == SDU_DNS_OK && q[i].answer.len == 4; ++i) ;
  T_EQI(i, 19, "20 at once: the 19 listed are OK");
  T_EQI(q[19].status, SDU_DNS_NXDOMAIN, "20 at once: the unlisted one is NXDOMAIN");
  printf("# 20 queries: %.1f ms\n", dt * 1000);
  sdu_dnsq_free(q, 20);

  /* a zone rbldnsd does not serve: REFUSED; dns_transmit tries again four times */
  sdu_dnsq_init(&q[0], "1.2.0.192.other.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(srv, q, 1, 3000, 0, 0);
  dt = now() - t0;
  T_EQI(q[0].status, SDU_DNS_FAIL, "REFUSED is FAIL");
  T_EQI(q[0].answer.len, 0, "REFUSED leaves no answer");
  T_OK(dt < 0.5, "REFUSED is known at once");
  printf("# REFUSED: %.1f ms\n", dt * 1000);

  /* a server that never answers costs the deadline, no more */
  server16(tmp, hole);
  memset(tmp + 16, 0, 240);
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  sdu_dnsq_init(&q[1], "2.2.0.192.bl.test", SDU_DNS_TXT);
  t0 = now();
  sdu_dns_run_servers(tmp, q, 2, 1500, 0, 0);
  dt = now() - t0;
  T_OK(q[0].status == SDU_DNS_TIMEOUT && q[1].status == SDU_DNS_TIMEOUT, "silent server: TIMEOUT");
  snprintf(msg, sizeof msg, "silent server: returns at the 1.5 s deadline (%.3f s)", dt);
  T_OK(dt >= 1.5 && dt < 2.0, msg);
  T_OK(q[0].ms >= 1500 && q[0].ms < 2000, "silent server: ms is the deadline");
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(tmp, q, 1, 300, 0, 0);
  dt = now() - t0;
  snprintf(msg, sizeof msg, "silent server: a 0.3 s deadline is 0.3 s (%.3f s)", dt);
  T_OK(q[0].status == SDU_DNS_TIMEOUT && dt >= 0.3 && dt < 0.8, msg);

  /* a closed port: ICMP port unreachable, FAIL at once */
  server16(tmp, closed);
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(tmp, q, 1, 3000, 0, 0);
  dt = now() - t0;
  T_EQI(q[0].status, SDU_DNS_FAIL, "closed port: FAIL");
  snprintf(msg, sizeof msg, "closed port: known at once (%.1f ms)", dt * 1000);
  T_OK(dt < 0.3, msg);

  /* closed first, then rbldnsd: the refusal moves on to the next server */
  server16(tmp + 16, server);
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(tmp, q, 1, 3000, 0, 0);
  dt = now() - t0;
  expect(&q[0], SDU_DNS_OK, "127.0.0.2,127.0.0.10", "closed server, then a good one");
  snprintf(msg, sizeof msg, "closed server, then a good one: at once (%.1f ms)", dt * 1000);
  T_OK(dt < 0.3, msg);

  /* silent first, then rbldnsd: the first round waits 1 s for the silent
     one, then asks the next */
  server16(tmp, hole);
  sdu_dnsq_free(q, 1);
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  t0 = now();
  sdu_dns_run_servers(tmp, q, 1, 6000, 0, 0);
  dt = now() - t0;
  expect(&q[0], SDU_DNS_OK, "127.0.0.2,127.0.0.10", "silent server, then a good one");
  /* the schedule, not a speed: a loaded machine may add to the second, but
     libowfat's first round (3 s) would not pass */
  T_OK(dt >= 0.9 && dt < 2.5, "silent server, then a good one: after the first round's second, before a 3 s one");
  printf("# silent server, then a good one: %.3f s\n", dt);
  sdu_dnsq_free(q, 2);

  /* enough stops early: the other three would wait for the silent server */
  sdu_dnsq_init(&q[0], "1.2.0.192.bl.test", SDU_DNS_A);
  for (i = 1; i < 4; ++i) sdu_dnsq_init(&q[i], "1.2.0.192.other.test", SDU_DNS_A);
  memset(tmp, 0, sizeof tmp);
  server16(tmp, server);
  server16(tmp + 16, hole);
  calls = 0;
  t0 = now();
  sdu_dns_run_servers(tmp, q, 4, 3000, stop_at_first, 0);
  dt = now() - t0;
  T_EQI(q[0].status, SDU_DNS_OK, "enough: the first query answered");
  T_OK(q[1].status == SDU_DNS_PENDING && q[2].status == SDU_DNS_PENDING && q[3].status == SDU_DNS_PENDING,
    "enough: the rest are left PENDING");
  snprintf(msg, sizeof msg, "enough: stops at once (%.1f ms, deadline 3 s)", dt * 1000);
  T_OK(dt < 0.5, msg);
  T_EQI(calls, 1, "enough: called once");
  calls = 0;
  t0 = now();
  sdu_dns_run_servers(tmp, q, 4, 1200, count_enough, 0);
  dt = now() - t0;
  T_OK(q[1].status == SDU_DNS_TIMEOUT && calls == 1 && dt >= 1.2, "without enough the same queries wait for the deadline");
  sdu_dnsq_free(q, 4);

  /* a watched descriptor: ready() once when it is readable; its nonzero
     return stops the waiting, a zero one leaves the queries to go on */
  {
    int pfd[2];
    sdu_dnswatch w;
    if (pipe(pfd) == -1) return 111;
    sdu_dnsq_init(&q[0], "1.2.0.192.other.test", SDU_DNS_A);
    memset(tmp, 0, sizeof tmp);
    server16(tmp, hole);
    if (write(pfd[1], "EHLO", 4) != 4) return 111;
    calls = 0;
    t0 = now();
    sentq = q; sentcalls = sentout = 0;
    w.fd = pfd[0]; w.ready = watch_stop; w.late = on_sent; w.late_ms = 0;
    sdu_dns_run_servers_watch(tmp, q, 1, 3000, 0, &w, &calls);
    dt = now() - t0;
    snprintf(msg, sizeof msg, "watch: a readable descriptor stops the wait at once (%.1f ms)", dt * 1000);
    T_OK(calls == 1 && q[0].status == SDU_DNS_PENDING && dt < 0.5, msg);
    T_OK(sentcalls == 1 && sentout, "sent: called once, with the query on its way");
    calls = 0;
    t0 = now();
    sentcalls = 0;
    w.ready = watch_go;
    sdu_dns_run_servers_watch(tmp, q, 1, 600, 0, &w, &calls);
    dt = now() - t0;
    T_OK(calls == 1 && q[0].status == SDU_DNS_TIMEOUT && dt >= 0.6, "watch: told once (it stays readable), the queries go on");
    T_OK(sentcalls == 1, "late 0: once, however long the queries go on");
    /* late_ms: called once when the answers are not in by then */
    sentcalls = 0;
    w.fd = -1; w.late_ms = 200;
    t0 = now();
    sdu_dns_run_servers_watch(tmp, q, 1, 600, 0, &w, &calls);
    dt = now() - t0;
    snprintf(msg, sizeof msg, "late 200 ms, no answer: called once, after %.1f ms, the run to its deadline (%.1f ms)",
      (sentat - t0) * 1000, dt * 1000);
    T_OK(sentcalls == 1 && sentat - t0 >= 0.2 && sentat - t0 < 0.5 && dt >= 0.6, msg);
    /* answers in before then: never called */
    sentcalls = 0;
    sdu_dnsq_init(&q[1], "1.2.0.192.bl.test", SDU_DNS_A);
    t0 = now();
    sdu_dns_run_servers_watch(srv, q + 1, 1, 3000, 0, &w, &calls);
    dt = now() - t0;
    snprintf(msg, sizeof msg, "late 200 ms, the answer in %.1f ms: never called", dt * 1000);
    T_OK(sentcalls == 0 && q[1].status == SDU_DNS_OK && dt < 0.2, msg);
    sdu_dnsq_free(q + 1, 1);
    close(pfd[0]); close(pfd[1]);
    sdu_dnsq_free(q, 1);
  }

  /* micro-check: 4 at once cost about what one costs */
  for (i = 0; i < 4; ++i) {
    snprintf(name[i], sizeof name[i], "%u.100.51.198.bl.test", i + 1);
    sdu_dnsq_init(&q[i], name[i], SDU_DNS_A);
  }
  t0 = now();
  for (i = 0; i < 50; ++i) sdu_dns_run_servers(srv, q, 1, 3000, 0, 0);
  one = (now() - t0) / 50;
  t0 = now();
  for (i = 0; i < 50; ++i) sdu_dns_run_servers(srv, q, 4, 3000, 0, 0);
  four = (now() - t0) / 50;
  T_OK(q[3].status == SDU_DNS_OK, "micro-check queries answered");
  printf("# one query: %.3f ms, four at once: %.3f ms (average of 50)\n", one * 1000, four * 1000);
  sdu_dnsq_free(q, 4);

  /* the closed address serves once more, as a scripted server */
  if (hs != -1) scripted(closed, hs);

  if (hs != -1) close(hs);
  T_DONE();
}

int main(int argc, char **argv)
{
  if (argc == 5 && !strcmp(argv[1], "live")) return live(argv[2], argv[3], argv[4]);
  packet_tests();
  reply_tests();
  run_tests_offline();
  T_DONE();
}
