/* sdu_respond.c: answer a connection ourselves, as rblsmtpd does, never starting prog */
#include <unistd.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <byte.h>
#include <str.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"

void sdu_respond_defaults(sdu_respond_cfg *cfg)
{
  cfg->host = "sdu.local";
  cfg->refusal = "451 4.3.0 temporary failure";
  cfg->atgreeting = 0;
  cfg->timeout = 60;
  cfg->maxcommands = 50;
  cfg->fdin = 0;
  cfg->fdout = 1;
}

static int writeall(int fd, const char *s, size_t len)
{
  while (len) {
    ssize_t w = write(fd, s, len);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    s += w; len -= (size_t) w;
  }
  return 0;
}

static int reply(const sdu_respond_cfg *cfg, stralloc *sa, int code, const char *a, const char *b)
{
  sa->len = 0;
  if (!stralloc_copys(sa, a)) sdu_nomem();
  if (b && !stralloc_cats(sa, b)) sdu_nomem();
  if (!stralloc_0(sa)) sdu_nomem();
  {
    stralloc out = {0};
    int r;
    if (!sdu_smtp_fmtreply(&out, code, sa->s)) sdu_nomem();
    r = writeall(cfg->fdout, out.s, out.len);
    stralloc_free(&out);
    return r;
  }
}

static int respond_child(void *arg)
{
  sdu_respond_cfg cfg = *(const sdu_respond_cfg *) arg;
  cfg.fdin = 0;
  cfg.fdout = 1;
  return sdu_respond(&cfg);
}

int sdu_respond(const sdu_respond_cfg *cfg)
{
  char buf[SDU_SMTP_LINE_MAX];
  size_t len = 0;
  int skipping = 0, refcode;
  unsigned long commands = 0;
  time_t deadline = time(0) + (time_t) cfg->timeout;
  stralloc sa = {0};

  /* links of this process wait to stand in the middle: answer them as the
     next program would have (sdu-chain(1)) */
  if (sdu_proxy_pending()) return sdu_proxy_runfn(respond_child, (void *) cfg);

  refcode = sdu_smtp_replycode(cfg->refusal, 451);
  if (cfg->atgreeting) {
    reply(cfg, &sa, refcode, cfg->refusal, 0);
    stralloc_free(&sa);
    return 0;
  }
  if (reply(cfg, &sa, 220, cfg->host, " ESMTP") == -1) return 111;

  for (;;) {
    size_t nl = byte_chr(buf, len, '\n');
    if (nl == len) {
      struct pollfd pfd;
      time_t now = time(0);
      ssize_t r;
      if (len == sizeof buf) { skipping = 1; len = 0; continue; }
      if (now >= deadline) {
        reply(cfg, &sa, 421, cfg->host, " timeout, closing connection");
        break;
      }
      pfd.fd = cfg->fdin; pfd.events = POLLIN; pfd.revents = 0;
      if (poll(&pfd, 1, (int) (deadline - now) * 1000) <= 0) continue;
      r = read(cfg->fdin, buf + len, sizeof buf - len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      len += (size_t) r;
      continue;
    }
    {
      size_t l = nl, arg;
      int verb, rc = 0;
      if (l && buf[l - 1] == '\r') --l;
      if (++commands > cfg->maxcommands) {
        reply(cfg, &sa, 421, cfg->host, " too many commands, closing connection");
        break;
      }
      if (skipping) rc = reply(cfg, &sa, 500, "5.5.2 line too long", 0);
      else if (!sdu_smtp_cleanline(buf, l)) rc = reply(cfg, &sa, 500, "5.5.2 bad characters in command", 0);
      else switch (verb = sdu_smtp_verb(buf, l, &arg)) {
        case SDU_V_QUIT:
          reply(cfg, &sa, 221, cfg->host, 0);
          stralloc_free(&sa);
          return 0;
        case SDU_V_HELO: case SDU_V_EHLO:
          rc = reply(cfg, &sa, 250, cfg->host, 0); break;
        case SDU_V_MAIL: case SDU_V_RSET: case SDU_V_NOOP:
          rc = reply(cfg, &sa, 250, "2.0.0 ok", 0); break;
        default:
          rc = reply(cfg, &sa, refcode, cfg->refusal, 0); break;
      }
      skipping = 0;
      if (rc == -1) break;
      byte_copy(buf, len - nl - 1, buf + nl + 1);
      len -= nl + 1;
    }
  }
  stralloc_free(&sa);
  return 0;
}
