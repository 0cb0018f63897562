/* throttle_rules.h: throttle's limits, client keys and whitelists */
#ifndef THROTTLE_RULES_H
#define THROTTLE_RULES_H

#include <stddef.h>
#include <stralloc.h>
#include "sdu_ip.h"

/* "30/60", "20/10m": count events per window seconds */
typedef struct throttle_rate { unsigned long count, window; } throttle_rate;

/* 1 ok, 0 bad syntax (the count may be 0, the window may not) */
int throttle_rate_parse(throttle_rate *r, const char *s);
/* the whole string a decimal number below 10^9: 1 ok, 0 not */
int throttle_number(const char *s, unsigned long *u);

#define THROTTLE_CKEY_MAX 9 /* '4' + 4 bytes, or '6' + 8 bytes of the /64 */
/* the key a client is counted under: a tag byte, then the v4 address or the
   v6 /64, so that keys of both kinds never collide even when more follows */
size_t throttle_clientkey(char *out, const sdu_ip *ip);

/* IPs and nets, one a line ("192.0.2.0/24", "2001:db8::/32", "192.0.2.7") */
typedef struct throttle_nets { sdu_net *n; unsigned int len, a; } throttle_nets;
/* 1 ok; 0 a bad line, its message in err; -1 system error (errno) */
int throttle_nets_load(throttle_nets *w, const char *file, stralloc *err);
int throttle_nets_match(const throttle_nets *w, const sdu_ip *ip);
void throttle_nets_free(throttle_nets *w);

/* recipient addresses ("joe@example.net") or whole domains ("@example.net"),
   one a line, compared without regard to case; kept as "\0"-ended strings */
typedef struct throttle_addrs { stralloc all; } throttle_addrs;
int throttle_addrs_load(throttle_addrs *w, const char *file, stralloc *err);
/* add one entry (for tests and the loader): 1 ok, 0 no memory */
int throttle_addrs_add(throttle_addrs *w, const char *addr, size_t len);
int throttle_addrs_match(const throttle_addrs *w, const char *addr, size_t len);
void throttle_addrs_free(throttle_addrs *w);

/* RBLCHECK_LISTS ("dul orbs") as one log value ("dul,orbs"), cut to fit */
void throttle_lists(char *out, size_t max, const char *env);

#endif
