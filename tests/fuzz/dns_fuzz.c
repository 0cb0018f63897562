/* dns_fuzz.c: libFuzzer target for the DNS answer parser (sdu_dns_packet in common/sdu_dns.c); built and run by
   tests/fuzz/dns.t.sh. The first byte of the input picks the type asked for (its low bits) and where memory
   runs out (its high bits), the rest is the response packet. Before it is read, sdu_dns_reply decides which
   of our queries (those of the seeds' names) it answers, if any, and what it says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_dns.h"
#include "sdu_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int types[] = { SDU_DNS_A, SDU_DNS_AAAA, SDU_DNS_TXT, SDU_DNS_PTR, 15 /* MX: never parsed */ };

/* the names the seeds ask for (tests/fuzz/dns-seeds.py) */
static const char *const names[] = { "2.0.0.127.zen.spamhaus.org", "2.0.0.127.list.example",
  "9.2.0.192.bl.example", "2.0.0.127.bl.example", "7.2.0.192.in-addr.arpa", "mx.example.net" };
#define NAMES (sizeof names / sizeof names[0])

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* the queries out: one per name, with the packet's id; one more answered
   already and one gone to TCP, which nothing answers any more */
static void reply(const char *pkt, size_t len, int type, int st)
{
  sdu_dnsq q[NAMES + 2];
  unsigned int i, which = 12345, rcode;
  int r;
  char id[2] = { len > 0 ? pkt[0] : 0, len > 1 ? pkt[1] : 0 };
  for (i = 0; i < NAMES + 2; ++i) {
    sdu_dnsq_init(&q[i], names[i < NAMES ? i : 0], type);
    if (sdu_dns_query(&q[i], id) == -1) abort();
  }
  q[NAMES].status = SDU_DNS_OK;
  q[NAMES + 1].tcp = 1;
  r = sdu_dns_reply(q, NAMES + 2, pkt, (unsigned int) len, &which);
  if (r == SDU_DNS_R_NONE) { if (which != NAMES + 2) abort(); }
  else {
    /* an answer to a query still out on UDP: its id, one question, that question in any case */
    if (which >= NAMES || len < q[which].querylen || memcmp(pkt, q[which].query, 2)) abort();
    if (!(pkt[2] & 0x80) || pkt[4] || pkt[5] != 1) abort();
    for (i = 12; i < q[which].querylen; ++i) if (lower((unsigned char) pkt[i]) != lower((unsigned char) q[which].query[i])) abort();
    rcode = pkt[3] & 15;
    switch (r) {
      case SDU_DNS_R_NO: if (rcode == 0 || rcode == 3) abort(); break;
      case SDU_DNS_R_TRUNCATED: if ((rcode != 0 && rcode != 3) || !(pkt[2] & 2)) abort(); break;
      case SDU_DNS_R_ANSWER:
        if ((rcode != 0 && rcode != 3) || (pkt[2] & 2)) abort();
        if (sdu_dns_packet(&q[which], pkt, (unsigned int) len) != st) abort();
        break;
      default: abort();
    }
  }
  sdu_dnsq_free(q, NAMES + 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sdu_dnsq q, q2;
  const char *pkt, *s;
  char *copy;
  size_t len, pos, l, total;
  int type, st;

  if (!size || size > 65536) return 0;
  type = types[(data[0] & 7) % (sizeof types / sizeof types[0])];
  len = size - 1;
  /* a copy of exactly the packet's bytes, so that ASan sees a read past its end */
  copy = malloc(len ? len : 1);
  if (!copy) return 0;
  memcpy(copy, data + 1, len);
  pkt = copy;

  sdu_dnsq_init(&q, "2.0.0.127.zen.example", type);
  st = sdu_dns_packet(&q, pkt, (unsigned int) len);
  reply(pkt, len, type, st);
  if (st != q.status) abort();
  if (st != SDU_DNS_OK && st != SDU_DNS_NXDOMAIN && st != SDU_DNS_FAIL) abort();
  if ((st == SDU_DNS_OK) != (q.answer.len > 0)) abort();
  if (type == 15 && st == SDU_DNS_OK) abort();
  if (len < 12 && st != SDU_DNS_FAIL) abort();
  if (len >= 12 && (pkt[3] & 15) == 3 && st != SDU_DNS_NXDOMAIN) abort();
  if (st == SDU_DNS_OK) {
    switch (type) {
      case SDU_DNS_A: if (q.answer.len % 4) abort(); break;
      case SDU_DNS_AAAA: if (q.answer.len % 16) abort(); break;
      case SDU_DNS_TXT:
      case SDU_DNS_PTR:
        /* records end in NUL; TXT is cut to its bound; a PTR name is dotted and printable */
        if (q.answer.s[q.answer.len - 1]) abort();
        if (type == SDU_DNS_TXT && q.answer.len > SDU_DNS_TXTMAX) abort();
        if (type == SDU_DNS_PTR && q.answer.len > SDU_DNS_TXTMAX + 4 * 256) abort();
        pos = 0; total = 0;
        while (sdu_dnsq_next(&q, &pos, &s, &l)) {
          size_t i;
          if (s < q.answer.s || s + l >= q.answer.s + q.answer.len || s[l]) abort();
          if (type == SDU_DNS_PTR)
            for (i = 0; i < l; ++i) if ((unsigned char) s[i] <= 32 || (unsigned char) s[i] >= 127) abort();
          total += l + 1;
        }
        if (total != q.answer.len) abort();
        break;
    }
  }

  /* a query that runs again gives the same answer, whatever it held before */
  sdu_dnsq_init(&q2, q.name, type);
  if (!stralloc_copys(&q2.answer, "left over from an earlier run")) abort();
  if (sdu_dns_packet(&q2, pkt, (unsigned int) len) != st || q2.answer.len != q.answer.len
      || (q.answer.len && memcmp(q.answer.s, q2.answer.s, q.answer.len))) abort();
  if (sdu_dns_packet(&q, pkt, (unsigned int) len) != st || q2.answer.len != q.answer.len) abort();

  /* no memory on the way: the query failed, with no answer */
  if (data[0] & 0x80) {
    fuzz_fail(1 + (data[0] >> 3 & 7));
    st = sdu_dns_packet(&q2, pkt, (unsigned int) len);
    if (fuzz_unfail() && (st != SDU_DNS_FAIL || q2.answer.len)) abort();
  }

  sdu_dnsq_free(&q, 1);
  sdu_dnsq_free(&q2, 1);
  free(copy);
  return 0;
}
