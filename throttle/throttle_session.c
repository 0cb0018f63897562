/* throttle_session.c: what throttle does inside one SMTP session (no sockets) */
#include <string.h>
#include "sdu_smtp.h"
#include "throttle_store.h"
#include "throttle_session.h"

#define T_THROTTLE "451 4.7.1 too many recipients in this connection: send the others later"
#define T_BLACKLIST "550 5.7.1 a message from this sender was refused from your address a short while ago: not accepted again for now"
#define T_BOUNCE "550 5.7.1 this address gets too many bounces: it is not accepting bounces for a while"

void throttle_session_init(throttle_session *s)
{
  memset(s, 0, sizeof *s);
}

static void storefail(throttle_session *s)
{
  if (!s->storefailed) sdu_warn("state store failed, passing on: ", sdu_state_error(s->st));
  s->storefailed = 1;
  s->st = 0;
}

/* refuse, or in harvest mode only count */
static const char *refuse(throttle_session *s, unsigned long *counter, const char *text)
{
  ++*counter;
  if (s->harvest) return 0;
  return text;
}

const char *throttle_session_command(throttle_session *s, int verb, const char *arg,
  size_t len, unsigned long long now)
{
  sdu_path p;
  int r;
  switch (verb) {
    case SDU_V_MAIL:
      s->havemail = 0; s->bounce = 0; s->listed = 0; s->senderlen = 0;
      if (sdu_smtp_path(arg, len, 1, &p)) return 0; /* downstream says why */
      s->havemail = 1;
      s->bounce = p.null;
      memcpy(s->sender, p.addr, p.len + 1);
      s->senderlen = p.len;
      sdu_addr_lower(s->sender, s->senderlen);
      if (s->blacklist && !p.null && s->st) {
        r = throttle_bl_check(s->st, s->ckey, s->cklen, s->sender, s->senderlen, now);
        if (r == -1) storefail(s);
        else s->listed = r;
      }
      return 0;
    case SDU_V_RSET: case SDU_V_HELO: case SDU_V_EHLO:
      s->havemail = 0; s->bounce = 0; s->listed = 0;
      return 0;
    case SDU_V_RCPT:
      if (!s->havemail) return 0;
      if (s->listed) {
        const char *t = refuse(s, &s->blacklisted, T_BLACKLIST);
        if (t) return t;
      }
      if (s->bounces && s->bounce && s->st) {
        if (sdu_smtp_path(arg, len, 0, &p)) return 0;
        sdu_addr_lower(p.addr, p.len);
        if (!s->rcptwhite || !throttle_addrs_match(s->rcptwhite, p.addr, p.len)) {
          r = throttle_bounce(s->st, p.addr, p.len, now, &s->bouncerate, s->bouncehold);
          if (r == -1) storefail(s);
          else if (r == 1) {
            const char *t = refuse(s, &s->bounced, T_BOUNCE);
            if (t) return t;
          }
        }
      }
      if (s->rcptlimit && s->rcpts >= s->rcptmax) {
        const char *t = refuse(s, &s->throttled, T_THROTTLE);
        if (t) return t;
      }
      ++s->rcpts;
      return 0;
    case SDU_V_DATA:
      if (s->flylen < THROTTLE_INFLIGHT) {
        unsigned int i = (s->flyhead + s->flylen++) % THROTTLE_INFLIGHT;
        s->fly[i].ok = s->havemail && !s->bounce;
        memcpy(s->fly[i].addr, s->sender, s->senderlen + 1);
        s->fly[i].len = s->senderlen;
      }
      return 0;
  }
  return 0;
}

static void pop(throttle_session *s)
{
  if (!s->flylen) return;
  s->flyhead = (s->flyhead + 1) % THROTTLE_INFLIGHT;
  --s->flylen;
}

void throttle_session_reply(throttle_session *s, int verb, int code, unsigned long long now)
{
  if (verb == SDU_V_DATA && code != 354) pop(s);
  if (verb != SDU_V_DOT || !s->flylen) return;
  if (code >= 200 && code < 300) ++s->msgs;
  if (code >= 500 && code < 600 && s->blacklist && s->st && s->fly[s->flyhead].ok) {
    if (throttle_bl_add(s->st, s->ckey, s->cklen, s->fly[s->flyhead].addr,
          s->fly[s->flyhead].len, now + s->blhold) == -1)
      storefail(s);
    else
      ++s->remembered;
  }
  pop(s);
}

void throttle_session_log(const throttle_session *s, sdu_log *l)
{
  sdu_log_kvu(l, "rcpts", s->rcpts);
  if (s->throttled) sdu_log_kvu(l, "throttled", s->throttled);
  if (s->blacklisted) sdu_log_kvu(l, "blacklisted", s->blacklisted);
  if (s->bounced) sdu_log_kvu(l, "bounced", s->bounced);
  if (s->remembered) sdu_log_kvu(l, "remembered", s->remembered);
  sdu_log_kvu(l, "msgs", s->msgs);
  if (s->storefailed) sdu_log_kv(l, "state", "failed");
}
