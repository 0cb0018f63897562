/* throttle_session.c: what throttle does inside one SMTP session (no sockets) */
#include <string.h>
#include "sdu_smtp.h"
#include "sdu_time.h"
#include "throttle_store.h"
#include "throttle_session.h"

#define T_THROTTLE "451 4.7.1 too many recipients in this connection: send the others later"
#define T_BLACKLIST "550 5.7.1 a message from this sender was refused from your address a short while ago: not accepted again for now"
#define T_GREY "451 4.7.1 greylisted: please try again later"
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

/* The sender as qmail-smtpd takes it from a MAIL that is not RFC 5321's
   (MAIL FROM:a@b.example): from '<' to '>', or without '<' the word after
   the colon; a source route, quotes and backslashes dropped; cut to max
   bytes. "" is the null sender, as for qmail. */
static size_t looseaddr(const char *arg, size_t len, char *out, size_t max)
{
  const char *lt = memchr(arg, '<', len);
  size_t i, o = 0;
  char term = '>';
  int esc = 0, quoted = 0;
  if (lt) i = (size_t) (lt - arg) + 1;
  else {
    const char *colon = memchr(arg, ':', len);
    term = ' ';
    i = colon ? (size_t) (colon - arg) + 1 : len;
    while (i < len && arg[i] == ' ') ++i;
  }
  if (i < len && arg[i] == '@')
    while (i < len) if (arg[i++] == ':') break;
  for (; i < len; ++i) {
    char c = arg[i];
    if (esc) esc = 0;
    else {
      if (!quoted && c == term) break;
      if (c == '\\') { esc = 1; continue; }
      if (c == '"') { quoted = !quoted; continue; }
    }
    if (o < max) out[o++] = c;
  }
  out[o] = 0;
  return o;
}

/* what the MAIL would start if downstream takes it */
static void mailtx(throttle_session *s, throttle_tx *t, const char *arg, size_t len,
  unsigned long long now)
{
  sdu_path p;
  int r;
  t->open = 1;
  t->listed = 0;
  t->greycounted = 0;
  if (!sdu_smtp_path(arg, len, 1, &p)) {
    memcpy(t->sender, p.addr, p.len + 1);
    t->senderlen = p.len;
    t->bounce = p.null;
    sdu_addr_lower(t->sender, t->senderlen);
  } else {
    /* downstream may take what we cannot parse: count it all the same, and
       remember it under the address downstream would take, whole (no
       command line is longer than the buffer): one longer than
       SDU_ADDR_MAX by its key, with the hash of it all */
    char whole[SDU_SMTP_LINE_MAX];
    size_t n = looseaddr(arg, len, whole, sizeof whole - 1);
    sdu_addr_lower(whole, n);
    t->senderlen = throttle_sender_key(t->sender, whole, n);
    t->sender[t->senderlen] = 0;
    t->bounce = !n;
  }
  if (s->blacklist && !t->bounce && s->st) {
    r = throttle_bl_check(s->st, s->ckey, s->cklen, t->sender, t->senderlen, now);
    if (r == -1) storefail(s);
    else t->listed = r;
  }
}

static void push(throttle_session *s, int verb, int counted)
{
  unsigned int i = (s->pendhead + s->pendlen++) % THROTTLE_PENDMAX;
  s->pend[i].verb = verb;
  s->pend[i].counted = counted;
}

int throttle_grey_exempt(const char *rcpt, size_t len)
{
  const char *at = memchr(rcpt, '@', len);
  size_t l = at ? (size_t) (at - rcpt) : len;
  return (l == 10 && !memcmp(rcpt, "postmaster", 10)) || (l == 5 && !memcmp(rcpt, "abuse", 5));
}

/* greylist the recipient of transaction t: 1 refuse it, 0 pass it */
static int greylist(throttle_session *s, throttle_tx *t, const char *arg, size_t len,
  unsigned long long now)
{
  char rcpt[SDU_ADDR_MAX + 1], hex[2 * THROTTLE_GREY_HASH + 1];
  unsigned char hash[THROTTLE_GREY_HASH];
  size_t rlen;
  sdu_path p;
  int d;
  if (!sdu_smtp_path(arg, len, 0, &p)) { memcpy(rcpt, p.addr, p.len + 1); rlen = p.len; }
  else rlen = looseaddr(arg, len, rcpt, SDU_ADDR_MAX);
  sdu_addr_lower(rcpt, rlen);
  if (throttle_grey_exempt(rcpt, rlen)) return 0;
  /* a sender longer than SDU_ADDR_MAX is in no list: its key ends in a
     hash, and its first bytes, which may end in a listed domain, are not
     its domain */
  if (!t->bounce && s->greysenders && t->senderlen <= SDU_ADDR_MAX
      && throttle_addrs_match(s->greysenders, t->sender, t->senderlen)) return 0;
  /* a bounce is keyed without the sender: its sender is "" */
  throttle_grey_triplet(hash, s->gnet, s->gnlen, t->sender, t->bounce ? 0 : t->senderlen, rcpt, rlen);
  throttle_grey_hex(hex, hash);
  /* the network's count goes up once per transaction that passes; it lives D days since */
  d = throttle_grey_decide(s->st, &s->grey, s->gnet, s->gnlen, hash, !t->greycounted, now);
  if (d == -1) { storefail(s); return 0; }
  if (!THROTTLE_GREY_REFUSES(d)) t->greycounted = 1;
  if (!THROTTLE_GREY_REFUSES(d)) ++s->greypassed;
  if (s->greylog) s->greylog(s->greyctx, d, THROTTLE_GREY_REFUSES(d) && !s->harvest, hex);
  return THROTTLE_GREY_REFUSES(d);
}

static int rcpt(throttle_session *s, const char *arg, size_t len, unsigned long long now,
  const char **refusal)
{
  int mayopen = 0, maylisted = 0, mayclean = 0, maybounce = 0, maysender = 0;
  int bl, bn, counted = 1, grey, greysame = 1;
  unsigned int i;
  throttle_tx *gt = 0;
  sdu_path p;

  /* the transaction this RCPT joins: the one the replies tell of, or one
     that a MAIL in flight starts (RSET in flight may fail too) */
  for (i = 0; i <= s->maillen; ++i) {
    throttle_tx *t = i ? &s->mail[(s->mailhead + i - 1) % THROTTLE_MAILMAX] : &s->tx;
    if (!t->open) continue;
    mayopen = 1;
    /* greylisting needs the sender: the same in every transaction it may join */
    if (gt && (gt->senderlen != t->senderlen || memcmp(gt->sender, t->sender, t->senderlen))) greysame = 0;
    gt = t;
    if (t->listed) maylisted = 1; else mayclean = 1;
    if (t->bounce) maybounce = 1; else maysender = 1;
  }
  if (!mayopen) { push(s, SDU_V_RCPT, 1); ++s->rcptfly; return SDU_PASS; } /* downstream answers 503 */
  bl = s->blacklist && maylisted;
  bn = s->bounces && s->st && maybounce;
  /* not yet decidable: the replies in flight will tell (there are some:
     two possible transactions need a MAIL in flight, rcptfly its RCPTs) */
  grey = s->greylist && s->st;
  if ((bl && mayclean) || (bn && maysender) || (grey && !greysame)) return SDU_WAIT;
  if (s->rcptlimit && s->rcpts + s->rcptfly >= s->rcptmax && s->rcptfly) return SDU_WAIT;

  if (bl) {
    ++s->blacklisted;
    if (!s->harvest) { *refusal = T_BLACKLIST; return SDU_ANSWER; }
    counted = 0;
  }
  if (bn && !sdu_smtp_path(arg, len, 0, &p)) {
    sdu_addr_lower(p.addr, p.len);
    if (!s->rcptwhite || !throttle_addrs_match(s->rcptwhite, p.addr, p.len)) {
      int r = throttle_bounce(s->st, p.addr, p.len, now, &s->bouncerate, s->bouncehold);
      if (r == -1) storefail(s);
      else if (r == 1) {
        ++s->bounced;
        if (!s->harvest) { *refusal = T_BOUNCE; return SDU_ANSWER; }
        counted = 0;
      }
    }
  }
  if (grey) {
    int r = greylist(s, gt, arg, len, now);
    if (r == 1) {
      ++s->greylisted;
      if (!s->harvest) { *refusal = T_GREY; return SDU_ANSWER; }
      counted = 0;
    }
  }
  if (s->rcptlimit && s->rcpts + s->rcptfly >= s->rcptmax) {
    ++s->throttled;
    if (!s->harvest) { *refusal = T_THROTTLE; return SDU_ANSWER; }
    counted = 0;
  }
  push(s, SDU_V_RCPT, counted);
  if (counted) ++s->rcptfly;
  return SDU_PASS;
}

int throttle_session_command(throttle_session *s, int verb, const char *arg,
  size_t len, unsigned long long now, const char **refusal)
{
  *refusal = 0;
  if (s->pendlen == THROTTLE_PENDMAX) return SDU_WAIT;
  switch (verb) {
    case SDU_V_MAIL:
      if (s->maillen == THROTTLE_MAILMAX) return SDU_WAIT;
      mailtx(s, &s->mail[(s->mailhead + s->maillen) % THROTTLE_MAILMAX], arg, len, now);
      ++s->maillen;
      break;
    case SDU_V_RCPT:
      return rcpt(s, arg, len, now, refusal);
  }
  push(s, verb, 0);
  return SDU_PASS;
}

void throttle_session_reply(throttle_session *s, int verb, int code,
  const char *text, size_t len, unsigned long long now)
{
  int ok = code >= 200 && code < 300, counted;
  if (verb == SDU_V_DOT) {
    if (!s->inmsg) return;
    s->inmsg = 0;
    if (ok) ++s->msgs;
    else if (s->blacklist && s->st && s->msg.open && !s->msg.bounce
             && throttle_refuses_content(code, text, len)) {
      /* a hold past the end of time (-b of ULONG_MAX seconds) is for ever, not expired at once */
      if (throttle_bl_add(s->st, s->ckey, s->cklen, s->msg.sender, s->msg.senderlen, sdu_later(now, s->blhold)) == -1)
        storefail(s);
      else
        ++s->remembered;
    }
    return;
  }
  /* the greeting and the lines of an AUTH exchange are none of ours */
  if (!s->pendlen || s->pend[s->pendhead].verb != verb) return;
  counted = s->pend[s->pendhead].counted;
  s->pendhead = (s->pendhead + 1) % THROTTLE_PENDMAX;
  --s->pendlen;
  switch (verb) {
    case SDU_V_MAIL:
      if (ok) s->tx = s->mail[s->mailhead];
      s->mailhead = (s->mailhead + 1) % THROTTLE_MAILMAX;
      --s->maillen;
      break;
    case SDU_V_RSET: case SDU_V_HELO: case SDU_V_EHLO:
      if (ok) s->tx.open = 0;
      break;
    case SDU_V_RCPT:
      if (counted) { --s->rcptfly; if (ok) ++s->rcpts; }
      break;
    case SDU_V_DATA:
      if (code == 354) { s->msg = s->tx; s->inmsg = 1; s->tx.open = 0; }
      break;
  }
}

/* an enhanced status code "c.s.d" at s (RFC 3463: 1 digit, 1-3, 1-3): its
   length, or 0 */
static size_t enhanced(const char *s, size_t len, unsigned *subject, unsigned *detail)
{
  unsigned v[3];
  size_t i = 0, n;
  int k;
  for (k = 0; k < 3; ++k) {
    for (v[k] = 0, n = 0; i < len && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
      if (n == 3) return 0;
      v[k] = v[k] * 10 + (unsigned) (s[i] - '0');
    }
    if (!n || (k == 0 && n != 1)) return 0;
    if (k < 2) { if (i >= len || s[i] != '.') return 0; ++i; }
  }
  *subject = v[1];
  *detail = v[2];
  return i;
}

int throttle_refuses_content(int code, const char *text, size_t len)
{
  const char *nl = memchr(text, '\n', len);
  unsigned subject, detail;
  size_t i;
  int have = 0;
  if (code < 500 || code > 599 || code == 552) return 0;
  if (nl) len = (size_t) (nl - text);   /* the first line says it */
  if (len >= 4 && (text[3] == ' ' || text[3] == '-'))
    have = enhanced(text + 4, len - 4, &subject, &detail) > 0;
  for (i = 0; !have && i + 2 < len; ++i)
    if (text[i] == '(' && text[i + 1] == '#') {
      size_t n = enhanced(text + i + 2, len - i - 2, &subject, &detail);
      have = n && i + 2 + n < len && text[i + 2 + n] == ')';
    }
  if (!have) return 1;
  /* mailbox full, message too long, mail system full, message too big */
  if ((subject == 2 && (detail == 2 || detail == 3)) || (subject == 3 && (detail == 1 || detail == 4)))
    return 0;
  return 1;
}

void throttle_session_log(const throttle_session *s, sdu_log *l)
{
  sdu_log_kvu(l, "rcpts", s->rcpts);
  if (s->greylisted) sdu_log_kvu(l, "greylisted", s->greylisted);
  if (s->greypassed) sdu_log_kvu(l, "greypassed", s->greypassed);
  if (s->throttled) sdu_log_kvu(l, "throttled", s->throttled);
  if (s->blacklisted) sdu_log_kvu(l, "blacklisted", s->blacklisted);
  if (s->bounced) sdu_log_kvu(l, "bounced", s->bounced);
  if (s->remembered) sdu_log_kvu(l, "remembered", s->remembered);
  sdu_log_kvu(l, "msgs", s->msgs);
  if (s->storefailed) sdu_log_kv(l, "state", "failed");
}
