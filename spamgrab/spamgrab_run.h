/* spamgrab_run.h: what spamgrab does with one message: decide, report, remember */
#ifndef SPAMGRAB_RUN_H
#define SPAMGRAB_RUN_H

#include <stddef.h>
#include "spamgrab_conf.h"

#define SG_EXIT_DONE 99  /* qmail-local: handled, read no further .qmail lines */
#define SG_EXIT_PASS 0   /* not ours: the next .qmail line delivers it */

/* a double-bounce (manual: the spam itself, reported as relay spam whatever
   the rules say); dry: print the decision and the reports on fd 1, change
   nothing. One log line on fd 2. Returns the exit code: 99, 0, 111 (manual:
   0 done, 100 no trusted Received line, 111). */
int sg_run(const sg_conf *c, const char *msg, size_t len, int manual, int dry);

/* send a report from the review Maildir to its To: address: 0, 100 (not a
   spamgrab report), 111 */
int sg_resend(const sg_conf *c, const char *msg, size_t len, int dry);

/* print the known IPv4 hosts as an rbldnsd ip4set zone on fd 1 (v6: the
   IPv6 hosts as an ip6trie zone): 0 or 111 */
int sg_print_zone(const sg_conf *c, int v6);

#endif
