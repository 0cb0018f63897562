/* sdu-testproxy.c: a chain link for the tests, built on the proxy engine and
   the responder, whose hooks are set from the command line */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <scan.h>
#include <str.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "sdu_env.h"

#define USAGE "sdu-testproxy [ -q ] [ -w wait ] [ -r refuse ] [ -t tempfail ] [ -c maxrefused ] [ -H header ] [ -i idle ] [ -s session ] [ -R refusal ] [ -G ] prog [ arg ... ]"

static const char *refuse, *tempfail, *header, *waitfor;
static unsigned long maxrefused, refused;
static int quiet;

static int contains(const char *s, size_t len, const char *what)
{
  size_t n = str_len(what), i;
  for (i = 0; i + n <= len; ++i) if (!memcmp(s + i, what, n)) return 1;
  return 0;
}

static int command(void *ctx, sdu_proxy *p, const sdu_cmd *c)
{
  sdu_log l;
  (void) ctx;
  if (!quiet) {
    sdu_log_start(&l);
    sdu_log_kv(&l, "cmd", sdu_smtp_verbname(c->verb));
    sdu_log_kvb(&l, "arg", c->arg, c->arglen);
    sdu_log_emit(&l, 2);
  }
  if (c->verb != SDU_V_RCPT) return SDU_PASS;
  /* always: the proxy holds it until nothing is in flight, then passes it */
  if (waitfor && contains(c->arg, c->arglen, waitfor)) return SDU_WAIT;
  if (refuse && contains(c->arg, c->arglen, refuse)) {
    if (maxrefused && ++refused >= maxrefused) {
      sdu_proxy_answer(p, "421 4.7.0 too many unknown recipients, closing connection");
      return SDU_CLOSE;
    }
    sdu_proxy_answer(p, "550 5.1.1 no such user here");
    return SDU_ANSWER;
  }
  if (tempfail && contains(c->arg, c->arglen, tempfail)) {
    sdu_proxy_answer(p, "451 4.7.1 try again later");
    return SDU_ANSWER;
  }
  return SDU_PASS;
}

static void reply(void *ctx, sdu_proxy *p, const sdu_cmd *c, int code, const char *text, size_t len)
{
  sdu_log l;
  (void) ctx; (void) text; (void) len;
  if (c->verb == SDU_V_GREETING && header && !sdu_proxy_header(p, header)) sdu_nomem();
  if (quiet) return;
  sdu_log_start(&l);
  sdu_log_kv(&l, "reply", sdu_smtp_verbname(c->verb));
  sdu_log_kvu(&l, "code", (unsigned long) code);
  sdu_log_emit(&l, 2);
}

static void end(void *ctx, sdu_proxy *p)
{
  sdu_log l;
  (void) ctx; (void) p;
  sdu_log_start(&l);
  sdu_log_kv(&l, "action", "end");
  sdu_log_emit(&l, 2);
}

int main(int argc, char **argv)
{
  sdu_proxy_cfg cfg;
  sdu_respond_cfg rcfg;
  sdu_hooks h = { 0, command, reply, end };
  const char *refusal = 0;
  int opt, atgreeting = 0;

  sdu_iam("sdu-testproxy");
  sdu_proxy_defaults(&cfg);
  sdu_respond_defaults(&rcfg);
  while ((opt = getopt(argc, argv, "+qw:r:t:c:H:i:s:R:G")) != -1)
    switch (opt) {
      case 'q': quiet = 1; break;
      case 'w': waitfor = optarg; break;
      case 'r': refuse = optarg; break;
      case 't': tempfail = optarg; break;
      case 'c': scan_ulong(optarg, &maxrefused); break;
      case 'H': header = optarg; break;
      case 'i': scan_ulong(optarg, &cfg.idle); rcfg.timeout = cfg.idle; break;
      case 's': scan_ulong(optarg, &cfg.session); break;
      case 'R': refusal = optarg; break;
      case 'G': atgreeting = 1; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (refusal) {
    rcfg.refusal = refusal;
    rcfg.atgreeting = atgreeting;
    return sdu_respond(&rcfg);
  }
  if (!*argv) sdu_usage(USAGE);
  if (sdu_env_isset("RELAYCLIENT")) sdu_exec_next(argv);
  return sdu_proxy_run(argv, &cfg, &h);
}
