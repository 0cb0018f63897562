/* rcptcheck_table.h: the recipient table (a validrcptto.cdb superset): key scheme and lookups */
#ifndef RCPTCHECK_TABLE_H
#define RCPTCHECK_TABLE_H

#include <stddef.h>
#include <stralloc.h>
#include "sdu_cdb.h"

/* Keys, all lower case:
     local@domain   the address; data "" (or any text not starting with '-')
                    accepts, data "-text" refuses with text
     @domain        the catch-all of the domain, same data rules
     @@domain       marker: the domain is covered (written by rcptcheck-build)
     @@             marker: the table carries domain markers; its absence
                    means a plain validrcptto.cdb
     @@[me]         the name that an address literal of this host stands
                    for (qmail-smtpd's control/localiphost, else control/me)
   A reader of validrcptto.cdb never asks for a key starting with "@@". */
#define RC_MARK "@@"
#define RC_MARK_VALUE "rcptcheck-build 1"
#define RC_ME RC_MARK "[me]"

enum { RC_UNKNOWN, RC_VALID, RC_REFUSED };
enum { RC_HOW_NONE, RC_HOW_EXACT, RC_HOW_DEFAULT, RC_HOW_CATCHALL };

typedef struct rc_table {
  sdu_cdb db;
  int open;      /* 0: no table (missing or unreadable) */
  int marked;    /* the table has domain markers */
  char **domains; size_t ndomains; /* covered domains of an unmarked table */
  int alldomains; /* unmarked table without a domain list: every domain */
  stralloc key, val;
} rc_table;

void rc_table_init(rc_table *t);
/* 0 ok; -1 with errno (the table stays closed) */
int rc_table_open(rc_table *t, const char *file);
/* covered domains for a table without markers, one per line ("#" comments);
   0 ok, -1 with errno; without a list every domain is covered */
int rc_table_domains(rc_table *t, const char *file);
void rc_table_close(rc_table *t);

/* domain: lower case. 1 covered, 0 not, -1 temporary failure */
int rc_table_covered(rc_table *t, const char *dom, size_t len);
/* the data of one key: 1 hit (val set), 0 miss, -1 temporary failure */
int rc_table_get(rc_table *t, const char *key, size_t len, stralloc *val);
/* addr lower case local@domain, at = index of '@'. Tries the exact address,
   then qmail's -default loop (a-b-c: a-b-default, a-default), then @domain.
   RC_VALID / RC_REFUSED (text in val, without the '-') / RC_UNKNOWN,
   -1 temporary failure. *how says which key answered. nocatchall: stop
   before @domain. */
int rc_table_lookup(rc_table *t, const char *addr, size_t len, size_t at,
  int nocatchall, stralloc *val, int *how);

#endif
