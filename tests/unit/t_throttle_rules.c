/* t_throttle_rules.c: throttle's limits, client keys, whitelists and lists */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <stdio.h>
#include "sdu_t.h"
#include "../../throttle/throttle_rules.h"

int main(void)
{
  throttle_rate r;
  unsigned long u;
  char k1[THROTTLE_CKEY_MAX], k2[THROTTLE_CKEY_MAX], lists[16];
  size_t n1, n2;
  sdu_ip a, b;
  throttle_nets nets = { 0, 0, 0 };
  throttle_addrs addrs = { { 0, 0, 0 } };
  stralloc err = {0};
  char file[256];

  T_OK(throttle_rate_parse(&r, "30/60") && r.count == 30 && r.window == 60, "30/60");
  T_OK(throttle_rate_parse(&r, "20/10m") && r.count == 20 && r.window == 600, "20/10m: window with a unit");
  T_OK(throttle_rate_parse(&r, "0/1h") && r.count == 0 && r.window == 3600, "a count of 0");
  T_OK(!throttle_rate_parse(&r, "30"), "no window refused");
  T_OK(!throttle_rate_parse(&r, "30/0"), "a window of 0 refused");
  T_OK(!throttle_rate_parse(&r, "/60"), "no count refused");
  T_OK(!throttle_rate_parse(&r, "3x/60"), "junk in the count refused");
  T_OK(!throttle_rate_parse(&r, "1234567890/60"), "a count of 10 digits refused");
  T_OK(!throttle_rate_parse(&r, "30/60x"), "junk in the window refused");
  T_OK(throttle_number("5", &u) && u == 5, "number 5");
  T_OK(!throttle_number("", &u) && !throttle_number("5 ", &u) && !throttle_number("-1", &u), "not numbers");

  sdu_ip_parse(&a, "192.0.2.7"); sdu_ip_parse(&b, "192.0.2.8");
  n1 = throttle_clientkey(k1, &a); n2 = throttle_clientkey(k2, &b);
  T_OK(n1 == 5 && k1[0] == '4' && n2 == 5 && memcmp(k1, k2, 5), "v4: one key per address");
  sdu_ip_parse(&a, "2001:db8:1:2::1"); sdu_ip_parse(&b, "2001:db8:1:2:ffff::9");
  n1 = throttle_clientkey(k1, &a); n2 = throttle_clientkey(k2, &b);
  T_OK(n1 == 9 && k1[0] == '6' && n1 == n2 && !memcmp(k1, k2, n1), "v6: one key per /64");
  sdu_ip_parse(&b, "2001:db8:1:3::1");
  n2 = throttle_clientkey(k2, &b);
  T_OK(memcmp(k1, k2, n1), "v6: another /64, another key");
  sdu_ip_parse(&a, "::ffff:192.0.2.7");
  n1 = throttle_clientkey(k1, &a);
  T_OK(n1 == 5 && k1[0] == '4', "a mapped v4 address counts as v4");

  snprintf(file, sizeof file, "tests/tmp/t_throttle_rules.%ld", (long) getpid());
  T_WRITES(file, "# big senders\n192.0.2.0/24\n2001:db8::/32\n198.51.100.7\n");
  T_EQI(throttle_nets_load(&nets, file, &err), 1, "IP whitelist loads");
  sdu_ip_parse(&a, "192.0.2.200");
  T_OK(throttle_nets_match(&nets, &a), "an address in a listed net matches");
  sdu_ip_parse(&a, "198.51.100.7");
  T_OK(throttle_nets_match(&nets, &a), "a listed address matches");
  sdu_ip_parse(&a, "198.51.100.8");
  T_OK(!throttle_nets_match(&nets, &a), "another address does not");
  sdu_ip_parse(&a, "2001:db8:ffff::1");
  T_OK(throttle_nets_match(&nets, &a), "a v6 address in a listed net matches");
  throttle_nets_free(&nets);
  T_WRITES(file, "192.0.2.0/24\n192.0.2.300\n");
  T_EQI(throttle_nets_load(&nets, file, &err), 0, "a bad line is refused");
  T_OK(err.len && strstr(err.s, "line 2: not an address or net: 192.0.2.300"), "the message names the line and the word");
  throttle_nets_free(&nets);
  T_WRITES(file, "192.0.2.0/24 198.51.100.0/24\n");
  T_EQI(throttle_nets_load(&nets, file, &err), 0, "two words on a line are refused");
  T_OK(err.len && strstr(err.s, "line 1: one address or net a line"), "  and said so");
  throttle_nets_free(&nets);
  T_EQI(throttle_nets_load(&nets, "tests/tmp/no/such/file", &err), -1, "a missing file is a system error");

  T_WRITES(file, "Postmaster@Example.NET\n@bounces.example.org\n");
  T_EQI(throttle_addrs_load(&addrs, file, &err), 1, "recipient whitelist loads");
  T_OK(throttle_addrs_match(&addrs, "postmaster@example.net", 22), "an address matches, case aside");
  T_OK(throttle_addrs_match(&addrs, "anyone@BOUNCES.example.org", 26), "a domain entry matches its addresses");
  T_OK(!throttle_addrs_match(&addrs, "anyone@x.bounces.example.org", 28), "but not a subdomain");
  T_OK(!throttle_addrs_match(&addrs, "joe@example.net", 15), "another address does not");
  throttle_addrs_free(&addrs);
  T_WRITES(file, "no-at-sign\n");
  T_EQI(throttle_addrs_load(&addrs, file, &err), 0, "an entry without @ is refused");
  T_OK(err.len && strstr(err.s, "line 1: not an address or @domain: no-at-sign"), "  with its line and word");
  throttle_addrs_free(&addrs);
  unlink(file);

  throttle_lists(lists, sizeof lists, "dul  orbs ");
  T_EQS(lists, "dul,orbs", "lists: spaces become one comma");
  throttle_lists(lists, sizeof lists, "");
  T_EQS(lists, "", "no lists");
  throttle_lists(lists, sizeof lists, 0);
  T_EQS(lists, "", "unset");
  throttle_lists(lists, 8, "aaaa bbbb cccc");
  T_EQS(lists, "aaaa,bb", "cut to fit");
  stralloc_free(&err);
  T_DONE();
}
