/* t_ip.c: address parsing and formatting, DNSBL names, throttle keys, nets */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "sdu_t.h"
#include "sdu_ip.h"

static void roundtrip(const char *in, int v6, const char *want)
{
  sdu_ip ip;
  char out[SDU_IP_FMT];
  char name[128];
  int ok = sdu_ip_parse(&ip, in);
  snprintf(name, sizeof name, "parse %s", in);
  T_OK(ok, name);
  if (!ok) return;
  snprintf(name, sizeof name, "%s is %s", in, v6 ? "v6" : "v4");
  T_EQI(ip.v6, v6, name);
  snprintf(name, sizeof name, "format %s", in);
  T_EQI(sdu_ip_fmt(out, &ip), strlen(want), name);
  T_EQS(out, want, name);
}

static void bad(const char *in)
{
  sdu_ip ip;
  char name[128];
  snprintf(name, sizeof name, "reject [%s]", in);
  T_OK(!sdu_ip_parse(&ip, in), name);
}

static void rev(const char *in, const char *zone, const char *want)
{
  sdu_ip ip;
  stralloc sa = {0};
  char name[160];
  snprintf(name, sizeof name, "revname %s zone [%s]", in, zone);
  T_OK(sdu_ip_parse(&ip, in) && sdu_ip_revname(&sa, &ip, zone), name);
  T_EQB(sa.s, sa.len, want, name);
  stralloc_free(&sa);
}

static void net(const char *netstr, const char *ipstr, int want)
{
  sdu_net n;
  sdu_ip ip;
  char name[160];
  snprintf(name, sizeof name, "%s %s %s", ipstr, want ? "in" : "not in", netstr);
  T_OK(sdu_net_parse(&n, netstr) && sdu_ip_parse(&ip, ipstr) && sdu_net_match(&n, &ip) == want, name);
}

static void badnet(const char *netstr)
{
  sdu_net n;
  char name[128];
  snprintf(name, sizeof name, "reject net [%s]", netstr);
  T_OK(!sdu_net_parse(&n, netstr), name);
}

/* inet_ntop follows RFC 5952 too, except that it prints ::a.b.c.d and
   ::ffff:a.b.c.d dotted: compare on many addresses full of zero groups */
/* RFC 5952 section 4, written out: lower-case hex without leading zeros, the
   longest run of two or more zero groups as "::", the first of equal runs */
static void rfc5952(char *out, const unsigned char *a)
{
  unsigned int g[8], i, best = 8, bestlen = 1, run;
  for (i = 0; i < 8; ++i) g[i] = (unsigned int) a[2 * i] << 8 | a[2 * i + 1];
  for (i = 0; i < 8; i += run ? run : 1) {
    for (run = 0; i + run < 8 && !g[i + run]; ++run) ;
    if (run > bestlen) { best = i; bestlen = run; }
  }
  *out = 0;
  for (i = 0; i < 8; ++i) {
    if (i == best) { strcat(out, "::"); i += bestlen - 1; continue; }
    sprintf(out + strlen(out), "%s%x", i && i != best + bestlen ? ":" : "", g[i]);
  }
}

static void fmt_vs_reference(void)
{
  unsigned long x = 12345;
  int i, j, bad = 0, libc_differs = 0;
  for (i = 0; i < 20000; ++i) {
    sdu_ip ip;
    char mine[SDU_IP_FMT], ref[64], libc[INET6_ADDRSTRLEN];
    ip.v6 = 1;
    for (j = 0; j < 8; ++j) {
      x = x * 1103515245 + 12345;
      if ((x >> 16) % 3) { ip.a[2 * j] = ip.a[2 * j + 1] = 0; continue; }
      ip.a[2 * j] = (unsigned char) (x >> 24);
      ip.a[2 * j + 1] = (unsigned char) (x >> 8);
    }
    if (!memcmp(ip.a, "\0\0\0\0\0\0\0\0\0\0", 10)) continue;
    sdu_ip_fmt(mine, &ip);
    rfc5952(ref, ip.a);
    if (strcmp(mine, ref)) { if (!bad++) printf("# %s vs %s\n", mine, ref); }
    /* glibc agrees with the RFC; musl 1.2.3 shortens the last of equal runs */
    inet_ntop(AF_INET6, ip.a, libc, sizeof libc);
    if (strcmp(mine, libc)) ++libc_differs;
  }
  T_EQI(bad, 0, "v6 formatting follows RFC 5952 (20,000 addresses)");
  if (libc_differs) printf("# inet_ntop differs on %d of them (equal zero runs)\n", libc_differs);
  {
    char out[SDU_IP_FMT];
    sdu_ip ip;
    T_OK(sdu_ip_parse(&ip, "0:0:0:3fa5:0:0:0:1576"), "equal zero runs parse");
    sdu_ip_fmt(out, &ip);
    T_EQS(out, "::3fa5:0:0:0:1576", "the first of equal zero runs is shortened");
    T_OK(sdu_ip_parse(&ip, "2001:db8:0:1:0:0:0:1"), "longer second run parses");
    sdu_ip_fmt(out, &ip);
    T_EQS(out, "2001:db8:0:1::1", "the longest run is shortened");
    T_OK(sdu_ip_parse(&ip, "2001:db8:0:1:1:1:1:1"), "a single zero group parses");
    sdu_ip_fmt(out, &ip);
    T_EQS(out, "2001:db8:0:1:1:1:1:1", "a single zero group stays");
  }
}

int main(void)
{
  sdu_ip ip;
  char key[16];
  sdu_net n;
  char out[SDU_IP_FMT];

  roundtrip("192.0.2.7", 0, "192.0.2.7");
  roundtrip("0.0.0.0", 0, "0.0.0.0");
  roundtrip("255.255.255.255", 0, "255.255.255.255");
  roundtrip("2001:db8::1", 1, "2001:db8::1");
  roundtrip("2001:DB8:0:0:0:0:0:1", 1, "2001:db8::1");
  roundtrip("::ffff:192.0.2.7", 0, "192.0.2.7");
  roundtrip("::FFFF:192.0.2.7", 0, "192.0.2.7");
  roundtrip("::1", 1, "::1");
  roundtrip("::", 1, "::");
  roundtrip("1:0:0:2:0:0:0:3", 1, "1:0:0:2::3");
  roundtrip("2001:db8:0:0:1:0:0:1", 1, "2001:db8::1:0:0:1");
  roundtrip("2001:db8:0:1:1:1:1:1", 1, "2001:db8:0:1:1:1:1:1");
  roundtrip("1:2:3:4:5:6:7:0", 1, "1:2:3:4:5:6:7:0");
  roundtrip("fe80::abcd:ef01", 1, "fe80::abcd:ef01");
  roundtrip("0:0:1:2:3:4:5:6", 1, "::1:2:3:4:5:6");
  roundtrip("1:2:3:4:5:6::", 1, "1:2:3:4:5:6::");
  roundtrip("1:0:2:3:4:5:6:7", 1, "1:0:2:3:4:5:6:7");
  roundtrip("0:1:0:0:2:0:0:0", 1, "0:1:0:0:2::");
  roundtrip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  roundtrip("::0.0.1.2", 1, "::102");
  roundtrip("0123:0045:6:0:0:0:0:0", 1, "123:45:6::");
  T_OK(sdu_ip_parse(&ip, "::ffff:1.2.3.4") && !ip.v6 && ip.a[0] == 1 && ip.a[3] == 4 && ip.a[4] == 0 && ip.a[15] == 0,
    "v4-mapped stored as v4 in a[0..3], rest zero");

  fmt_vs_reference();

  bad("");
  bad("192.0.2");
  bad("192.0.2.7.1");
  bad("192.0.2.256");
  bad("192.0.2.7 ");
  bad(" 192.0.2.7");
  bad("192.0.2.7x");
  bad("192.0.2.07");
  bad("192..2.7");
  bad("4294967297.1.1.1");
  bad("2001:db8::1%eth0");
  bad("2001:db8::1/64");
  bad("12345::1");
  bad("1::2::3");
  bad(":::");
  bad("1:2:3:4:5:6:7:8:9");
  bad("2001:db8::g");
  bad("::ffff:1.2.3.04");
  bad("::ffff:1.2.3");
  bad("unknown");
  bad("0000000000000000000000000000000000000000000000000000000000000000::1");

  rev("192.0.2.99", "zone", "99.2.0.192.zone");
  rev("192.0.2.99", "", "99.2.0.192");
  rev("10.0.100.255", "zen.example", "255.100.0.10.zen.example");
  rev("2001:db8:1:2:3:4:567:89ab", "",
    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2");
  rev("2001:DB8:1:2:3:4:567:89AB", "ip6.arpa",
    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  rev("::ffff:1.2.3.4", "", "4.3.2.1");
  rev("192.0.2.7", "in-addr.arpa", "7.2.0.192.in-addr.arpa");

  T_OK(sdu_ip_parse(&ip, "192.0.2.7"), "parse v4 for key");
  T_EQI(sdu_ip_prefix_key(key, &ip), 4, "v4 key is 4 bytes");
  T_OK(memcmp(key, "\300\000\002\007\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "v4 key is the address, rest zero");
  T_OK(sdu_ip_parse(&ip, "2001:db8:1:2:3:4:567:89ab"), "parse v6 for key");
  T_EQI(sdu_ip_prefix_key(key, &ip), 8, "v6 key is the /64");
  T_OK(memcmp(key, "\040\001\015\270\000\001\000\002\0\0\0\0\0\0\0\0", 16) == 0, "v6 key is the /64, rest zero");
  {
    sdu_ip other;
    char key2[16];
    sdu_ip_parse(&other, "2001:db8:1:2:ffff::1");
    sdu_ip_prefix_key(key2, &other);
    T_OK(memcmp(key, key2, 16) == 0, "two addresses in one /64 share a key");
    sdu_ip_parse(&other, "2001:db8:1:3::1");
    sdu_ip_prefix_key(key2, &other);
    T_OK(memcmp(key, key2, 16) != 0, "the next /64 has another key");
  }

  T_OK(sdu_net_parse(&n, "192.0.2.77/24") && n.bits == 24 && !n.ip.v6, "net with host bits parses");
  T_OK(sdu_ip_fmt(out, &n.ip) && !strcmp(out, "192.0.2.0"), "host bits are cleared");
  T_OK(sdu_net_parse(&n, "2001:db8::1") && n.bits == 128 && n.ip.v6, "bare v6 address is /128");
  T_OK(sdu_net_parse(&n, "192.0.2.1") && n.bits == 32, "bare v4 address is /32");
  T_OK(sdu_net_parse(&n, "::ffff:192.0.2.0/120") && n.bits == 24 && !n.ip.v6, "mapped /120 is v4 /24");
  net("192.0.2.0/24", "192.0.2.255", 1);
  net("192.0.2.0/24", "192.0.3.0", 0);
  net("192.0.2.0/24", "::ffff:192.0.2.9", 1);
  net("192.0.2.128/25", "192.0.2.127", 0);
  net("192.0.2.128/25", "192.0.2.128", 1);
  net("10.0.0.0/8", "10.255.255.255", 1);
  net("10.0.0.0/8", "11.0.0.0", 0);
  net("0.0.0.0/0", "203.0.113.1", 1);
  net("0.0.0.0/0", "2001:db8::1", 0);
  net("::/0", "192.0.2.1", 0);
  net("::/0", "2001:db8::1", 1);
  net("192.0.2.1", "192.0.2.1", 1);
  net("192.0.2.1", "192.0.2.2", 0);
  net("2001:db8::/32", "2001:db8:ffff::1", 1);
  net("2001:db8::/32", "2001:db9::1", 0);
  net("2001:db8:0:1::/63", "2001:db8:0:0::1", 1);
  net("2001:db8:0:1::/63", "2001:db8:0:2::1", 0);
  net("2001:db8::1/127", "2001:db8::", 1);
  net("2001:db8::/127", "2001:db8::2", 0);
  net("::ffff:0:0/96", "192.0.2.1", 1);
  badnet("192.0.2.0/33");
  badnet("2001:db8::/129");
  badnet("192.0.2.0/");
  badnet("192.0.2.0/-1");
  badnet("192.0.2.0/024");
  badnet("192.0.2.0/2x");
  badnet("192.0.2.0/24/1");
  badnet("/24");
  badnet("::ffff:192.0.2.0/95");
  badnet("192.0.2.0 /24");
  T_DONE();
}
