/* sdu_ip.h: client addresses (IPv4 and IPv6), DNSBL query names, CIDR nets */
#ifndef SDU_IP_H
#define SDU_IP_H

#include <stddef.h>
#include <stralloc.h>

/* v4 in a[0..3] (rest zero), v6 in a[0..15]; ::ffff:a.b.c.d is always v4 */
typedef struct sdu_ip { int v6; unsigned char a[16]; } sdu_ip;

#define SDU_IP_FMT 40  /* longest sdu_ip_fmt output plus the NUL */

/* "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7" (becomes v4); the whole
   string must be the address: no spaces, zone ids, prefixes or leading
   zeros in a dotted quad. 1 ok, 0 not an address. */
int sdu_ip_parse(sdu_ip *ip, const char *s);

/* canonical text (RFC 5952 for v6: lowercase, longest zero run as "::"),
   NUL-terminated; out holds SDU_IP_FMT bytes; returns the length */
size_t sdu_ip_fmt(char *out, const sdu_ip *ip);

/* the reversed name of ip under zone, as a DNSBL (RFC 5782) or the reverse
   tree ("in-addr.arpa", "ip6.arpa") wants it: "7.2.0.192.zone", 32 nibbles
   for v6; zone "" gives the bare reversed part; no trailing dot.
   Replaces out's contents. 1 ok, 0 no memory. */
int sdu_ip_revname(stralloc *out, const sdu_ip *ip, const char *zone);

/* the key under which a client is counted: the v4 address, or the /64 of a
   v6 address; writes 16 bytes (rest zeroed), returns how many count (4 or 8):
   use out16[0..return) as the key so that v4 and v6 keys never collide */
int sdu_ip_prefix_key(char *out16, const sdu_ip *ip);

typedef struct sdu_net { sdu_ip ip; unsigned int bits; } sdu_net;

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (/32, /128); host bits
   are accepted and cleared; ::ffff:a.b.c.d/120 is a.b.c.d/24.
   1 ok, 0 bad syntax or bits out of range. */
int sdu_net_parse(sdu_net *n, const char *s);
/* 1 when ip is inside n; a v4 net never matches a v6 address and vice versa */
int sdu_net_match(const sdu_net *n, const sdu_ip *ip);

#endif
