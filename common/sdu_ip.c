/* sdu_ip.c: client addresses (IPv4 and IPv6), DNSBL query names, CIDR nets */
#include <string.h>
#include <ip4.h>
#include <ip6.h>
#include "sdu_ip.h"
#include "sdu_msg.h"

#define MAXTEXT 45 /* ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 */

/* scan_ip4 takes leading zeros ("010" reads as octal elsewhere): only
   1-3 digits per part, no leading zero, exactly four parts */
static int quad_ok(const char *s, size_t len)
{
  size_t i, digits = 0;
  unsigned int dots = 0;
  for (i = 0; i < len; ++i) {
    if (s[i] == '.') {
      if (!digits) return 0;
      ++dots;
      digits = 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      if (digits == 1 && s[i - 1] == '0') return 0;
      if (++digits > 3) return 0;
    } else
      return 0;
  }
  return dots == 3 && digits;
}

/* scan_ip6 takes "12345::1" as 2345::1: at most 4 hex digits a group */
static int v6_ok(const char *s, size_t len)
{
  size_t i, digits = 0, last = 0;
  for (i = 0; i < len; ++i) {
    char c = s[i];
    if (c == ':') { digits = 0; last = i + 1; continue; }
    if (c == '.') return quad_ok(s + last, len - last);
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    if (++digits > 4) return 0;
  }
  return 1;
}

int sdu_ip_parse(sdu_ip *ip, const char *s)
{
  size_t len;
  char a[16];

  for (len = 0; s[len]; ++len)
    if (len >= MAXTEXT) return 0;
  if (!len) return 0;
  if (!memchr(s, ':', len)) {
    if (!quad_ok(s, len) || scan_ip4(s, a) != len) return 0;
    memset(ip, 0, sizeof *ip);
    memcpy(ip->a, a, 4);
    return 1;
  }
  if (!v6_ok(s, len) || scan_ip6(s, a) != len) return 0;
  memset(ip, 0, sizeof *ip);
  if (ip6_isv4mapped(a)) {
    memcpy(ip->a, a + 12, 4);
    return 1;
  }
  ip->v6 = 1;
  memcpy(ip->a, a, 16);
  return 1;
}

/* libowfat's fmt_ip6 prints 1:2:3:4:5:6:7:0 as "::": RFC 5952 by hand */
static size_t fmt6(char *out, const unsigned char *a)
{
  static const char hex[] = "0123456789abcdef";
  int i, run = 0, best = -1, bestlen = 1;
  size_t len = 0;

  for (i = 0; i < 8; ++i) {
    if (a[2 * i] || a[2 * i + 1]) { run = 0; continue; }
    if (++run > bestlen) { bestlen = run; best = i - run + 1; }
  }
  for (i = 0; i < 8; ++i) {
    unsigned int g = (unsigned int) a[2 * i] << 8 | a[2 * i + 1];
    int shift, started = 0;
    if (i == best) {
      out[len++] = ':';
      out[len++] = ':';
      i += bestlen - 1;
      continue;
    }
    if (i && i != best + bestlen) out[len++] = ':';
    for (shift = 12; shift >= 0; shift -= 4) {
      unsigned int d = (g >> shift) & 15;
      if (d || started || !shift) { out[len++] = hex[d]; started = 1; }
    }
  }
  return len;
}

size_t sdu_ip_fmt(char *out, const sdu_ip *ip)
{
  size_t len;
  if (ip->v6)
    len = fmt6(out, ip->a);
  else
  {
    size_t k;
    len = 0;
    for (k = 0; k < 4; ++k) {
      if (k) out[len++] = '.';
      len += sdu_fmt_ulong(out + len, ip->a[k]);
    }
  }
  out[len] = 0;
  return len;
}

int sdu_ip_revname(stralloc *out, const sdu_ip *ip, const char *zone)
{
  static const char hex[] = "0123456789abcdef";
  char buf[64]; /* 32 nibbles and dots; or 4 octets of up to 3 digits */
  size_t len = 0;
  int i;

  if (ip->v6)
    for (i = 15; i >= 0; --i) {
      buf[len++] = hex[ip->a[i] & 15];
      buf[len++] = '.';
      buf[len++] = hex[ip->a[i] >> 4];
      buf[len++] = '.';
    }
  else
    for (i = 3; i >= 0; --i) {
      unsigned int b = ip->a[i];
      if (b >= 100) buf[len++] = (char) ('0' + b / 100);
      if (b >= 10) buf[len++] = (char) ('0' + b / 10 % 10);
      buf[len++] = (char) ('0' + b % 10);
      buf[len++] = '.';
    }
  if (!zone || !*zone) --len; /* no trailing dot */
  if (!stralloc_copyb(out, buf, len)) return 0;
  if (zone && *zone && !stralloc_cats(out, zone)) return 0;
  return 1;
}

int sdu_ip_prefix_key(char *out16, const sdu_ip *ip)
{
  int n = ip->v6 ? 8 : 4;
  memset(out16, 0, 16);
  memcpy(out16, ip->a, (size_t) n);
  return n;
}

static void mask(unsigned char *a, unsigned int bits)
{
  unsigned int i;
  for (i = 0; i < 16; ++i) {
    if (bits >= 8) { bits -= 8; continue; }
    a[i] &= (unsigned char) (0xff00u >> bits);
    bits = 0;
  }
}

int sdu_net_parse(sdu_net *n, const char *s)
{
  char addr[MAXTEXT + 1];
  const char *slash;
  size_t len;
  unsigned int bits = 0, max;
  int mapped;

  slash = strchr(s, '/');
  len = slash ? (size_t) (slash - s) : strlen(s);
  if (len > MAXTEXT) return 0;
  memcpy(addr, s, len);
  addr[len] = 0;
  if (!sdu_ip_parse(&n->ip, addr)) return 0;
  max = n->ip.v6 ? 128 : 32;
  mapped = !n->ip.v6 && memchr(addr, ':', len); /* ::ffff:a.b.c.d/120 */
  if (!slash) {
    n->bits = max;
    return 1;
  }
  s = slash + 1;
  if (!*s || strlen(s) > 3 || (s[0] == '0' && s[1])) return 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return 0;
    bits = bits * 10 + (unsigned int) (*s - '0');
  }
  if (mapped) {
    if (bits < 96) return 0;
    bits -= 96;
  }
  if (bits > max) return 0;
  n->bits = bits;
  mask(n->ip.a, bits);
  return 1;
}

int sdu_net_match(const sdu_net *n, const sdu_ip *ip)
{
  unsigned char a[16];
  if (n->ip.v6 != ip->v6) return 0;
  memcpy(a, ip->a, 16);
  mask(a, n->bits);
  return memcmp(a, n->ip.a, 16) == 0;
}
