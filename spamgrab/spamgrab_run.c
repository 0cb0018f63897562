/* spamgrab_run.c: what spamgrab does with one message: decide, report, remember */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <buffer.h>
#include "sdu_msg.h"
#include "sdu_time.h"
#include "spamgrab_parse.h"
#include "spamgrab_tag.h"
#include "spamgrab_cache.h"
#include "spamgrab_report.h"
#include "spamgrab_contact.h"
#include "spamgrab_out.h"
#include "spamgrab_local.h"
#include "spamgrab_run.h"

#define MAXOUT (SG_OPS_MAX + 1)

static int onlist(const char *lists, const char *name)
{
  size_t n = strlen(name);
  const char *s = lists;
  while (*s) {
    size_t l = strcspn(s, ",");
    if (l == n && !memcmp(s, name, n)) return 1;
    s += l;
    if (*s == ',') ++s;
  }
  return 0;
}

static int isdialup(const sg_conf *c, const char *lists)
{
  const char *s = lists;
  while (*s) {
    size_t l = strcspn(s, ",");
    if (sg_conf_isdialup(c, s, l)) return 1;
    s += l;
    if (*s == ',') ++s;
  }
  return 0;
}

static void warn(const char *a, const char *b)
{
  sdu_warn(a, ": ", b);
}

/* a dry run prints what it would send or save */
static void show(const char *what, const char *to, const stralloc *r)
{
  buffer_puts(buffer_1, "=== ");
  buffer_puts(buffer_1, what);
  buffer_puts(buffer_1, " ");
  buffer_puts(buffer_1, to);
  buffer_puts(buffer_1, "\n");
  buffer_put(buffer_1, r->s, r->len);
  buffer_flush(buffer_1);
}

static const char *from_of(const sg_conf *c, stralloc *tmp)
{
  if (c->from) return c->from;
  tmp->len = 0;
  if (!stralloc_copys(tmp, "postmaster@") || !stralloc_cats(tmp, c->hosts[0] ? c->hosts[0] : "localhost") ||
      !stralloc_0(tmp)) sdu_nomem();
  return tmp->s;
}

static int tempfail(sdu_log *l, const char *why, const char *what)
{
  sdu_log_kv(l, "action", "tempfail");
  sdu_log_kv(l, "reason", why);
  sdu_log_emit(l, 2);
  if (what) warn(why, what);
  return SDU_EXIT_TEMP;
}

int sg_run(const sg_conf *c, const char *msg, size_t len, int manual, int dry)
{
  static const char *const kinds[] = { "garbage", "other", "single", "truncated", "double" };
  sg_parsed *p;
  sg_cache cache;
  sg_host h;
  sdu_log l;
  stralloc rep[MAXOUT], tmpn[MAXOUT], newn[MAXOUT], err = { 0 }, fromsa = { 0 };
  const char *to[MAXOUT];
  int kind[MAXOUT], com[MAXOUT];
  unsigned int nrep = 0, i, saved = 0, sent = 0, capped = 0, skipped = 0;
  unsigned long long now = sdu_now();
  int known, due, dialup, cacheok = 1, r, ok[MAXOUT], stored = 0, other = 0;
  unsigned long long oldexp = 0;
  sg_host old;
  char isp[SG_ADDR_MAX + 1], how[64];
  const char *from;
  unsigned long long born = 0;

  sdu_log_start(&l);
  if (len > c->maxmessage) {
    sdu_log_kv(&l, "kind", "toolarge");
    sdu_log_kv(&l, "action", "pass");
    sdu_log_emit(&l, 2);
    return manual ? SDU_EXIT_PERM : SG_EXIT_PASS;
  }
  /* only what our qmail-send wrote counts (DESIGN 5); a person may pipe in anything with -r */
  if (!manual) {
    const char *d = 0;
    size_t dl = 0;
    int lr = sg_local(msg, len, getenv("SENDER"), &d, &dl);
    if (lr != SG_LOCAL_OK) {
      sdu_log_kv(&l, "action", "pass");
      sdu_log_kv(&l, "reason", "not-local");
      sdu_log_kv(&l, "check", sg_local_why(lr));
      sdu_log_emit(&l, 2);
      return SG_EXIT_PASS;
    }
    if (!sg_qmaildate(d, dl, &born) || born > now) born = now;
  }
  p = malloc(sizeof *p);
  if (!p) sdu_nomem();
  sg_parse(p, msg, len, manual, c->hosts);
  if (sg_tag_check(&p->client, &c->keys) == -1) { r = tempfail(&l, "tagkey", "unable to start libsodium"); free(p); return r; }
  /* the original bounce inside must be our qmail-send's too: a stranger's
     MAIL FROM:<> message to an unknown user comes back as one, its text
     the stranger's own */
  if (!manual && p->kind == SG_DOUBLE && sg_local_bounce(p->inner.s, p->inner.len) != SG_LOCAL_OK) {
    sdu_log_kv(&l, "action", "pass");
    sdu_log_kv(&l, "reason", "not-local");
    sdu_log_kv(&l, "check", sg_local_why(SG_LOCAL_BOUNCE));
    sdu_log_emit(&l, 2);
    free(p);
    return SG_EXIT_PASS;
  }
  sdu_log_kv(&l, "kind", manual ? "manual" : kinds[p->kind]);
  if (!manual && p->kind != SG_DOUBLE) {
    sdu_log_kv(&l, "action", "pass");
    sdu_log_emit(&l, 2);
    free(p);
    return SG_EXIT_PASS;
  }
  if (!p->client.found) {
    char by[64];
    size_t ohlen, obody;
    sdu_log_kv(&l, "ip", "-");
    sdu_log_kv(&l, "action", "pass");
    sdu_log_kv(&l, "reason", "no-trusted-received");
    /* a Received line "by" a name of none of our hosts: qmail-smtpd's -l (tcpserver -l0 writes "by 0") or "me" */
    if (p->orig.len && sg_split(p->orig.s, p->orig.len, &ohlen, &obody) &&
        sg_foreign_by(p->orig.s, ohlen, c->hosts, by, sizeof by)) sdu_log_kv(&l, "by", by);
    sdu_log_emit(&l, 2);
    free(p);
    return manual ? SDU_EXIT_PERM : SG_EXIT_PASS;
  }
  sdu_log_kv(&l, "ip", p->client.ip_s);
  sdu_log_kv(&l, "lists", p->client.tag && *p->client.lists ? p->client.lists : "-");
  sdu_log_kv(&l, "tag", p->client.tagstate);
  if (p->client.untrusted_tags) sdu_log_kvu(&l, "forgedtags", p->client.untrusted_tags);

  if (sg_cache_open(&cache, c->state, dry) == -1) {
    if (!dry) { r = tempfail(&l, "state", sg_cache_error(&cache)); free(p); return r; }
    cacheok = 0; /* a dry run on a fresh machine: nothing known */
  }
  memset(&h, 0, sizeof h);
  known = cacheok ? sg_cache_get(&cache, &p->client.ip, now, &h, &oldexp) : 0;
  old = h;
  if (known == -1) {
    r = tempfail(&l, "state", sg_cache_error(&cache));
    sg_cache_close(&cache); free(p);
    return r;
  }
  due = manual || !known || !h.reported || now >= sdu_later(h.reported, c->interval);
  dialup = !manual && p->client.tag && isdialup(c, p->client.lists);
  sdu_log_kvu(&l, "known", (unsigned long) (known == 1));
  sdu_log_kv(&l, "decision", dialup ? "dialup" : "relay");
  from = from_of(c, &fromsa);
  memset(rep, 0, sizeof rep);
  memset(tmpn, 0, sizeof tmpn);
  memset(newn, 0, sizeof newn);
  memset(com, 0, sizeof com);
  *isp = 0;
  if (due) {
    sg_report_in in;
    int k = sg_contact(c, &p->client, isp, sizeof isp, how, sizeof how, &err);
    if (k == -1 && (manual || now - born < c->giveup)) {
      if (!stralloc_0(&err)) sdu_nomem();
      r = tempfail(&l, "contact", err.s);
      sg_cache_close(&cache); free(p);
      return r;
    }
    if (k == -1) {
      /* qmail would retry until queuelifetime and then throw it away: handle it without the contact */
      if (!stralloc_0(&err)) sdu_nomem();
      warn("contact lookup given up", err.s);
      snprintf(how, sizeof how, "gave-up");
      k = 0;
    }
    if (!k) *isp = 0;
    sdu_log_kv(&l, "isp", k ? isp : "-");
    sdu_log_kv(&l, "contact", how);
    memset(&in, 0, sizeof in);
    in.from = from;
    in.lists = p->client.lists;
    in.me = p->client.by;
    in.p = p;
    in.whole = msg;
    in.wholelen = len;
    in.maxsize = c->maxsize;
    in.now = now;
    in.uniq = (unsigned long) getpid();
    if (k) {
      in.type = dialup ? SG_R_DIALUP : SG_R_RELAY;
      in.to = isp;
      if (!sg_report(&rep[nrep], &in)) sdu_nomem();
      to[nrep] = isp;
      kind[nrep++] = in.type;
    }
    if (!dialup && c->nops && !c->review) sdu_log_kv(&l, "review", "none");
    if (!dialup && c->review)
      for (i = 0; i < c->nops; ++i) {
        if (p->client.tag && onlist(p->client.lists, c->ops[i].list)) { ++skipped; continue; }
        in.type = SG_R_OPERATOR;
        in.to = c->ops[i].addr;
        in.list = c->ops[i].list;
        in.uniq = (unsigned long) getpid() * 32 + i + 1;
        if (!sg_report(&rep[nrep], &in)) sdu_nomem();
        to[nrep] = c->ops[i].addr;
        kind[nrep++] = SG_R_OPERATOR;
      }
  }

  if (dry) {
    for (i = 0; i < nrep; ++i) show(kind[i] == SG_R_OPERATOR ? "save" : "send", to[i], &rep[i]);
    sdu_log_kvu(&l, "reports", nrep);
    sdu_log_kv(&l, "action", "dryrun");
    sdu_log_emit(&l, 2);
    goto out;
  }

  /* a known host seen again within the hour: not worth a write (and its fsync) per message */
  if (known == 1 && !nrep && now >= h.last && now - h.last < 3600) {
    sdu_log_kvu(&l, "sent", 0);
    sdu_log_kvu(&l, "saved", 0);
    sdu_log_kv(&l, "action", "discard");
    sdu_log_emit(&l, 2);
    goto out;
  }
  /* the cache first, with the report marked made and the cap counted, in one
     transaction; then the review files (in tmp/), the mail, new/. A failure
     before any mail went out puts the entry back and leaves nothing behind;
     once a mail went out the entry stays, so that qmail's retry cannot send
     it twice (DESIGN 4: 111, and a lost review file at worst). */
  if (nrep && !manual) {
    /* several double-bounces of one spam run arrive at once: one process
       reports; the others see its claim and only count the host */
    int claimed;
    if (sg_cache_claim(&cache, &p->client.ip, now, c->interval, sdu_later(now, c->hold), 0, &claimed) == -1) {
      r = tempfail(&l, "state", sg_cache_error(&cache));
      goto fail;
    }
    if (claimed) stored = 1;  /* a failure from here on puts the entry back */
    else {
      for (i = 0; i < nrep; ++i) stralloc_free(&rep[i]);
      nrep = 0;
      other = 1;
      sdu_log_kv(&l, "claimed", "other");
    }
  }
  if (!known) { h.first = now; h.seen = 0; h.reported = 0; }
  h.last = now;
  ++h.seen;
  if (p->client.tag) { memcpy(h.lists, p->client.lists, sizeof h.lists); h.lists[SG_CACHE_LISTS] = 0; }
  if (nrep || other) h.reported = now;  /* ours, or the claimer's give or take a second */
  if (sg_cache_put(&cache, &p->client.ip, &h, sdu_later(now, c->hold), to, nrep, now, c->cap, ok) == -1) {
    r = tempfail(&l, "state", sg_cache_error(&cache));
    goto fail;
  }
  stored = 1;
  for (i = 0; i < nrep; ++i) {
    if (!ok[i]) { ++capped; rep[i].len = 0; continue; }
    if (kind[i] == SG_R_OPERATOR) {
      if (sg_maildir_write(c->review, rep[i].s, rep[i].len, now, i, &tmpn[i], &newn[i], &err) == -1) {
        if (!stralloc_0(&err)) sdu_nomem();
        r = tempfail(&l, "review", err.s);
        goto fail;
      }
    }
  }
  for (i = 0; i < nrep; ++i) {
    if (kind[i] == SG_R_OPERATOR || !rep[i].len) continue;
    if (sg_send(c->inject, c->sendmail, from, to[i], rep[i].s, rep[i].len, &err) == -1) {
      if (!stralloc_0(&err)) sdu_nomem();
      r = tempfail(&l, "inject", err.s);
      goto fail;
    }
    ++sent;
  }
  for (i = 0; i < nrep; ++i) {
    if (!tmpn[i].len) continue;
    if (sg_maildir_commit(&tmpn[i], &newn[i], &err) == -1) {
      if (!stralloc_0(&err)) sdu_nomem();
      tmpn[i].len = 0;
      r = tempfail(&l, "review", err.s);
      goto fail;
    }
    tmpn[i].len = 0;
    com[i] = 1;
    ++saved;
  }
  sdu_log_kvu(&l, "sent", sent);
  sdu_log_kvu(&l, "saved", saved);
  if (capped) sdu_log_kvu(&l, "capped", capped);
  if (skipped) sdu_log_kvu(&l, "listed", skipped);
  sdu_log_kv(&l, "action", known == 1 ? "discard" : "report");
  sdu_log_emit(&l, 2);
out:
  for (i = 0; i < nrep; ++i) { stralloc_free(&rep[i]); stralloc_free(&tmpn[i]); stralloc_free(&newn[i]); }
  stralloc_free(&err);
  stralloc_free(&fromsa);
  sg_cache_close(&cache);
  free(p);
  return manual ? 0 : SG_EXIT_DONE;
fail:
  if (stored && !sent && sg_cache_restore(&cache, &p->client.ip, known == 1 ? &old : 0, oldexp) == -1)
    sdu_warn("unable to put the cache entry back, the retry will not report: ", sg_cache_error(&cache));
  if (stored && sent) sdu_warn("reports sent: the retry will not send them again");
  for (i = 0; i < nrep; ++i) {
    if (tmpn[i].len) unlink(tmpn[i].s);
    if (com[i] && !sent) unlink(newn[i].s);
    stralloc_free(&rep[i]); stralloc_free(&tmpn[i]); stralloc_free(&newn[i]);
  }
  stralloc_free(&err);
  stralloc_free(&fromsa);
  sg_cache_close(&cache);
  free(p);
  return r;
}

int sg_resend(const sg_conf *c, const char *msg, size_t len, int dry)
{
  size_t hlen, body;
  sg_span v;
  char to[SG_ADDR_MAX + 1], buf[SG_FIELD_MAX];
  stralloc err = { 0 }, fromsa = { 0 };
  sdu_log l;
  size_t n, a, b;
  const char *lt, *gt;

  sdu_log_start(&l);
  sdu_log_kv(&l, "kind", "resend");
  if (!sg_split(msg, len, &hlen, &body) || !sg_field_find(msg, hlen, "X-Spamgrab", &v) ||
      !sg_field_find(msg, hlen, "To", &v)) {
    sdu_log_kv(&l, "action", "refuse");
    sdu_log_kv(&l, "reason", "not-a-report");
    sdu_log_emit(&l, 2);
    return SDU_EXIT_PERM;
  }
  n = sg_unfold(buf, sizeof buf, v.s, v.len);
  lt = memchr(buf, '<', n);
  gt = lt ? memchr(lt, '>', n - (size_t) (lt - buf)) : 0;
  if (lt && gt) { a = (size_t) (lt - buf) + 1; b = (size_t) (gt - buf); }
  else { a = 0; b = n; }
  if (b - a > SG_ADDR_MAX) b = a;
  memcpy(to, buf + a, b - a);
  to[b - a] = 0;
  if (!sg_addr_ok(to)) {
    sdu_log_kv(&l, "action", "refuse");
    sdu_log_kv(&l, "reason", "bad-to");
    sdu_log_emit(&l, 2);
    return SDU_EXIT_PERM;
  }
  sdu_log_kv(&l, "to", to);
  if (dry) {
    stralloc sa = { 0 };
    if (!stralloc_copyb(&sa, msg, len)) sdu_nomem();
    show("send", to, &sa);
    stralloc_free(&sa);
    sdu_log_kv(&l, "action", "dryrun");
    sdu_log_emit(&l, 2);
    return 0;
  }
  if (sg_send(c->inject, c->sendmail, from_of(c, &fromsa), to, msg, len, &err) == -1) {
    if (!stralloc_0(&err)) sdu_nomem();
    return tempfail(&l, "inject", err.s);
  }
  sdu_log_kv(&l, "action", "sent");
  sdu_log_emit(&l, 2);
  stralloc_free(&fromsa);
  return 0;
}

int sg_print_zone(const sg_conf *c, int v6)
{
  sg_cache cache;
  struct stat st;
  if (sg_cache_open(&cache, c->state, 1) == -1) {
    /* no double-bounce has come yet (no data.mdb, or no table of ours in a
       directory the chain shares): an empty zone, so that cron publishes
       one from the first day */
    if (errno == ENOENT && stat(c->state, &st) == 0 && S_ISDIR(st.st_mode)) {
      if (sg_cache_zone(0, sdu_now(), c->zonetext, v6, buffer_1) == -1) {
        sdu_warnsys("unable to write the zone");
        return SDU_EXIT_TEMP;
      }
      return 0;
    }
    sdu_warn("unable to read the cache: ", sg_cache_error(&cache));
    return SDU_EXIT_TEMP;
  }
  if (sg_cache_zone(&cache, sdu_now(), c->zonetext, v6, buffer_1) == -1) {
    sdu_warnsys("unable to write the zone");
    sg_cache_close(&cache);
    return SDU_EXIT_TEMP;
  }
  sg_cache_close(&cache);
  return 0;
}
