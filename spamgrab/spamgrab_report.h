/* spamgrab_report.h: abuse reports in the Abuse Reporting Format (RFC 5965), with RFC 6650's manners */
#ifndef SPAMGRAB_REPORT_H
#define SPAMGRAB_REPORT_H

#include <stddef.h>
#include <stralloc.h>
#include "spamgrab_parse.h"

enum { SG_R_DIALUP, SG_R_RELAY, SG_R_OPERATOR };

#define SG_USER_AGENT "spamgrab/1.0"

typedef struct sg_report_in {
  int type;
  const char *from;             /* takes replies */
  const char *to;
  const char *list;             /* SG_R_OPERATOR: the operator's list */
  const char *lists;            /* the lists the host is on, comma-separated */
  const char *me;               /* our host, for Message-ID and Reporting-MTA */
  const sg_parsed *p;
  const char *whole;            /* the whole double-bounce (relay, operator) */
  size_t wholelen;
  unsigned long maxsize;        /* attached bytes at most */
  unsigned long long now;
  unsigned long uniq;           /* pid or a counter, for Message-ID and boundary */
} sg_report_in;

/* the whole report message, header and body, LF line ends, into out
   (replacing its contents): 1 ok, 0 no memory */
int sg_report(stralloc *out, const sg_report_in *in);

/* RFC 5322 date of t (UTC) into out (at least 32 bytes) */
void sg_date(char *out, unsigned long long t);

/* the domain part of an address, or "" */
const char *sg_domain(const char *addr);

#endif
