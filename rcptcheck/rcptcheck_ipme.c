/* rcptcheck_ipme.c: is an address literal one of this host's own addresses (qmail's ipme) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <ifaddrs.h>
#include "rcptcheck_ipme.h"

int rc_literal_ip(const char *dom, size_t len, sdu_ip *ip)
{
  char tmp[64];
  unsigned char a[16];
  size_t i = 1, part;

  if (len < 3 || dom[0] != '[' || dom[len - 1] != ']' || len - 2 >= sizeof tmp) return 0;
  memset(ip, 0, sizeof *ip);
  if (len > 7 && !memcmp(dom + 1, "ipv6:", 5)) {
    memcpy(tmp, dom + 6, len - 7);
    tmp[len - 7] = 0;
    if (inet_pton(AF_INET6, tmp, a) != 1) return 0;
    if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\377\377", 12)) { memcpy(ip->a, a + 12, 4); return 1; }
    ip->v6 = 1;
    memcpy(ip->a, a, 16);
    return 1;
  }
  for (part = 0; part < 4; ++part) {
    unsigned int v = 0, digits = 0;
    if (part) { if (i >= len - 1 || dom[i] != '.') return 0; ++i; }
    while (i < len - 1 && dom[i] >= '0' && dom[i] <= '9' && digits < 3) { v = v * 10 + (unsigned int) (dom[i] - '0'); ++i; ++digits; }
    if (!digits || v > 255) return 0;
    ip->a[part] = (unsigned char) v;
  }
  return i == len - 1;
}

static int same(const sdu_ip *a, const sdu_ip *b)
{
  return a->v6 == b->v6 && !memcmp(a->a, b->a, a->v6 ? 16 : 4);
}

/* the addresses of the interfaces that are up, as qmail's ipme_init */
static int load(rc_ipme *m)
{
  struct ifaddrs *all, *x;
  size_t n = 0;
  if (getifaddrs(&all) == -1) return -1;
  for (x = all; x; x = x->ifa_next) ++n;
  m->ifs = calloc(n ? n : 1, sizeof *m->ifs);
  if (!m->ifs) { freeifaddrs(all); errno = ENOMEM; return -1; }
  m->n = 0;
  for (x = all; x; x = x->ifa_next) {
    sdu_ip *ip = &m->ifs[m->n];
    if (!x->ifa_addr || !(x->ifa_flags & IFF_UP)) continue;
    memset(ip, 0, sizeof *ip);
    if (x->ifa_addr->sa_family == AF_INET) {
      memcpy(ip->a, &((struct sockaddr_in *) (void *) x->ifa_addr)->sin_addr, 4);
    } else if (x->ifa_addr->sa_family == AF_INET6) {
      const unsigned char *a = (const unsigned char *) &((struct sockaddr_in6 *) (void *) x->ifa_addr)->sin6_addr;
      if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\377\377", 12)) memcpy(ip->a, a + 12, 4);
      else { ip->v6 = 1; memcpy(ip->a, a, 16); }
    } else continue;
    ++m->n;
  }
  freeifaddrs(all);
  m->loaded = 1;
  return 0;
}

int rc_ipme_is(rc_ipme *m, const sdu_ip *ip)
{
  static const unsigned char zero[16];
  size_t i;
  /* 0.0.0.0 is "this host" (RFC 1122 3.2.1.3), and qmail's ipme holds it */
  if (!memcmp(ip->a, zero, ip->v6 ? 16 : 4)) return 1;
  if (m->havelocal && same(ip, &m->local)) return 1;
  if (!m->loaded && load(m) == -1) return -1;
  for (i = 0; i < m->n; ++i) if (same(ip, &m->ifs[i])) return 1;
  return 0;
}

void rc_ipme_free(rc_ipme *m)
{
  free(m->ifs);
  m->ifs = 0; m->n = 0; m->loaded = 0;
}
