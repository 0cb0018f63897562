/* rcptcheck_ipme.h: is an address literal one of this host's own addresses (qmail's ipme) */
#ifndef RCPTCHECK_IPME_H
#define RCPTCHECK_IPME_H

#include <stddef.h>
#include "sdu_ip.h"

/* The host's addresses, as qmail-smtpd's ipme: 0.0.0.0 (and ::), the
   address the client reached (TCPLOCALIP), and those of the interfaces
   that are up, read once, at the first literal that is none of the others. */
typedef struct rc_ipme {
  sdu_ip local; int havelocal; /* TCPLOCALIP */
  sdu_ip *ifs; size_t n;       /* the interfaces' addresses */
  int loaded;                  /* ifs read (or set by a test) */
} rc_ipme;

/* the domain of an address, lower case: 1 an address literal ("[192.0.2.1]",
   "[ipv6:2001:db8::1]"; v4-mapped v6 is v4; leading zeros in a dotted quad
   are decimal, as qmail's ip_scan reads them), *ip set; 0 anything else */
int rc_literal_ip(const char *dom, size_t len, sdu_ip *ip);
/* 1 ours, 0 not, -1 the interfaces cannot be read (errno) */
int rc_ipme_is(rc_ipme *m, const sdu_ip *ip);
void rc_ipme_free(rc_ipme *m);

#endif
