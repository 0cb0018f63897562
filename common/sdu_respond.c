/* sdu_respond.c: answer a connection ourselves, as rblsmtpd does, never starting prog */
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <time.h>
#include <byte.h>
#include <str.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "sdu_env.h"

void sdu_respond_defaults(sdu_respond_cfg *cfg)
{
  cfg->host = "sdu.local";
  cfg->refusal = "451 4.3.0 temporary failure";
  cfg->atgreeting = 0;
  cfg->greeted = sdu_env_get(SDU_GREETED);
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

/* The replies to the commands read in one go are gathered in out and
   written together when no whole command is left: one write per batch, so
   that a reply never waits in the kernel for the client's ACK of the one
   before (Nagle's algorithm against the client's delayed ACK: ~40 ms). */
static void reply(stralloc *out, stralloc *sa, int code, const char *a, const char *b)
{
  sa->len = 0;
  if (!stralloc_copys(sa, a)) sdu_nomem();
  if (b && !stralloc_cats(sa, b)) sdu_nomem();
  if (!stralloc_0(sa)) sdu_nomem();
  if (!sdu_smtp_fmtreply(out, code, sa->s)) sdu_nomem();
}

static int flush(const sdu_respond_cfg *cfg, stralloc *out)
{
  int r = writeall(cfg->fdout, out->s, out->len);
  out->len = 0;
  return r;
}

void sdu_nodelay(int fd)
{
  /* fails harmlessly where fd is no TCP socket (a pipe, a Unix socket) */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
  int skipping = 0, refcode, rc = 0;
  unsigned long commands = 0;
  time_t deadline = time(0) + (time_t) cfg->timeout;
  stralloc sa = {0}, out = {0};

  /* links of this process wait to stand in the middle: answer them as the
     next program would have (sdu-chain(1)) */
  if (sdu_proxy_pending()) return sdu_proxy_runfn(respond_child, (void *) cfg);

  sdu_nodelay(cfg->fdout);
  refcode = sdu_smtp_replycode(cfg->refusal, 451);
  /* a greeting that refuses cannot follow "220-": the 220 below completes
     it, and the refusal answers the commands */
  if (cfg->atgreeting && !cfg->greeted) {
    reply(&out, &sa, refcode, cfg->refusal, 0);
    flush(cfg, &out);
    stralloc_free(&sa);
    stralloc_free(&out);
    return 0;
  }
  reply(&out, &sa, 220, cfg->greeted ? cfg->greeted : cfg->host, " ESMTP");
  if (flush(cfg, &out) == -1) { rc = 111; goto done; }

  for (;;) {
    size_t nl = byte_chr(buf, len, '\n');
    if (nl == len) {
      struct pollfd pfd;
      time_t now = time(0);
      ssize_t r;
      if (len == sizeof buf) { skipping = 1; len = 0; continue; }
      /* every whole command is answered: out with the replies */
      if (out.len && flush(cfg, &out) == -1) break;
      if (now >= deadline) {
        reply(&out, &sa, 421, cfg->host, " timeout, closing connection");
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
      int verb;
      if (l && buf[l - 1] == '\r') --l;
      if (++commands > cfg->maxcommands) {
        reply(&out, &sa, 421, cfg->host, " too many commands, closing connection");
        break;
      }
      if (commands == 1 && !skipping && sdu_smtp_nonsmtp(buf, l)) {
        /* HTTP to port 25: no more answers for it. The connection was
           refused and logged already: this line says only how it ended */
        sdu_log_decision(sdu_env_remoteip(), "hangup", 0, "nonsmtp");
        reply(&out, &sa, 554, SDU_SMTP_NONSMTP, 0);
        goto done;
      }
      if (skipping) reply(&out, &sa, 500, "5.5.2 line too long", 0);
      else if (!sdu_smtp_cleanline(buf, l)) reply(&out, &sa, 500, "5.5.2 bad characters in command", 0);
      else if ((verb = sdu_smtp_verb(buf, l, &arg)) == SDU_V_QUIT) {
        reply(&out, &sa, 221, cfg->host, 0);
        goto done;
      } else if (cfg->atgreeting) {
        /* a refusal meant for the greeting, after "220-" (greeted): the
           answer to every command; a 421 closes */
        reply(&out, &sa, refcode, cfg->refusal, 0);
        if (refcode == 421) goto done;
      } else switch (verb) {
        case SDU_V_HELO: case SDU_V_EHLO:
          reply(&out, &sa, 250, cfg->host, 0); break;
        case SDU_V_MAIL: case SDU_V_RSET: case SDU_V_NOOP:
          reply(&out, &sa, 250, "2.0.0 ok", 0); break;
        default:
          reply(&out, &sa, refcode, cfg->refusal, 0); break;
      }
      skipping = 0;
      byte_copy(buf, len - nl - 1, buf + nl + 1);
      len -= nl + 1;
    }
  }
done:
  if (out.len) flush(cfg, &out);
  stralloc_free(&sa);
  stralloc_free(&out);
  return rc;
}
