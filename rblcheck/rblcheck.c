/* rblcheck.c: looks the client up in every DNS blocklist at once, then refuses, tags or execs */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <fmt.h>
#include <scan.h>
#include <str.h>
#include "sdu_msg.h"
#include "sdu_links.h"
#include "sdu_env.h"
#include "sdu_ip.h"
#include "sdu_dns.h"
#include "sdu_smtp.h"
#include "sdu_tag.h"
#include "sdu_time.h"
#include "rblcheck_policy.h"

#define USAGE "rblcheck [ -n ] [ -f policy ] [ -k keyfile ] [ -t seconds ] [ -g ms ] [ -c | -C ] [ -p | -P ] prog [ arg ... ]"
#define RDNS_MAX 253
#define HOST_MAX 253
#define PEEK_MAX 4096   /* early bytes counted at most */
#define ME "/var/qmail/control/me"
/* -g: the answers' time before "220-" is said. A local cache answers in
   well under a millisecond; a remote client's early bytes need a round
   trip to reach us: in that time they could not have come anyway */
#define GREETLATE 5

SDU_HOT static rblcheck_policy policy;
SDU_HOT static rblcheck_ctx ctx;
SDU_HOT static rblcheck_verdict verdict;
/* on a page of its own: the first 8 queries (a policy's few lists) are one
   page fault, wherever the link puts the variables before it */
SDU_PAGES static sdu_dnsq q[2 * RBLCHECK_LISTS_MAX];
SDU_HOT static stralloc names[RBLCHECK_LISTS_MAX];
SDU_HOT static stralloc header;
SDU_HOT static stralloc errsa, reply_sa;  /* here, not in main: still reachable at exit */
static const char *keyfile;       /* -k: the site key that signs the tag, 0 for none */
static sdu_tagkeys keys;
SDU_HOT static unsigned long waited;      /* ms of greetwait, for the log */

static int enough(void *unused, sdu_dnsq *qq, unsigned int n)
{
  (void) unused; (void) n;
  rblcheck_absorb(&ctx, qq, policy.needtxt);
  return rblcheck_decide(&ctx, 0, &verdict);
}

/* what the client sent so far, left where it is (MSG_PEEK): whoever reads
   fd 0 next, the next program or the responder, reads it first, as it came.
   The bytes waiting, 0 none yet, -1 no socket or the client left */
static long peek(void)
{
  /* one byte tells; then FIONREAD how many. A buffer of PEEK_MAX on the
     stack is a page of stack touched (a page fault) at every connection */
  char c;
  int n;
  ssize_t r;
  do r = recv(0, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  while (r == -1 && errno == EINTR);
  if (r > 0) {
    if (ioctl(0, FIONREAD, &n) == -1 || n < 1) return 1;
    return n > PEEK_MAX ? PEEK_MAX : (long) n;
  }
  return r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

static void talked(long r)
{
  if (r > 0) { ctx.pregreet = 1; ctx.early = (unsigned long) r; }
}

/* fd 0 became readable during the DNS wait */
static int ready(void *unused)
{
  (void) unused;
  talked(peek());
  return ctx.pregreet && rblcheck_decide(&ctx, 0, &verdict);
}

/* the greeting's name: tcpserver -l's (INSTALL's line gives control/me,
   which qmail-smtpd greets with), else control/me itself */
static void greethost(char *host)
{
  const char *env = sdu_env_get("TCPLOCALHOST");
  size_t i = 0;
  if (env && *env && str_diff(env, "0")) {
    while (i < HOST_MAX && env[i] > ' ' && env[i] < 127) { host[i] = env[i]; ++i; }
  } else {
    int fd = open(ME, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd == -1 ? -1 : read(fd, host, HOST_MAX);
    if (fd != -1) close(fd);
    while (r > 0 && i < (size_t) r && host[i] > ' ' && host[i] < 127) ++i;
  }
  if (!i) { memcpy(host, "rblcheck.local", 14); i = 14; }
  host[i] = 0;
}

/* the watch: fd 0 is a socket (no peek on a pipe), and what the client
   sent before we wrote anything is looked at now: a bot that talked at
   once may be settled before any query is sent */
static void watch(void)
{
  long r = peek();
  if (r < 0) return;
  talked(r);
  ctx.watch = 1;
}

/* "220-HOST ESMTP", so that a polite client waits for the rest, which the
   next program's own 220 gives (RFC 5321 4.2.1); a client that talks before
   that is a bot. Said only when the answers are slow (sdu_dns's late hook,
   -g ms after the queries went out) or before a greetwait: when they come at
   once, the next program's 220 is the whole greeting, with no second
   segment for the client to wake up for */
SDU_HOT static int greeted;
static void greet(void *unused)
{
  char line[HOST_MAX + 16], *host = line + 4;
  size_t len;
  (void) unused;
  if (!ctx.watch || greeted) return;
  greeted = 1;
  greethost(host);
  len = 4 + strlen(host);
  memcpy(line, "220-", 4);
  memcpy(line + len, " ESMTP\r\n", 8);
  if (write(1, line, len + 8) != (ssize_t) len + 8) { ctx.watch = 0; return; }
  /* the next program's "220 ..." must not wait for the client's ACK of
     this line (Nagle's algorithm against a delayed ACK) */
  sdu_nodelay(1);
  line[len] = 0;
  if (!sdu_env_set(SDU_GREETED, host)) sdu_nomem();
}

/* greetwait: the client watched alone a while longer */
static unsigned long greetwait(unsigned long ms)
{
  unsigned long start = (unsigned long) sdu_ms(), el = 0;
  struct pollfd pf;
  while (el < ms) {
    pf.fd = 0; pf.events = POLLIN; pf.revents = 0;
    if (poll(&pf, 1, (int) (ms - el)) > 0) { talked(peek()); break; }
    el = (unsigned long) sdu_ms() - start;
  }
  return (unsigned long) sdu_ms() - start;
}

static void reply(void *unused, sdu_proxy *p, const sdu_cmd *c, int code, const char *text, size_t len)
{
  (void) unused; (void) code; (void) text; (void) len;
  if (c->verb == SDU_V_GREETING && !sdu_proxy_header(p, header.s)) sdu_nomem();
}

static unsigned int roll(void)
{
  unsigned int r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t) sizeof r) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd == -1 || read(fd, &r, sizeof r) != (ssize_t) sizeof r)
      sdu_fatalsys(SDU_EXIT_TEMP, "unable to read /dev/urandom");
    close(fd);
  }
  return r % 100;
}

static void logkv_lists(sdu_log *l, const char *key, int state, int always)
{
  stralloc sa = {0};
  if (!rblcheck_lists_in(&sa, &ctx, state)) sdu_nomem();
  if (sa.len || always) sdu_log_kvb(l, key, sa.s, sa.len);
  stralloc_free(&sa);
}

static void logline(const char *ip, const rblcheck_verdict *v, const char *reason, long ms)
{
  sdu_log l;
  /* a refusal by a rule that asks for it: the reason sdu-report counts */
  if (!reason && ctx.pregreet && v->refuse && v->rule >= 0 && policy.rule[v->rule].pregreet)
    reason = "pregreet";
  sdu_log_start(&l);
  sdu_log_kv(&l, "ip", ip);
  if (ms >= 0) {
    logkv_lists(&l, "lists", RBLCHECK_YES, 1);
    sdu_log_kvu(&l, "score", v->score);
  }
  sdu_log_kv(&l, "action", rblcheck_actionname(v->action));
  if (v->would) sdu_log_kv(&l, "would", rblcheck_actionname(v->would));
  if (v->rule >= 0) sdu_log_kvu(&l, "rule", policy.rule[v->rule].line);
  if (reason) sdu_log_kv(&l, "reason", reason);
  if (ms >= 0) {
    sdu_log_kvu(&l, "ms", (unsigned long) ms);
    logkv_lists(&l, "failed", RBLCHECK_FAIL, 0);
    logkv_lists(&l, "bad", RBLCHECK_BAD, 0);
    logkv_lists(&l, "skipped", RBLCHECK_PENDING, 0);
    if (ctx.pregreet) {
      sdu_log_kv(&l, "pregreet", "1");
      sdu_log_kvu(&l, "bytes", ctx.early);
    }
    if (waited) sdu_log_kvu(&l, "greetwait", waited);
  }
  sdu_log_emit(&l, 2);
}

static void warn_bad(void)
{
  unsigned int i;
  for (i = 0; i < policy.nlists; ++i)
    if (ctx.state[i] == RBLCHECK_BAD) {
      char a[SDU_IP_FMT];
      sdu_ip ip;
      memset(&ip, 0, sizeof ip);
      memcpy(ip.a, ctx.bad[i], 4);
      sdu_ip_fmt(a, &ip);
      sdu_warn("list ", policy.list[i].name, " answered ", a, ", not a listing: ignored");
    }
}

static int refuse(const char *text)
{
  sdu_respond_cfg cfg;
  sdu_respond_defaults(&cfg);
  cfg.host = "rblcheck.local";
  cfg.refusal = text;
  return sdu_respond(&cfg);
}

/* a key file that cannot be used stops the connection before a byte is
   said, as a broken policy does: 111 unreadable, 100 malformed */
static void loadkeys(void)
{
  int r = sdu_tagkeys_load(&keys, keyfile, &errsa);
  if (r == 1) return;
  if (!stralloc_0(&errsa)) sdu_nomem();
  if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, errsa.s);
  sdu_fatal(SDU_EXIT_PERM, errsa.s);
}

static void passon(char **argv, const char *ip)
{
  sdu_proxy_cfg cfg;
  sdu_hooks h = { 0, 0, reply, 0 };
  stralloc sa = {0};
  if (!rblcheck_lists(&sa, &ctx, ' ') || !stralloc_0(&sa)) sdu_nomem();
  if (!sdu_env_set("RBLCHECK_LISTS", sa.s)) sdu_nomem();
  if (verdict.action == RBLCHECK_A_THROTTLE) {
    /* an operator's lower limit from tcprules stands */
    const char *old = sdu_env_get("THROTTLE_RCPT");
    unsigned long u;
    char num[FMT_ULONG];
    if (!old || !*old || old[scan_ulong(old, &u)] || u > verdict.throttle) {
      num[sdu_fmt_ulong(num, verdict.throttle)] = 0;
      if (!sdu_env_set("THROTTLE_RCPT", num)) sdu_nomem();
    }
  }
  /* for throttle: greylist this client (a tcprules value stands) */
  if (verdict.action == RBLCHECK_A_GREYLIST)
    if (!sdu_env_get("THROTTLE_GREYLIST") && !sdu_env_set("THROTTLE_GREYLIST", "1")) sdu_nomem();
  /* a clean client: one exec, the key file not even opened */
  if (!verdict.header) sdu_exec_next(argv);
  if (keyfile) loadkeys();
  switch (rblcheck_header(&header, &ctx, &verdict, ip, (time_t) sdu_now(), keyfile ? &keys : 0)) {
    case -1: sdu_fatal(SDU_EXIT_TEMP, "unable to start libsodium to sign the tag"); break;
    case 0: sdu_nomem(); break;
  }
  sdu_tagkeys_wipe(&keys);
  if (!stralloc_0(&header)) sdu_nomem();
  sdu_proxy_defaults(&cfg);
  _exit(sdu_proxy_run(argv, &cfg, &h));
}

int rblcheck_main(int argc, char **argv)
{
  const char *file = "/etc/sdu/rblcheck.conf";
  const char *env, *host;
  unsigned long timeout = 10000, start;
  char ipbuf[SDU_IP_FMT], rdns[RDNS_MAX + 1];
  sdu_ip ip;
  unsigned int i, n;
  int opt, check = 0, failclosed = 0, r, pregreet = 1;
  sdu_dnswatch w;

  sdu_iam("rblcheck");
  w.late_ms = GREETLATE;
  while ((opt = getopt(argc, argv, "+f:k:t:g:cCnpP")) != -1)
    switch (opt) {
      case 'f': file = optarg; break;
      case 'k': keyfile = optarg; break;
      case 't': if (!rblcheck_seconds(optarg, &timeout)) sdu_usage(USAGE); break;
      case 'g': if (!*optarg || optarg[scan_ulong(optarg, &w.late_ms)] || w.late_ms > 60000) sdu_usage(USAGE); break;
      case 'c': failclosed = 1; break;
      case 'C': failclosed = 0; break;
      case 'n': check = 1; break;
      case 'p': pregreet = 1; break;
      case 'P': pregreet = 0; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (!check && !*argv) sdu_usage(USAGE);

  memset(&verdict, 0, sizeof verdict);
  verdict.rule = -1;
  if (!check && sdu_env_isset("RELAYCLIENT")) {
    verdict.action = RBLCHECK_A_ACCEPT;
    logline(sdu_env_remoteip(), &verdict, "relayclient", -1);
    sdu_exec_next(argv);
  }

  r = rblcheck_policy_load(&policy, file, &errsa);
  if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", file);
  if (r == 0) sdu_fatal(SDU_EXIT_PERM, errsa.s);
  if (check) {
    if (keyfile) { loadkeys(); sdu_tagkeys_wipe(&keys); }
    return 0;
  }

  rblcheck_ctx_init(&ctx, &policy);
  ctx.harvest = sdu_env_isset("SDU_HARVEST");
  ctx.failclosed = failclosed;

  /* $RBLCHECK, as rblsmtpd reads $RBLSMTPD */
  switch (rblcheck_envrule(sdu_env_get("RBLCHECK"), &reply_sa)) {
    case -1: sdu_nomem(); break;
    case 1:
      verdict.action = RBLCHECK_A_ACCEPT;
      logline(sdu_env_remoteip(), &verdict, "rblcheck", -1);
      sdu_exec_next(argv);
      break;
    case 2: case 3:
      verdict.action = reply_sa.s[0] == '5' ? RBLCHECK_A_REJECT : RBLCHECK_A_TEMPFAIL;
      if (ctx.harvest) {
        verdict.would = verdict.action;
        verdict.action = RBLCHECK_A_HARVEST;
        verdict.header = 1;
      }
      logline(sdu_env_remoteip(), &verdict, "rblcheck", -1);
      if (ctx.harvest) passon(argv, sdu_env_remoteip());
      return refuse(reply_sa.s);
  }

  env = sdu_env_get("TCPREMOTEIP");
  if (!env || !sdu_ip_parse(&ip, env)) {
    sdu_warn("unable to read the client address from TCPREMOTEIP");
    verdict.action = RBLCHECK_A_PASS;
    logline(sdu_env_remoteip(), &verdict, "noip", -1);
    sdu_exec_next(argv);
  }
  sdu_ip_fmt(ipbuf, &ip);
  host = sdu_env_get("TCPREMOTEHOST");
  if (host && *host && strlen(host) <= RDNS_MAX) {
    strcpy(rdns, host);
    if (rdns[strlen(rdns) - 1] == '.') rdns[strlen(rdns) - 1] = 0;
    if (*rdns) ctx.rdns = rdns;
  }
  for (i = 0; i < policy.nrules; ++i)
    if (policy.rule[i].action == RBLCHECK_A_TEMPFAIL && policy.rule[i].percent % 100) {
      ctx.roll = roll();
      break;
    }

  n = policy.nzones;
  for (i = 0; i < n; ++i) {
    if (!sdu_ip_revname(&names[i], &ip, policy.list[policy.zonelist[i]].zone) || !stralloc_0(&names[i]))
      sdu_nomem();
    sdu_dnsq_init(&q[i], names[i].s, SDU_DNS_A);
    if (policy.needtxt) sdu_dnsq_init(&q[n + i], names[i].s, SDU_DNS_TXT);
  }
  /* $RBLCHECK_PREGREET from tcprules: 0 no watch for this client, 1 watch */
  env = sdu_env_get("RBLCHECK_PREGREET");
  if (env && *env) pregreet = *env != '0';
  if (pregreet) watch();
  start = (unsigned long) sdu_ms();
  /* a bot that talked at once, where the rules say enough: no query */
  w.fd = ctx.watch && !ctx.pregreet ? 0 : -1;
  w.ready = ready;
  w.late = greet;
  if (n && !(ctx.pregreet && rblcheck_decide(&ctx, 0, &verdict))
      && sdu_dns_run_watch(q, policy.needtxt ? 2 * n : n, timeout, enough, &w, 0) == -1)
    sdu_warnsys("unable to ask DNS (no servers in /etc/resolv.conf or $DNSCACHEIP?)");
  /* bytes that came after the last look, before the decision */
  if (ctx.watch && !ctx.pregreet) talked(peek());
  rblcheck_absorb(&ctx, q, policy.needtxt);
  if (!rblcheck_decide(&ctx, 0, &verdict)) rblcheck_decide(&ctx, 1, &verdict);
  if (verdict.action == RBLCHECK_A_GREETWAIT) {
    greet(0);   /* the polite keep waiting; a bot that waits for a first line talks */
    waited = greetwait(verdict.greetwait);
    ctx.waited = 1;
    rblcheck_decide(&ctx, 1, &verdict);
  }
  warn_bad();
  logline(ipbuf, &verdict, 0, (long) ((unsigned long) sdu_ms() - start));

  if (verdict.refuse) {
    reply_sa.len = 0;
    if (!rblcheck_text(&reply_sa, &ctx, verdict.text, ipbuf) || !stralloc_0(&reply_sa)) sdu_nomem();
    return refuse(reply_sa.s);
  }
  passon(argv, ipbuf);
  return 0;
}
