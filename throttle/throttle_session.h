/* throttle_session.h: what throttle does inside one SMTP session (no sockets) */
#ifndef THROTTLE_SESSION_H
#define THROTTLE_SESSION_H

#include <stddef.h>
#include "sdu_addr.h"
#include "sdu_msg.h"
#include "sdu_state.h"
#include "throttle_rules.h"

#define THROTTLE_INFLIGHT 4 /* messages between DATA and their final reply */

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
  sdu_state *st;            /* 0 when the store is unavailable */
  char ckey[THROTTLE_CKEY_MAX]; size_t cklen;

  /* the session */
  char sender[SDU_ADDR_MAX + 1]; size_t senderlen;
  int havemail, bounce, listed;
  struct { char addr[SDU_ADDR_MAX + 1]; size_t len; int ok; } fly[THROTTLE_INFLIGHT];
  unsigned int flyhead, flylen;
  unsigned long rcpts, throttled, blacklisted, bounced, remembered, msgs;
  int storefailed;
} throttle_session;

void throttle_session_init(throttle_session *s);
/* a client command (verb from sdu_smtp_verb, arg after the verb): a reply
   text to refuse it with, or 0 to pass it on */
const char *throttle_session_command(throttle_session *s, int verb, const char *arg,
  size_t len, unsigned long long now);
/* downstream's reply to a command passed on, or to the end of the data */
void throttle_session_reply(throttle_session *s, int verb, int code, unsigned long long now);
/* the session's counters as key=value pairs of the connection's log line */
void throttle_session_log(const throttle_session *s, sdu_log *l);

#endif
