/* spamgrab_local.h: is this a double-bounce that our own qmail-send wrote? */
#ifndef SPAMGRAB_LOCAL_H
#define SPAMGRAB_LOCAL_H

#include <stddef.h>

/* what sg_local found wrong */
enum {
  SG_LOCAL_OK = 0,
  SG_LOCAL_SENDER,     /* envelope sender unknown or not #@[] */
  SG_LOCAL_QUEUE,      /* the first line is not qmail-queue's "invoked for bounce" */
  SG_LOCAL_RECEIVED,   /* another Received field in qmail-send's header */
  SG_LOCAL_BOUNCE      /* the original bounce inside is not our qmail-send's */
};

/* msg as qmail-local hands it to a |program (sender: $SENDER), or as it
   delivers it to a Maildir (qmail-local's Return-Path and Delivered-To lines
   first; sender 0 when $SENDER is unset). A double-bounce of our qmail-send
   when: the envelope sender is #@[] ($SENDER, and qmail-local's Return-Path
   line where there is one; at least one of them); the first line after
   qmail-local's lines is qmail-queue's "Received: (qmail N invoked for
   bounce); DATE", which qmail-queue writes above everything its caller
   sends and only for qmail-send's uid; and no other Received field stands in
   qmail-send's header. Returns SG_LOCAL_OK or what failed; *date: the date
   of qmail-queue's line (not NUL-terminated), when found. */
int sg_local(const char *msg, size_t len, const char *sender, const char **date, size_t *datelen);

/* inner: the original bounce inside a double-bounce (what follows "---
   Below this line is the original bounce."), as qmail-send writes its own:
   "Return-Path: <>", then qmail-queue's "Received: (qmail N invoked for
   bounce); DATE" line, and no other Received field in its header.
   SG_LOCAL_OK, or SG_LOCAL_BOUNCE: a message that came in with MAIL
   FROM:<> (qmail-queue's "invoked from network" line and qmail-smtpd's
   Received line first), whose text a stranger wrote -- a "copy of the
   message" in it naming anyone behind a forged line "by" our host. */
int sg_local_bounce(const char *inner, size_t len);

/* qmail-queue's date ("2 Dec 2026 10:04:30 -0000", date822fmt's form,
   always UTC) into seconds since the epoch: 1, or 0 when it is not that form */
int sg_qmaildate(const char *s, size_t len, unsigned long long *t);

/* the "by" name of the topmost Received line of the original's header h
   ("from ... by NAME"), when it is not one of hosts: 1 and by set (at most
   max - 1 bytes), else 0. Says why no trusted line was found: "0" is
   qmail-smtpd under tcpserver -l0. */
int sg_foreign_by(const char *h, size_t hlen, const char *const *hosts, char *by, size_t max);

/* a short name for a sg_local result, for the log ("sender", "queue", ...) */
const char *sg_local_why(int r);

#endif
