/* spamgrab_tag.h: rblcheck's tag believed only with the site key's MAC and a date near our Received line's */
#ifndef SPAMGRAB_TAG_H
#define SPAMGRAB_TAG_H

#include "sdu_tag.h"
#include "spamgrab_parse.h"

/* seconds the tag's date= may lie before or after the date of the Received
   line below which it stands: rblcheck writes it when the client connects,
   qmail-smtpd its line when the message ends, on the same host */
#define SG_TAG_WINDOW 3600

/* a date as Received and Date fields write it (RFC 5322, with or without
   the day name: "2 Dec 2026 11:25:19 -0000", "Wed, 02 Dec 2026 11:25:19
   +0100"; obsolete zone names count as their offsets, unknown ones as
   -0000) into seconds since the epoch: 1, or 0 when s is not one */
int sg_date_parse(const char *s, unsigned long long *t);
/* rblcheck's date= ("2026-12-02T11:25:19Z"): 1, or 0 */
int sg_tag_date(const char *s, size_t len, unsigned long long *t);

/* the found tag (c->tag) judged: without keys (k 0 or empty) it stands as
   sg_client_find left it; with keys it must carry a MAC one of them gives
   and a date within SG_TAG_WINDOW of c->date, else it counts as untrusted.
   Sets c->tagstate. 0, or -1 when the crypto library failed to start. */
int sg_tag_check(sg_client *c, const sdu_tagkeys *k);

#endif
