/* rcptcheck_build.h: writing the recipient table atomically, and its plain-list input */
#ifndef RCPTCHECK_BUILD_H
#define RCPTCHECK_BUILD_H

#include <stddef.h>
#include <stralloc.h>
#include <cdb_make.h>

#define RC_LINE_MAX 4096  /* a list line, without its end */
#define RC_TEXT_MAX 400   /* the text of a refusal */

/* a set of strings (domains covered; keys already written) */
typedef struct rc_set { char **slot; size_t n, size; } rc_set;
/* 1 added, 0 was there, -1 no memory */
int rc_set_add(rc_set *set, const char *s, size_t len);
int rc_set_has(const rc_set *set, const char *s, size_t len);
void rc_set_free(rc_set *set);

typedef struct rc_build {
  struct cdb_make cm;
  int fd;
  const char *file;
  stralloc tmp;       /* the temp name, 0-terminated */
  int dedupe;         /* keep only the first record of a key */
  rc_set keys, domains;
  unsigned long records;
  unsigned long total;     /* records in the file, the check record included */
  unsigned long bytes;     /* bytes of the records after the check record */
  unsigned long last;      /* offset of the last record */
  unsigned long long sum;  /* FNV-1a 64 of those bytes */
  stralloc me;        /* the name of this host's address literals, or empty */
  stralloc work;
} rc_build;

/* opens FILE.tmp.PID for writing: 0 ok, -1 with errno */
int rc_build_start(rc_build *b, const char *file, int dedupe);
/* one record; the first record of a key is the one readers see.
   0 ok, -1 with errno (write error, ENOMEM) */
int rc_build_add(rc_build *b, const char *key, size_t klen, const char *val, size_t vlen);
/* the domain is covered (a marker key); 0 ok, -1 no memory */
int rc_build_cover(rc_build *b, const char *dom, size_t len);
/* the name that an address literal of this host stands for (the @@[me]
   record); a later call replaces it. 0 ok, 1 not a domain (*why), -1 no memory */
int rc_build_me(rc_build *b, const char *name, size_t len, const char **why);
/* markers, then the table is complete: fsync, rename over FILE. 0 ok, -1 with errno */
int rc_build_finish(rc_build *b);
/* removes the temp file */
void rc_build_abort(rc_build *b);

/* One line of a plain list, without its end:
     local@domain [-text]   an address, or one refused with text
     @domain [-text]        the catch-all of a domain, or a refusal for the rest of it
     domain                 the domain is covered, with no catch-all
   blank lines and lines starting with '#' are skipped, as is '#' after
   the address. 0 added or skipped; 1 bad line (*why says why); -1 with
   errno (write error, no memory). */
int rc_build_line(rc_build *b, const char *line, size_t len, const char **why);

/* A whole list from fd; bad lines are reported on fd 2 as "name line N: why"
   and counted in *bad. 0 read to the end, -1 read or write error (errno). */
int rc_build_list(rc_build *b, int fd, const char *name, unsigned long *bad);

/* the canonical lower-case address of a list entry (local@domain, or
   @domain when local is 0): 0 ok, 1 bad (*why) */
int rc_build_canon(stralloc *out, const char *local, size_t llen, const char *dom, size_t dlen, const char **why);

#endif
