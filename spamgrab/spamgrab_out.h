/* spamgrab_out.h: reports out: to the injector (qmail-inject, sendmail -t) and to the review Maildir */
#ifndef SPAMGRAB_OUT_H
#define SPAMGRAB_OUT_H

#include <stddef.h>
#include <stralloc.h>

/* run argv[0] (no shell) with argv, "-a -f from rcpt" appended (qmail-inject),
   or "-t -i -f from" when sendmail (recipients from To:), msg on its stdin;
   0 when it exited 0, -1 otherwise with the reason in err */
int sg_send(const char *const *argv, int sendmail, const char *from, const char *rcpt,
  const char *msg, size_t len, stralloc *err);

/* a Maildir file written completely under dir/tmp, to be moved to dir/new:
   0 ok with tmpname and newname set, -1 (reason in err, nothing left) */
int sg_maildir_write(const char *dir, const char *msg, size_t len, unsigned long long now,
  unsigned int seq, stralloc *tmpname, stralloc *newname, stralloc *err);
/* move it to new/: 0 ok, -1 */
int sg_maildir_commit(const stralloc *tmpname, const stralloc *newname, stralloc *err);

/* an address good to put on a command line and in a To: field: a
   canonical path that does not start with '-' */
int sg_addr_ok(const char *addr);

#endif
