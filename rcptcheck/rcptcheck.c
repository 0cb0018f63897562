/* rcptcheck.c: refuse unknown recipients and bad senders at RCPT time, in front of qmail-smtpd */
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <scan.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "sdu_links.h"
#include "sdu_env.h"
#include "sdu_time.h"
#include "rcptcheck_session.h"
#include "rcptcheck_count.h"

#define USAGE "rcptcheck [ -f rcpt.cdb ] [ -D domains ] [ -l rules ] [ -s senders ] [ -n maxrefused ] [ -e ] [ -d statedir ] [ -A ] [ -F ] prog [ arg ... ]"

static rc_session s;

static void header(sdu_proxy *p)
{
  if (!s.headerchanged) return;
  s.headerchanged = 0;
  if (!sdu_proxy_header(p, s.header.len ? s.header.s : "")) sdu_warn("harvest tags too long, left out");
}

static int command(void *ctx, sdu_proxy *p, const sdu_cmd *c)
{
  int r = SDU_PASS;
  (void) ctx;
  if (sdu_proxy_authenticated(p)) return SDU_PASS;
  switch (c->verb) {
    case SDU_V_MAIL: r = rc_session_mail(&s, c->arg, c->arglen); break;
    case SDU_V_RCPT: r = rc_session_rcpt(&s, c->arg, c->arglen); break;
    case SDU_V_RSET: case SDU_V_HELO: case SDU_V_EHLO: rc_session_rset(&s); break;
  }
  header(p);
  if (r != SDU_PASS) sdu_proxy_answer(p, s.reply.s);
  return r;
}

static void reply(void *ctx, sdu_proxy *p, const sdu_cmd *c, int code, const char *text, size_t len)
{
  (void) ctx; (void) p; (void) text; (void) len;
  rc_session_reply(&s, c->verb, code);
}

/* a file the checks need is bad: fail open, or 451 for every recipient */
static void unusable(rc_table *t, int failclosed, const char *file, const char *why)
{
  const char *then = failclosed ? ", answering 451 to every recipient" : ", not checking recipients";
  if (why) sdu_warn(why, then);
  else sdu_warn("unable to read ", file, ": ", strerror(errno), then);
  rc_table_close(t);
}

int rcptcheck_main(int argc, char **argv)
{
  SDU_HOT static rc_table t;
  static rc_rules rules;
  static rc_senders senders;
  static rc_count count;
  static rc_counter counter;
  static rc_ipme ipme;
  stralloc err = {0};
  sdu_proxy_cfg cfg;
  sdu_hooks h = { 0, command, reply, 0 };
  const char *file = "/etc/sdu/rcpt.cdb", *domains = 0, *rulesfile = 0, *sendersfile = 0;
  const char *statedir = 0, *x;
  unsigned long maxrefused = 5;
  int opt, failclosed = 0, expire = 0, abuse = 1;

  sdu_iam("rcptcheck");
  while ((opt = getopt(argc, argv, "+f:D:l:s:n:ed:AF")) != -1)
    switch (opt) {
      case 'f': file = optarg; break;
      case 'D': domains = optarg; break;
      case 'l': rulesfile = optarg; break;
      case 's': sendersfile = optarg; break;
      case 'n': if (optarg[scan_ulong(optarg, &maxrefused)]) sdu_usage(USAGE); break;
      case 'e': expire = 1; break;
      case 'd': statedir = optarg; break;
      case 'A': abuse = 0; break;
      case 'F': failclosed = 1; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (!*argv) sdu_usage(USAGE);
  if (sdu_env_isset("RELAYCLIENT")) sdu_exec_next(argv);

  /* tcprules sets the limit per client */
  if ((x = sdu_env_get("RCPTCHECK_MAXREFUSED")) && *x) {
    unsigned long n;
    if (!x[scan_ulong(x, &n)]) maxrefused = n;
    else sdu_warn("RCPTCHECK_MAXREFUSED is not a number, ignored");
  }

  rc_table_init(&t);
  rc_session_init(&s, &t);
  if (rc_table_open(&t, file) == -1) {
    if (!t.why) unusable(&t, failclosed, file, 0);
    else {
      /* a damaged table is a missing one: never 550 for every recipient */
      if (!stralloc_copys(&err, file) || !stralloc_cats(&err, " is damaged (") || !stralloc_cats(&err, t.why)
          || !stralloc_cats(&err, "), rebuild it with rcptcheck-build") || !stralloc_0(&err)) sdu_nomem();
      unusable(&t, failclosed, file, err.s);
      err.len = 0;
    }
  }
  if (t.open && domains && rc_table_domains(&t, domains) == -1) unusable(&t, failclosed, domains, 0);
  if (t.open && rulesfile && rc_rules_load(&rules, rulesfile, &err) == -1)
    unusable(&t, failclosed, rulesfile, err.len ? err.s : 0);
  if (sendersfile && rc_senders_load(&senders, sendersfile, &err) == -1) {
    if (err.len) sdu_warn(err.s, ", sender blacklist not used");
    else sdu_warn("unable to read ", sendersfile, ": ", strerror(errno), ", sender blacklist not used");
    rc_senders_free(&senders);
  }
  if (expire && statedir && t.open) {
    if (rc_count_open(&count, statedir, &counter) == -1)
      sdu_warn(sdu_state_error(&count.st), failclosed ? "; answering 451 to counted addresses"
        : "; passing counted addresses on", " (to recover: ", sdu_state_advice(&count.st), ")");
    s.counter = &counter;
  }

  s.failclosed = failclosed;
  s.rules = rules.n ? &rules : 0;
  s.senders = senders.n ? &senders : 0;
  s.abuse = abuse;
  s.expire = expire;
  s.maxrefused = maxrefused;
  s.harvest = sdu_env_isset("SDU_HARVEST");
  s.ip = sdu_env_remoteip();
  /* the address the client reached is ours: no interface list needed for it */
  if ((x = sdu_env_get("TCPLOCALIP")) && sdu_ip_parse(&ipme.local, x)) ipme.havelocal = 1;
  s.ipme = &ipme;
  s.now = sdu_now;

  sdu_proxy_defaults(&cfg);
  return sdu_proxy_run(argv, &cfg, &h);
}
