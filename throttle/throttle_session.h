/* throttle_session.h: what throttle does inside one SMTP session (no sockets) */
#ifndef THROTTLE_SESSION_H
#define THROTTLE_SESSION_H

#include <stddef.h>
#include "sdu_addr.h"
#include "sdu_msg.h"
#include "sdu_state.h"
#include "throttle_rules.h"
#include "throttle_store.h"

/* throttle follows the transaction as downstream sees it: by the replies,
   not by the commands. A command passed on waits in a queue until its
   reply; a RCPT whose fate depends on replies not yet in waits for them
   (SDU_WAIT): the proxy holds it back and asks again. */
#define THROTTLE_PENDMAX 64 /* commands passed on and not yet answered */
#define THROTTLE_MAILMAX 2  /* MAIL commands among them */

/* a transaction as downstream sees it, or as a MAIL would start it */
typedef struct throttle_tx {
  int open;    /* MAIL was accepted; no DATA, RSET, HELO or EHLO since */
  int bounce;  /* the sender is <> */
  int listed;  /* (client, sender) is on the blacklist */
  int greycounted; /* a triplet of it passed greylisting and was counted */
  /* the sender's key (throttle_sender_key), lower case: the sender, or for
     one longer than SDU_ADDR_MAX its first bytes and the hash of it all, so
     that two alike in their first bytes are two senders to the blacklist
     and to greylisting; senderlen > SDU_ADDR_MAX tells such a key */
  char sender[THROTTLE_SENDER_KEY + 1]; size_t senderlen;
} throttle_tx;

typedef struct throttle_session {
  /* set by the caller before the session */
  int rcptlimit;            /* the recipient throttle is on ... */
  unsigned long rcptmax;    /* ... with this many recipients per connection */
  int blacklist;            /* the (client, sender) blacklist is on for this client */
  unsigned long blhold;     /* seconds a refused pair is remembered */
  int bounces;              /* the bounce-storm limit is on */
  throttle_rate bouncerate; /* more than count bounces in window seconds ... */
  unsigned long bouncehold; /* ... hold further bounces for this long */
  const throttle_addrs *rcptwhite; /* always get their bounces (may be 0) */
  int harvest;              /* refuse nothing, count what would have been */
  int greylist;             /* greylist this client's recipients ... */
  throttle_grey grey;       /* ... with these times */
  const throttle_addrs *greysenders; /* never greylisted (may be 0) */
  char gnet[THROTTLE_GREY_NET_MAX]; size_t gnlen; /* the client's network */
  /* called with each greylisting decision (may be 0) */
  void (*greylog)(void *ctx, int decision, int refused, const char *hex);
  void *greyctx;
  sdu_state *st;            /* 0 when the store is unavailable */
  char ckey[THROTTLE_CKEY_MAX]; size_t cklen;

  /* the session */
  throttle_tx tx;           /* the transaction, as far as replies tell */
  throttle_tx msg;          /* the one whose data downstream is reading */
  int inmsg;                /* between DATA's 354 and the reply to the data */
  throttle_tx mail[THROTTLE_MAILMAX]; /* what MAILs in flight would start */
  unsigned int mailhead, maillen;
  struct { int verb; int counted; } pend[THROTTLE_PENDMAX]; /* in flight, in order */
  unsigned int pendhead, pendlen;
  unsigned long rcptfly;    /* counted RCPTs in flight */
  unsigned long rcpts;      /* recipients accepted (in harvest mode: that
                               would have been passed on and were accepted) */
  unsigned long greylisted, greypassed; /* recipients refused and passed by greylisting */
  unsigned long throttled, blacklisted, bounced, remembered, msgs;
  int storefailed;
} throttle_session;

void throttle_session_init(throttle_session *s);
/* a client command (verb from sdu_smtp_verb, arg after the verb): SDU_PASS,
   SDU_ANSWER with *refusal set, or SDU_WAIT (ask again with the same
   command when the replies in flight are in; never with nothing in flight) */
int throttle_session_command(throttle_session *s, int verb, const char *arg,
  size_t len, unsigned long long now, const char **refusal);
/* the reply (code, whole text) to a command passed on, from downstream or a
   later link, or downstream's reply to the end of the data */
void throttle_session_reply(throttle_session *s, int verb, int code,
  const char *text, size_t len, unsigned long long now);
/* 1 if a reply to the end of the data refuses the content, so that the
   blacklist remembers the pair: a 5xx other than 552, without an enhanced
   status code (RFC 3463; also qmail's "(#5.3.4)") of a size or storage
   limit: X.2.2, X.2.3, X.3.1, X.3.4 */
/* 1 if greylisting leaves the recipient (lower case) alone: postmaster and
   abuse, at any domain (RFC 5321 4.5.1, RFC 2142) */
int throttle_grey_exempt(const char *rcpt, size_t len);
int throttle_refuses_content(int code, const char *text, size_t len);
/* the session's counters as key=value pairs of the connection's log line */
void throttle_session_log(const throttle_session *s, sdu_log *l);

#endif
