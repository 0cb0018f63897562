/* rcptcheck_session.c: what rcptcheck answers to MAIL and RCPT, and the counts of counted addresses */
#include <stdlib.h>
#include <string.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "rcptcheck_expire.h"
#include "rcptcheck_session.h"

#define HEADER_ROOM 4000 /* harvest tags per message; the engine takes 8192 */

#define R_UNKNOWN "550 5.1.1 sorry, no mailbox here by that name"
#define R_EXPIRED "550 5.1.1 sorry, this address has expired"
#define R_TEMP "451 4.3.0 unable to check recipients, try again later"
#define R_LIMIT "421 4.7.0 too many refused recipients, closing connection"

enum { A_ACCEPT, A_PASS, A_REJECT, A_TEMP, A_GO };

void rc_session_init(rc_session *s, rc_table *t)
{
  memset(s, 0, sizeof *s);
  s->table = t;
  s->abuse = 1;
  s->maxrefused = 5;
  s->logfd = 2;
  s->ip = "unknown";
  s->fromnull = 1;
}

static void txn_clear(rc_session *s)
{
  while (s->ntxn) free(s->txn[--s->ntxn]);
}

void rc_session_free(rc_session *s)
{
  txn_clear(s);
  while (s->flen) { free(s->fifo[s->fhead]); s->fhead = (s->fhead + 1) % RC_FIFO; --s->flen; }
  stralloc_free(&s->reply); stralloc_free(&s->header);
  stralloc_free(&s->val); stralloc_free(&s->tmp);
}

static void setreply(rc_session *s, const char *dflt, const char *text)
{
  s->reply.len = 0;
  if (text && !*text) text = 0;
  if (text && sdu_smtp_replycode(text, 0) == 0) {
    if (!stralloc_copys(&s->reply, dflt)) sdu_nomem();
    if (!stralloc_append(&s->reply, " ")) sdu_nomem();
  }
  if (!stralloc_cats(&s->reply, text ? text : dflt)) sdu_nomem();
  if (!stralloc_0(&s->reply)) sdu_nomem();
}

static void logline(rc_session *s, const char *what, const char *addr, size_t len,
  const char *action, const char *reason, const char *would)
{
  sdu_log l;
  if (s->logfd < 0) return;
  sdu_log_start(&l);
  sdu_log_kv(&l, "ip", s->ip);
  sdu_log_kvb(&l, "from", s->fromnull ? "<>" : s->from, s->fromnull ? 2 : s->fromlen);
  if (what) sdu_log_kvb(&l, what, addr, len);
  sdu_log_kv(&l, "action", action);
  if (would) sdu_log_kv(&l, "would", would);
  sdu_log_kv(&l, "reason", reason);
  if (s->refused) sdu_log_kvu(&l, "refused", s->refused);
  sdu_log_emit(&l, s->logfd);
}

static void tag(rc_session *s, const char *what, const char *addr, size_t len, const char *reason)
{
  size_t before = s->header.len;
  if (s->header.len) --s->header.len; /* the 0 */
  if (s->header.len + len + 80 > HEADER_ROOM) { s->header.len = before; return; }
  if (!stralloc_cats(&s->header, "X-Rcptcheck: harvest would refuse ")) sdu_nomem();
  if (!stralloc_cats(&s->header, what)) sdu_nomem();
  if (!stralloc_cats(&s->header, "=<")) sdu_nomem();
  if (!sdu_printable(&s->header, addr, len, SDU_ADDR_MAX, 0)) sdu_nomem();
  if (!stralloc_cats(&s->header, "> reason=")) sdu_nomem();
  if (!stralloc_cats(&s->header, reason)) sdu_nomem();
  if (!stralloc_cats(&s->header, "\n")) sdu_nomem();
  if (!stralloc_0(&s->header)) sdu_nomem();
  s->headerchanged = 1;
}

static void newtxn(rc_session *s)
{
  if (s->header.len) { s->header.len = 0; s->headerchanged = 1; }
  if (!stralloc_0(&s->header)) sdu_nomem();
  --s->header.len;
}

void rc_session_rset(rc_session *s) { newtxn(s); }

int rc_session_mail(rc_session *s, const char *arg, size_t len)
{
  sdu_path p;
  int r;
  const char *t = 0, *reason = 0;

  newtxn(s);
  s->fromnull = 1; s->fromlen = 0;
  r = sdu_smtp_path(arg, len, 1, &p);
  if (r) {
    if (!stralloc_copys(&s->tmp, r == 501 ? "501 " : "553 ")) sdu_nomem();
    if (!stralloc_cats(&s->tmp, p.err)) sdu_nomem();
    if (!stralloc_0(&s->tmp)) sdu_nomem();
    setreply(s, "553", s->tmp.s);
    reason = "syntax";
    s->fromnull = 0;
    s->fromlen = len > SDU_ADDR_MAX ? SDU_ADDR_MAX : len;
    memcpy(s->from, arg, s->fromlen);
  } else {
    s->fromnull = p.null;
    s->fromlen = p.len;
    memcpy(s->from, p.addr, p.len + 1);
    sdu_addr_lower(s->from, s->fromlen);
    if (!p.null && s->senders && (t = rc_senders_match(s->senders, s->from, s->fromlen))) {
      setreply(s, "553 5.7.1", *t ? t : "sorry, mail from this sender is not accepted here");
      reason = "blacklist";
    }
  }
  if (!reason) return SDU_PASS;
  if (s->harvest) {
    logline(s, 0, 0, 0, "harvest", reason, "reject");
    tag(s, "from", s->from, s->fromlen, reason);
    return SDU_PASS;
  }
  logline(s, 0, 0, 0, "reject", reason, 0);
  return SDU_ANSWER;
}

/* the text of a table entry "-text": its own code, or 553 */
static void tablerefusal(rc_session *s, const char *text, size_t len)
{
  if (!stralloc_copyb(&s->tmp, text, len)) sdu_nomem();
  if (!stralloc_0(&s->tmp)) sdu_nomem();
  setreply(s, len ? "553 5.7.1" : R_UNKNOWN, s->tmp.s);
}

/* the table or the state store could not answer: fail open, or 451 */
static int unavailable(rc_session *s)
{
  if (!s->failclosed) return A_PASS;
  setreply(s, R_TEMP, 0);
  return A_TEMP;
}

static void fifo_push(rc_session *s, const char *key, size_t len)
{
  char *e = 0;
  if (s->flen == RC_FIFO) return; /* more in flight than the engine allows */
  if (key) {
    e = malloc(len + 1);
    if (!e) sdu_nomem();
    memcpy(e, key, len); e[len] = 0;
  }
  s->fifo[(s->fhead + s->flen) % RC_FIFO] = e;
  ++s->flen;
}

/* the decision for a parsed recipient; addr lower case */
static int decide(rc_session *s, const char *addr, size_t len, size_t at, const char *orig,
  const char **reason, char **countkey)
{
  int r, how, covered;
  const char *t;
  rc_form f;

  *countkey = 0;
  if (at >= len) { *reason = "postmaster"; return A_PASS; }
  if (!s->table->open) { *reason = "notable"; return unavailable(s); }
  covered = rc_table_covered(s->table, addr + at + 1, len - at - 1);
  if (covered == -1) { *reason = "tablefail"; return unavailable(s); }
  if (!covered) { *reason = "notcovered"; return A_PASS; }

  /* RFC 5321 4.5.1: postmaster is always there; abuse too (RFC 2142) */
  if ((at == 10 && !memcmp(addr, "postmaster", 10)) || (s->abuse && at == 5 && !memcmp(addr, "abuse", 5))) {
    r = rc_table_get(s->table, addr, len, &s->val);
    if (r == -1) { *reason = "tablefail"; return unavailable(s); }
    if (r == 1 && s->val.len && s->val.s[0] == '-') {
      tablerefusal(s, s->val.s + 1, s->val.len - 1);
      *reason = "table";
      return A_REJECT;
    }
    *reason = at == 5 ? "abuse" : "postmaster";
    return A_ACCEPT;
  }

  if (s->rules && (t = rc_rules_match(s->rules, orig, len))) {
    setreply(s, *t ? "550 5.1.1" : R_UNKNOWN, t);
    *reason = "rule";
    return A_REJECT;
  }

  r = rc_table_lookup(s->table, addr, len, at, 1, &s->val, &how);
  if (r == RC_UNKNOWN && s->expire && rc_form_parse(addr, at, &f) != RC_FORM_NONE
      && (f.kind == RC_FORM_DATE || s->counter)) {
    int how2, rb;
    /* the user of the form: steve for steve.3.count */
    if (!stralloc_copyb(&s->tmp, addr, f.baselen)) sdu_nomem();
    if (!stralloc_catb(&s->tmp, addr + at, len - at)) sdu_nomem();
    rb = rc_table_lookup(s->table, s->tmp.s, s->tmp.len, f.baselen, 1, &s->val, &how2);
    if (rb == -1) { *reason = "tablefail"; return unavailable(s); }
    if (rb == RC_VALID) {
      if (f.kind == RC_FORM_DATE) {
        if (rc_form_date_ok(&f, s->now ? (time_t) s->now() : time(0))) { *reason = "dated"; return A_ACCEPT; }
      } else {
        unsigned long n = 0;
        if (s->counter->get(s->counter->ctx, addr, len, &n) == -1) { *reason = "statefail"; return unavailable(s); }
        if (n < f.count) { *reason = "counted"; *countkey = (char *) addr; return A_ACCEPT; }
      }
      setreply(s, R_EXPIRED, 0);
      *reason = "expired";
      return A_REJECT;
    }
  }
  if (r == RC_UNKNOWN) {
    r = rc_table_get(s->table, addr + at, len - at, &s->val);
    how = RC_HOW_CATCHALL;
    if (r == 1) r = s->val.len && s->val.s[0] == '-' ? RC_REFUSED : RC_VALID;
    if (r == RC_REFUSED) { memmove(s->val.s, s->val.s + 1, s->val.len - 1); --s->val.len; }
  }
  if (r == -1) { *reason = "tablefail"; return unavailable(s); }
  if (r == RC_VALID) {
    *reason = how == RC_HOW_EXACT ? "exact" : how == RC_HOW_DEFAULT ? "default" : "catchall";
    return A_ACCEPT;
  }
  if (r == RC_REFUSED) {
    tablerefusal(s, s->val.s, s->val.len);
    *reason = "table";
    return A_REJECT;
  }
  setreply(s, R_UNKNOWN, 0);
  *reason = "unknown";
  return A_REJECT;
}

/* A recipient at an address literal of this host: qmail-smtpd rewrites
   the literal to its own name (the table's @@[me]) and queues the result,
   so that is the address to check. A_GO: go on with addr, *len and *orig,
   rewritten when the literal is ours; anything else is the decision. */
static int literal(rc_session *s, char *addr, size_t *len, size_t at, char *obuf, const char **orig, const char **reason)
{
  sdu_ip ip;
  int r;
  if (!s->ipme || !s->table->open || at + 1 >= *len || addr[at + 1] != '[') return A_GO;
  if (!rc_literal_ip(addr + at + 1, *len - at - 1, &ip)) return A_GO;
  r = rc_ipme_is(s->ipme, &ip);
  if (r == -1) { *reason = "ipmefail"; return unavailable(s); }
  if (!r) return A_GO;
  r = rc_table_get(s->table, RC_ME, sizeof RC_ME - 1, &s->val);
  if (r == -1) { *reason = "tablefail"; return unavailable(s); }
  /* a table that names no host: ours, but nothing to check it as */
  if (!r || !s->val.len || at + 1 + s->val.len > SDU_ADDR_MAX) { *reason = "literal"; return A_PASS; }
  memcpy(obuf, *orig, at + 1);
  memcpy(obuf + at + 1, s->val.s, s->val.len);
  memcpy(addr + at + 1, s->val.s, s->val.len);
  *len = at + 1 + s->val.len;
  addr[*len] = obuf[*len] = 0;
  sdu_addr_lower(addr + at + 1, s->val.len);
  *orig = obuf;
  return A_GO;
}

int rc_session_rcpt(rc_session *s, const char *arg, size_t len)
{
  sdu_path p;
  char addr[SDU_ADDR_MAX + 1], obuf[SDU_ADDR_MAX + 1];
  const char *reason = "syntax", *action, *orig;
  char *countkey = 0;
  const char *shown;
  size_t shownlen, alen = 0;
  int r, a;

  r = sdu_smtp_path(arg, len, 0, &p);
  if (r) {
    if (!stralloc_copys(&s->tmp, r == 501 ? "501 " : "553 ")) sdu_nomem();
    if (!stralloc_cats(&s->tmp, p.err)) sdu_nomem();
    if (!stralloc_0(&s->tmp)) sdu_nomem();
    setreply(s, "553", s->tmp.s);
    a = A_REJECT;
    shown = arg; shownlen = len > SDU_ADDR_MAX ? SDU_ADDR_MAX : len;
  } else {
    memcpy(addr, p.addr, p.len + 1);
    sdu_addr_lower(addr, p.len);
    alen = p.len;
    orig = p.addr;
    a = literal(s, addr, &alen, p.atpos, obuf, &orig, &reason);
    if (a == A_GO) a = decide(s, addr, alen, p.atpos, orig, &reason, &countkey);
    shown = p.addr; shownlen = p.len;
  }

  if (a == A_ACCEPT || a == A_PASS) {
    logline(s, "rcpt", shown, shownlen, a == A_ACCEPT ? "accept" : "pass", reason, 0);
    fifo_push(s, countkey, countkey ? alen : 0);
    return SDU_PASS;
  }
  if (s->harvest) {
    logline(s, "rcpt", shown, shownlen, "harvest", reason, a == A_TEMP ? "tempfail" : "reject");
    tag(s, "rcpt", shown, shownlen, reason);
    fifo_push(s, 0, 0);
    return SDU_PASS;
  }
  if (a == A_TEMP) {
    logline(s, "rcpt", shown, shownlen, "tempfail", reason, 0);
    return SDU_ANSWER;
  }
  ++s->refused;
  if (s->maxrefused && s->refused >= s->maxrefused) {
    setreply(s, R_LIMIT, 0);
    action = "close";
    logline(s, "rcpt", shown, shownlen, action, reason, 0);
    return SDU_CLOSE;
  }
  logline(s, "rcpt", shown, shownlen, "reject", reason, 0);
  return SDU_ANSWER;
}

void rc_session_reply(rc_session *s, int verb, int code)
{
  unsigned int i;
  switch (verb) {
    case SDU_V_RCPT:
      if (!s->flen) return;
      {
        char *e = s->fifo[s->fhead];
        s->fhead = (s->fhead + 1) % RC_FIFO;
        --s->flen;
        if (e && code >= 200 && code < 300 && s->ntxn < RC_TXN_MAX) s->txn[s->ntxn++] = e;
        else free(e);
      }
      break;
    case SDU_V_MAIL: case SDU_V_RSET: case SDU_V_HELO: case SDU_V_EHLO:
      /* only an accepted one starts anew: downstream keeps its transaction
         (and the recipients it took) across a refused MAIL */
      if (code >= 200 && code < 300) txn_clear(s);
      break;
    case SDU_V_DOT:
      if (code >= 200 && code < 300 && s->counter)
        for (i = 0; i < s->ntxn; ++i)
          if (s->counter->add(s->counter->ctx, s->txn[i], strlen(s->txn[i])) == -1)
            sdu_warn("unable to count a message for ", s->txn[i]);
      txn_clear(s);
      break;
  }
}
