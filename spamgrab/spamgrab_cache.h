/* spamgrab_cache.h: the host cache (known spam hosts, report times) and the per-recipient cap, in LMDB */
#ifndef SPAMGRAB_CACHE_H
#define SPAMGRAB_CACHE_H

#include <stddef.h>
#include <buffer.h>
#include "sdu_state.h"
#include "sdu_ip.h"

#define SG_TABLE_HOSTS "spamgrab_hosts"
#define SG_TABLE_CAP "spamgrab_cap"
#define SG_CACHE_LISTS 255

/* one known host: first and last time seen, last report (0 none), times seen */
typedef struct sg_host {
  unsigned long long first, last, reported;
  unsigned long seen;
  char lists[SG_CACHE_LISTS + 1];
} sg_host;

typedef struct sg_cache { sdu_state hosts, cap; int open; } sg_cache;

/* open (creating unless rdonly) both tables in dir: 0 ok, -1 (reason in sg_cache_error) */
int sg_cache_open(sg_cache *c, const char *dir, int rdonly);
const char *sg_cache_error(const sg_cache *c);
void sg_cache_close(sg_cache *c);
/* 1 known (h filled, *expires unless 0), 0 unknown or forgotten, -1 error */
int sg_cache_get(sg_cache *c, const sdu_ip *ip, unsigned long long now, sg_host *h,
  unsigned long long *expires);
/* in one transaction (one disk flush): remember h about ip until expires, and
   count a report to each of rcpt[0..n) in the current day, ok[i] 1 within
   cap, 0 over it: 0 ok, -1 error (nothing written) */
#define SG_CACHE_RCPT_MAX 32
int sg_cache_put(sg_cache *c, const sdu_ip *ip, const sg_host *h, unsigned long long expires,
  const char *const *rcpt, unsigned int n, unsigned long long now, unsigned long cap, int *ok);
/* undo a put whose reports could not go out: the entry as it was (old 0: none) */
int sg_cache_restore(sg_cache *c, const sdu_ip *ip, const sg_host *old, unsigned long long expires);
/* in one write transaction: if no report about ip was made within interval
   (or force), mark one made now and set *claimed; otherwise *claimed = 0.
   Of several processes holding double-bounces from one new host at once,
   one reports. 0 ok, -1 (reason in sg_cache_error) */
int sg_cache_claim(sg_cache *c, const sdu_ip *ip, unsigned long long now, unsigned long interval,
  unsigned long long expires, int force, int *claimed);
/* the known IPv4 hosts as an rbldnsd ip4set zone (v6: the IPv6 hosts, one
   address a line, as an ip6trie zone), with text as its TXT (c 0: no
   hosts, the header alone): 0 ok, -1 error */
int sg_cache_zone(sg_cache *c, unsigned long long now, const char *text, int v6, buffer *out);

/* the value format, for tests: "first last reported seen lists" */
int sg_host_fmt(char *out, size_t max, const sg_host *h);
int sg_host_scan(const char *s, size_t len, sg_host *h);

#endif
