/* rcptcheck_qmail.h: what a qmail installation delivers, read from its configuration */
#ifndef RCPTCHECK_QMAIL_H
#define RCPTCHECK_QMAIL_H

#include "rcptcheck_build.h"

/* Adds to b every address qmail under root would deliver, for every domain
   of control/locals (or control/me) and control/virtualdomains that
   control/rcpthosts (and morercpthosts.cdb) accepts, and marks those
   domains covered. Users come from users/assign (or users/cdb), then the
   passwd file (the fallback of qmail-getpw; "" for none), then the alias
   user (root/alias); extensions from each home's .qmail-* files with
   qmail-local's -default loop. Skipped entries are reported on fd 2.
   0 ok, -1 with errno (a file that exists but cannot be read, no memory,
   write error). */
int rc_qmail_build(rc_build *b, const char *root, const char *passwd);

#endif
