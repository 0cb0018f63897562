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
     @@[check]      the check record, the first record of the file (written
                    by rcptcheck-build): RC_CHECK_FMT, the number of records
                    in the file, the bytes of the records after this one,
                    the offset of the last record ("@@") and the FNV-1a 64
                    sum of those bytes
   A reader of validrcptto.cdb never asks for a key starting with "@@". */
#define RC_MARK "@@"
#define RC_MARK_VALUE "rcptcheck-build 1"
#define RC_ME RC_MARK "[me]"
#define RC_CHECK RC_MARK "[check]"
#define RC_CHECK_HEAD "rcptcheck-build 2 records="
/* RC_CHECK_HEAD, then 10 digits, " bytes=" 10 digits, " last=" 10 digits,
   " sum=" 16 hex digits: a fixed length, written before the records and
   filled in when they are all written */
#define RC_CHECK_LEN (sizeof RC_CHECK_HEAD - 1 + 10 + 7 + 10 + 6 + 10 + 5 + 16)
#define RC_FNV_START 14695981039346656037ULL
#define RC_FNV_PRIME 1099511628211ULL

enum { RC_UNKNOWN, RC_VALID, RC_REFUSED };
enum { RC_HOW_NONE, RC_HOW_EXACT, RC_HOW_DEFAULT, RC_HOW_CATCHALL };

typedef struct rc_table {
  sdu_cdb db;
  int open;      /* 0: no table (missing or unreadable) */
  const char *why; /* after a failed open: why the table is damaged, or 0 */
  int checked;   /* the table has a check record, and it agrees */
  unsigned long nrec; /* records, as the hash tables count them */
  unsigned long recend, firstend; /* end of the records; end of the first one */
  unsigned long long sum; /* the check record's sum */
  int marked;    /* the table has domain markers */
  char **domains; size_t ndomains; /* covered domains of an unmarked table */
  int alldomains; /* unmarked table without a domain list: every domain */
  stralloc key, val;
} rc_table;

void rc_table_init(rc_table *t);
/* Opens the table and checks it cheaply (the header, the first record, and
   for a table with a check record the record's count and lengths against
   the header and the last record): 0 ok; -1 with errno, the table stays
   closed; errno EPROTO and t->why set when the table is damaged. */
int rc_table_open(rc_table *t, const char *file);
/* The whole table, after rc_table_open: every record lies inside the
   records and is found by its key, their number is the header's, and with a
   check record the sum agrees. 0 sound, 1 damaged (t->why), -1 read failure. */
int rc_table_verify(rc_table *t);
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
