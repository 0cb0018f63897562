/* throttle.c: connection rate and concurrency per client, then exec, or stay
   in the middle for the recipient throttle, sender blacklist and bounce limit */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "sdu_msg.h"
#include "sdu_links.h"
#include "sdu_env.h"
#include "sdu_ip.h"
#include "sdu_smtp.h"
#include "sdu_state.h"
#include "sdu_time.h"
#include "throttle_rules.h"
#include "throttle_store.h"
#include "throttle_session.h"

#define USAGE "throttle [ -d statedir ] [ -b hold ] [ -w ipfile ] [ -B count/window ] [ -h hold ] [ -W rcptfile ] [ -n ] [ -l ] [ -m delay ] [ -M lifetime ] [ -a count/time ] [ -S senderfile ] prog [ arg ... ]"
#define T_RATE "421 4.7.0 too many connections from your address: try again later"
#define T_CONC "421 4.7.0 too many connections at once from your address: try again later"
#define CONC_TTL 3600 /* a slot outlives no session, even if its pid is reused */

SDU_HOT static sdu_state st;
SDU_HOT static int stopen;
SDU_HOT static throttle_session s;
SDU_HOT static char ipbuf[SDU_IP_FMT] = "unknown";
SDU_HOT static char lists[SDU_LOG_VALUE_MAX + 1];
SDU_HOT static unsigned long conncount, conccount;
SDU_HOT static int connlimit, conclimit;
SDU_HOT static const char *would; /* SDU_HARVEST: why the connection would have been refused */

static void logstart(sdu_log *l, const char *action)
{
  sdu_log_start(l);
  sdu_log_kv(l, "ip", ipbuf);
  sdu_log_kv(l, "lists", lists);
  sdu_log_kv(l, "action", action);
}

static void logcounts(sdu_log *l)
{
  if (conncount) sdu_log_kvu(l, "conn", conncount);
  if (conccount) sdu_log_kvu(l, "conc", conccount);
  if (would) { sdu_log_kv(l, "would", "tempfail"); sdu_log_kv(l, "reason", would); }
}

static int command(void *ctx, sdu_proxy *p, const sdu_cmd *c)
{
  const char *t;
  int r;
  (void) ctx;
  if (sdu_proxy_authenticated(p)) return SDU_PASS;
  r = throttle_session_command(&s, c->verb, c->arg, c->arglen, sdu_proxy_now(p), &t);
  if (r == SDU_ANSWER) sdu_proxy_answer(p, t);
  return r;
}

static void reply(void *ctx, sdu_proxy *p, const sdu_cmd *c, int code, const char *text, size_t len)
{
  (void) ctx;
  throttle_session_reply(&s, c->verb, code, text, len, sdu_proxy_now(p));
}

/* one line per greylisting decision */
static void greylog(void *ctx, int decision, int refused, const char *hex)
{
  sdu_log l;
  (void) ctx;
  logstart(&l, refused ? "tempfail" : s.harvest && THROTTLE_GREY_REFUSES(decision) ? "harvest" : "pass");
  sdu_log_kv(&l, "grey", throttle_grey_name(decision));
  sdu_log_kv(&l, "triplet", hex);
  sdu_log_emit(&l, 2);
}

static void end(void *ctx, sdu_proxy *p)
{
  sdu_log l;
  (void) ctx; (void) p;
  logstart(&l, would || (s.harvest && (s.throttled || s.blacklisted || s.bounced || s.greylisted)) ? "harvest" : "proxy");
  logcounts(&l);
  throttle_session_log(&s, &l);
  sdu_log_emit(&l, 2);
}

static void closestate(void)
{
  if (stopen) sdu_state_close(&st);
  stopen = 0;
}

/* fail open: the checks that need the store are skipped */
static void statefail(void)
{
  sdu_warn(sdu_state_error(&st), "; passing on (to recover: ", sdu_state_advice(&st), ")");
  closestate();
  s.storefailed = 1;
}

static int refuse(const char *text, const char *reason)
{
  sdu_log l;
  sdu_respond_cfg cfg;
  closestate();
  logstart(&l, "tempfail");
  sdu_log_kv(&l, "reason", reason);
  logcounts(&l);
  sdu_log_emit(&l, 2);
  sdu_respond_defaults(&cfg);
  cfg.host = "throttle.local";
  cfg.refusal = text;
  cfg.atgreeting = 1;
  return sdu_respond(&cfg);
}

static void duration(const char *s0, unsigned long *u)
{
  if (!sdu_parse_duration(s0, u)) sdu_usage(USAGE);
}

static void loadfail(int r, const char *file, stralloc *err)
{
  if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", file);
  if (r == 0) sdu_fatal(SDU_EXIT_PERM, err->s);
}

int throttle_main(int argc, char **argv)
{
  const char *dir = "/var/lib/sdu", *ipfile = 0, *rcptfile = 0, *e;
  throttle_nets ipwhite = { 0, 0, 0 };
  throttle_addrs rcptwhite = { { 0, 0, 0 } }, greysenders = { { 0, 0, 0 } };
  throttle_grey grey = { 300, 86400, 5, 35 * 86400UL };
  throttle_rate awl;
  const char *senderfile = 0;
  int greynordns = 0, greylisted = 0, greylist = 0;
  throttle_rate connrate = { 0, 0 };
  unsigned long blhold = 0, bouncehold = 3600, concmax = 0;
  throttle_rate bouncerate = { 20, 600 };
  int opt, blacklist = 0, bounces = 0, needstate, r;
  stralloc err = {0};
  sdu_ip ip;

  sdu_iam("throttle");
  while ((opt = getopt(argc, argv, "+d:b:w:B:h:W:nlm:M:a:S:")) != -1)
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'b': duration(optarg, &blhold); blacklist = blhold > 0; break;
      case 'w': ipfile = optarg; break;
      case 'B': if (!throttle_rate_parse(&bouncerate, optarg)) sdu_usage(USAGE); bounces = 1; break;
      case 'h': duration(optarg, &bouncehold); break;
      case 'W': rcptfile = optarg; break;
      case 'n': greynordns = 1; break;
      case 'l': greylisted = 1; break;
      case 'm': duration(optarg, &grey.delay); break;
      case 'M': duration(optarg, &grey.lifetime); break;
      case 'a':
        if (!throttle_rate_parse(&awl, optarg)) sdu_usage(USAGE);
        grey.awlcount = awl.count; grey.awltime = awl.window;
        break;
      case 'S': senderfile = optarg; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (!*argv) sdu_usage(USAGE);

  throttle_lists(lists, sizeof lists, sdu_env_get("RBLCHECK_LISTS"));
  if (sdu_env_isset("RELAYCLIENT")) {
    sdu_log l;
    snprintf(ipbuf, sizeof ipbuf, "%s", sdu_env_remoteip());
    logstart(&l, "pass");
    sdu_log_kv(&l, "reason", "relayclient");
    sdu_log_emit(&l, 2);
    sdu_exec_next(argv);
  }
  e = sdu_env_get("TCPREMOTEIP");
  if (!e || !sdu_ip_parse(&ip, e)) {
    sdu_log l;
    sdu_warn("unable to read the client address from TCPREMOTEIP, passing on");
    logstart(&l, "pass");
    sdu_log_kv(&l, "reason", "noip");
    sdu_log_emit(&l, 2);
    sdu_exec_next(argv);
  }
  sdu_ip_fmt(ipbuf, &ip);

  throttle_session_init(&s);
  s.harvest = sdu_env_isset("SDU_HARVEST");
  s.cklen = throttle_clientkey(s.ckey, &ip);
  e = sdu_env_get("THROTTLE_RCPT");
  if (e && *e) {
    if (throttle_number(e, &s.rcptmax)) s.rcptlimit = 1;
    else sdu_warn("THROTTLE_RCPT is not a number: ignored");
  }
  e = sdu_env_get("THROTTLE_CONN");
  if (e && *e) {
    if (throttle_rate_parse(&connrate, e)) connlimit = 1;
    else sdu_warn("THROTTLE_CONN is not count/seconds: ignored");
  }
  e = sdu_env_get("THROTTLE_CONC");
  if (e && *e) {
    if (throttle_number(e, &concmax)) conclimit = 1;
    else sdu_warn("THROTTLE_CONC is not a number: ignored");
  }
  /* greylisting: whom the policy (THROTTLE_GREYLIST) or the options mark */
  if (greynordns) {
    e = sdu_env_get("TCPREMOTEHOST");
    if (!e || !*e) greylist = 1;
  }
  if (greylisted) {
    e = sdu_env_get("RBLCHECK_LISTS");
    if (e && *e) greylist = 1;
  }
  /* set by rblcheck or tcprules: "0" never, anything else always */
  e = sdu_env_get("THROTTLE_GREYLIST");
  if (e && *e) greylist = strcmp(e, "0") != 0;
  if (grey.delay >= grey.lifetime) sdu_fatal(SDU_EXIT_PERM, "the greylisting delay (-m) must be shorter than its lifetime (-M)");
  if ((blacklist || greylist) && ipfile) {
    loadfail(throttle_nets_load(&ipwhite, ipfile, &err), ipfile, &err);
    if (throttle_nets_match(&ipwhite, &ip)) blacklist = greylist = 0;
    throttle_nets_free(&ipwhite);
  }
  if (greylist && senderfile) loadfail(throttle_addrs_load(&greysenders, senderfile, &err), senderfile, &err);
  if (bounces && rcptfile) loadfail(throttle_addrs_load(&rcptwhite, rcptfile, &err), rcptfile, &err);
  s.blacklist = blacklist;
  s.blhold = blhold;
  s.bounces = bounces;
  s.bouncerate = bouncerate;
  s.bouncehold = bouncehold;
  s.rcptwhite = &rcptwhite;
  s.greylist = greylist;
  s.grey = grey;
  s.greysenders = senderfile ? &greysenders : 0;
  s.gnlen = throttle_grey_net(s.gnet, &ip);
  s.greylog = greylog;

  needstate = connlimit || conclimit || blacklist || bounces || greylist;
  if (needstate) {
    /* counters and slots live minutes: a crash may lose the last few, so
       they are not worth a disk flush on every connection */
    if (sdu_state_open(&st, dir, THROTTLE_TABLE, SDU_STATE_NOSYNC) == -1) statefail();
    else stopen = 1;
  }
  if (stopen && (connlimit || conclimit)) {
    /* the rate counter and the slot in one write transaction */
    r = throttle_conn_enter(&st, s.ckey, s.cklen, sdu_now(), connlimit ? &connrate : 0,
      (unsigned long) getpid(), conclimit ? &concmax : 0, CONC_TTL, throttle_alive, s.harvest,
      &conncount, &conccount);
    if (r == -1) statefail();
    else if (r & THROTTLE_OVER_RATE) {
      if (!s.harvest) return refuse(T_RATE, "rate");
      would = "rate";
    }
    if (r != -1 && (r & THROTTLE_OVER_CONC)) {
      if (!s.harvest) return refuse(T_CONC, "concurrency");
      would = "concurrency";
    }
  }

  if (!s.rcptlimit && !blacklist && !bounces && !greylist) {
    sdu_log l;
    closestate();
    logstart(&l, would ? "harvest" : "pass");
    logcounts(&l);
    if (s.storefailed) sdu_log_kv(&l, "state", "failed");
    sdu_log_emit(&l, 2);
    sdu_exec_next(argv);
  }
  {
    sdu_proxy_cfg cfg;
    sdu_hooks h = { 0, command, reply, end };
    s.st = stopen ? &st : 0;
    sdu_proxy_defaults(&cfg);
    r = sdu_proxy_run(argv, &cfg, &h);
    /* the connection is over: the process ends */
    if (stopen) sdu_state_leave(&st);
    stopen = 0;
    throttle_addrs_free(&rcptwhite);
    throttle_addrs_free(&greysenders);
    _exit(r); /* the proxy engine's buffers go with the process */
  }
}
