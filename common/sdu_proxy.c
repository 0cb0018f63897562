/* sdu_proxy.c: the SMTP proxy engine: run the next program on pipes, relay,
   let hooks answer the commands they care about, keep replies in order */
#include <stddef.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <byte.h>
#include <str.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"
#include "sdu_env.h"
#include "sdu_tls.h"
#include "sdu_time.h"

#define BUFSZ 65536           /* each of the four buffers */
#define SMALL 640             /* where each begins: the four in the state's first page */
#define HIGHWATER (BUFSZ / 2) /* stop reading a side whose output is this full */
#define QMAX 256              /* commands in flight; the client waits beyond */
#define REPLY_MAX 16384       /* longest downstream reply kept whole */
#define REPLY_LINE 1000       /* longest downstream reply line passed on */
#define HEADER_MAX 8192       /* injected header lines, per link */
#define LEVELS 4              /* links of one process in the middle */
/* ends the injected lines when the client's first line is a continuation
   line: that line folds into this empty field, never into a tag */
#define FOLDSTOP "X-Sdu-Continuation:\r\n"

/* a command awaiting its reply, from downstream or from us */
struct pend {
  int verb;
  int local;          /* 1: the reply is text, already known */
  int close;          /* end the session after this reply */
  int seen;           /* local: the links before this one see it as downstream's */
  char *text;         /* local reply, CRLF included */
  size_t textlen;
};

enum { M_CMD, M_WAITDATA, M_DATA, M_WAITAUTH, M_AUTHLINE };

/* STARTTLS: off, our 220 queued (nothing more is read in plaintext), the
   handshake, on (the client's bytes go through sdu_tls) */
enum { TLS_OFF, TLS_READY, TLS_SHAKE, TLS_ON };
#define TLSHDR_MAX 160        /* our header line: "X-Sdu-TLS: version=... cipher=..." */

/* where the message data scanner is: at the start of a line after the
   client's CRLF (a dot there is the client's: stuffing, or the end), at the
   start of a line after a bare LF made CRLF (a dot there is text and gets
   stuffed), or inside a line */
enum { D_BOL, D_LFBOL, D_MID };

/* what a bare LF in the message data gets (SDU_BARELF) */
enum { BARELF_NORMALIZE, BARELF_REJECT };

/* A buffer holds up to BUFSZ bytes. The first session of a process starts
   each in a small part (SMALL bytes, in the page of the session's state)
   and moves it to its big one when more is needed: a session of short
   commands and replies touches one page for its state and buffers, not
   five. A buffer keeps its big part when it trades places with another
   (data()). */
struct buf { char *s; size_t len, cap; char *big; };

/* one link's hooks; links that run in one process (sdu-chain(1)) share one
   proxy: level 0 is the client's side, the last level downstream's */
struct level {
  const sdu_hooks *h;
  const char *name;    /* the link's, for its messages */
  stralloc header;     /* injected after each 354 */
};

struct sdu_proxy {
  const sdu_proxy_cfg *cfg;
  struct level lev[LEVELS];
  int nlev, cur;       /* cur: the level whose hook runs */
  int fdin, fdout;     /* client */
  int tochild, fromchild;
  pid_t pid;
  struct buf cin, cout, din, dout;
  char *bufs;          /* their big parts, in one block */
  unsigned int qhead, qlen;  /* of q, below */
  unsigned int qused;  /* q's entries ever used: its first ones */
  int mode, dstate, skipping;
  int authed;          /* downstream accepted AUTH: no hook sees the rest */
  int dfirst;          /* the message data has not begun: the lines to inject wait */
  int dhold;           /* the scanner holds bytes back until the next ones come */
  int barelf;          /* BARELF_* */
  int dbad;            /* this message had a bare LF and is refused */
  int aborted;         /* downstream was cut off in the data of a refused message */
  int cineof, cingone, coutdead, childgone, closing, closequeued, finished;
  int cinready;        /* the last read from the client brought bytes */
  int held, heldlev;   /* the first command in cin waits for the replies in
                          flight, at the hook of level heldlev (SDU_WAIT) */
  int pipebig;         /* the pipe to downstream was made roomier */
  unsigned long seq;
  stralloc answer;     /* set by hooks */
  stralloc reply;      /* downstream reply being assembled */
  stralloc tmp;
  int lastcode;        /* of downstream's last reply */
  /* STARTTLS, under the client's buffers (sdu_tls.h): the hooks never know */
  sdu_tls *tls;        /* the site's configuration, read at STARTTLS */
  int tlsoffer;        /* 1 offered, 0 not (yet), -1 not usable */
  int tlsstate, authtls;
  int ehlo, intrans;   /* downstream took EHLO; a mail transaction is open */
  int rwfd, wwfd;      /* what a TLS read and a TLS write wait for */
  short rwant, wwant;
  size_t tlsjunk;      /* bytes after STARTTLS, before the handshake: dropped */
  unsigned long long tlsdl; /* the handshake's deadline */
  char tlshdr[TLSHDR_MAX];  /* injected below the links' lines */
  size_t tlshdrlen;
  /* rblcheck wrote "220-HOST" at connect: a greeting that refuses cannot
     follow it (sdu_respond.c does the same for the links) */
  const char *greeted;      /* HOST ($RBLCHECK_GREETED), or 0 */
  stralloc grefusal;        /* downstream's refusal at the greeting: the
                               answer to every command (len 0: none) */
  unsigned long long last, start; /* milliseconds, monotonic */
  unsigned long long now;   /* the clock, read once a turn of the loop */
  char small[4 * SMALL];    /* the buffers' small parts (first session) */
  /* last: the part of the ring a session uses is its first entries */
  struct pend q[QMAX];
};

/* the hooks of level i run under that link's name; the engine's own
   messages go under the innermost link's, whose downstream it runs */
static const sdu_hooks *as(sdu_proxy *p, int i)
{
  p->cur = i < 0 ? 0 : i;
  errmsg_iam(p->lev[i < 0 ? p->nlev - 1 : i].name);
  return i < 0 ? 0 : p->lev[i].h;
}

void sdu_proxy_defaults(sdu_proxy_cfg *cfg)
{
  cfg->idle = 1200;     /* qmail-smtpd's timeoutsmtpd */
  cfg->session = 3600;
  cfg->childwait = 10;
  cfg->fdin = 0;
  cfg->fdout = 1;
}

void sdu_proxy_answer(sdu_proxy *p, const char *reply)
{
  p->answer.len = 0;
  if (!stralloc_cats(&p->answer, reply)) p->answer.len = 0;
}

int sdu_proxy_header(sdu_proxy *p, const char *lines)
{
  stralloc *h = &p->lev[p->cur].header;
  size_t i, len = str_len(lines);
  h->len = 0;
  for (i = 0; i < len; ++i) {
    if (lines[i] == '\n' && (i == 0 || lines[i - 1] != '\r'))
      if (!stralloc_append(h, "\r")) return 0;
    if (!stralloc_append(h, lines + i)) return 0;
  }
  if (h->len && h->s[h->len - 1] != '\n')
    if (!stralloc_catb(h, "\r\n", 2)) return 0;
  if (h->len > HEADER_MAX) { h->len = 0; return 0; }
  return 1;
}

int sdu_proxy_authenticated(const sdu_proxy *p) { return p->authed; }

unsigned long long sdu_proxy_now(const sdu_proxy *p)
{
  return sdu_now_at(p->now);
}

/* libowfat's byte_chr and byte_copy go a byte at a time; the data path
   wants libc's vectorised memchr and memmove */
static size_t findnl(const char *s, size_t len)
{
  const char *p = memchr(s, '\n', len);
  return p ? (size_t) (p - s) : len;
}

/* a buffer's bytes into its big part */
static void grow(struct buf *b)
{
  if (b->cap == BUFSZ) return;
  memcpy(b->big, b->s, b->len);
  b->s = b->big;
  b->cap = BUFSZ;
}

/* room for a read of up to max bytes into b: what is left of its small
   part, the big one once that is full */
static size_t readroom(struct buf *b, size_t max)
{
  if (b->len == b->cap) grow(b);
  return b->cap - b->len < max ? b->cap - b->len : max;
}

/* after a read of got bytes into room: a read that filled the small part
   moves the buffer to the big one, so that a long message goes on in big
   pieces, not a small part at a time */
static void readdone(struct buf *b, ssize_t got, size_t room)
{
  if (got > 0 && (size_t) got == room) grow(b);
}

static int addb(struct buf *b, const char *s, size_t len)
{
  /* the writers stop reading before a buffer can overflow; this is the bound */
  if (len > BUFSZ - b->len) return 0;
  if (len > b->cap - b->len) grow(b);
  memmove(b->s + b->len, s, len);
  b->len += len;
  return 1;
}

static void consume(struct buf *b, size_t n)
{
  if (n >= b->len) { b->len = 0; return; }
  memmove(b->s, b->s + n, b->len - n);
  b->len -= n;
}

static struct pend *qtail_add(sdu_proxy *p, int verb)
{
  struct pend *e;
  e = &p->q[(p->qhead + p->qlen) % QMAX];
  if ((unsigned int) (e - p->q) >= p->qused) p->qused = (unsigned int) (e - p->q) + 1;
  ++p->qlen;
  e->verb = verb; e->local = 0; e->close = 0; e->seen = 0; e->textlen = 0;
  return e;
}

/* queue a reply of our own, in its place among downstream's; the links
   before level seen take it for downstream's */
static void qlocal_seen(sdu_proxy *p, int verb, int dfltcode, const char *text, int close, int seen)
{
  struct pend *e = qtail_add(p, verb);
  p->tmp.len = 0;
  if (!sdu_smtp_fmtreply(&p->tmp, dfltcode, text)) sdu_nomem();
  e->local = 1;
  e->close = close;
  if (!e->text) { e->text = malloc(SDU_SMTP_TEXT_MAX + 16); if (!e->text) sdu_nomem(); }
  e->textlen = p->tmp.len;
  e->seen = seen;
  memmove(e->text, p->tmp.s, e->textlen);
}

static void qlocal(sdu_proxy *p, int verb, int dfltcode, const char *text, int close)
{
  qlocal_seen(p, verb, dfltcode, text, close, 0);
}

static void closechild(sdu_proxy *p)
{
  if (p->tochild >= 0) { close(p->tochild); p->tochild = -1; }
}

static void greetrefusal(sdu_proxy *p, const char *r, size_t len);
#define GONE "421 4.3.0 the mail server is not available, closing connection\r\n"

/* downstream is gone: the first reply it owed becomes ours, then we close */
static void downstream_died(sdu_proxy *p)
{
  unsigned int i;
  int inmsg = p->mode == M_DATA, greeting = 0;
  if (p->childgone) return;
  p->childgone = 1;
  closechild(p);
  for (i = 0; i < p->qlen; ++i) {
    struct pend *e = &p->q[(p->qhead + i) % QMAX];
    if (!e->local) {
      if (e->verb == SDU_V_DOT) inmsg = 1;
      if (e->verb == SDU_V_GREETING) greeting = 1;
      p->qlen = i;
      break;
    }
  }
  if (greeting && p->greeted) {
    /* nothing out but rblcheck's "220-": completed, and the 421 answers
       the first command */
    greetrefusal(p, GONE, sizeof GONE - 1);
    addb(&p->cout, p->tmp.s, p->tmp.len);
    p->mode = M_CMD;
    return;
  }
  if (inmsg)
    qlocal(p, SDU_V_DOT, 451, "4.3.0 message not accepted: the mail server failed, try again later", 1);
  else
    qlocal(p, SDU_V_OTHER, 421, "4.3.0 the mail server is not available, closing connection", 1);
  p->mode = M_CMD;
  p->cin.len = 0;
  p->cineof = 1;
  p->held = 0;
}

/* a reply as the links below level upto see it: the innermost first */
static void hook_reply(sdu_proxy *p, int upto, int verb, int code, const char *text, size_t len)
{
  sdu_cmd c;
  int i;
  if (p->authed) return;
  byte_zero(&c, sizeof c);
  c.verb = verb;
  c.seq = p->seq;
  for (i = upto - 1; i >= 0; --i) {
    const sdu_hooks *h = as(p, i);
    if (h->reply) h->reply(h->ctx, p, &c, code, text, len);
  }
  as(p, -1);
}

/* after "220-HOST" a refusal at the greeting (r: its lines) becomes
   "220 HOST ESMTP", put in p->tmp, and its last line the answer to every
   later command; downstream is done with */
static void greetrefusal(sdu_proxy *p, const char *r, size_t len)
{
  char host[300];
  size_t last, hl = str_len(p->greeted);
  int code = 0, more;
  if (len >= 2 && r[len - 1] == '\n') len -= r[len - 2] == '\r' ? 2 : 1;
  last = len;
  while (last && r[last - 1] != '\n') --last;
  /* only a refusal answers the commands: a broken greeting (250, 354)
     would take DATA, the lines and the dot, and the message would be
     lost; it becomes our 421 */
  if (len - last < 3 || !sdu_smtp_replyline(r + last, len - last > 4 ? 4 : len - last, &code, &more)
      || code < 400 || code > 599) {
    r = GONE; len = sizeof GONE - 3; last = 0;
  }
  p->grefusal.len = 0;
  if (!stralloc_catb(&p->grefusal, r + last, len - last) || !stralloc_0(&p->grefusal)) sdu_nomem();
  if (hl > sizeof host - 7) hl = sizeof host - 7;
  memcpy(host, p->greeted, hl);
  memcpy(host + hl, " ESMTP", 7);
  p->tmp.len = 0;
  if (!sdu_smtp_fmtreply(&p->tmp, 220, host)) sdu_nomem();
  p->childgone = 1;
  closechild(p);
}

/* a whole reply from downstream, for the command at the head of the queue */
static void downstream_reply(sdu_proxy *p, const char *r, size_t len, int code)
{
  struct pend *e = p->qlen ? &p->q[p->qhead] : 0;
  int verb = e ? e->verb : SDU_V_OTHER;

  hook_reply(p, p->nlev, verb, code, r, len);
  if (verb == SDU_V_GREETING && code != 220 && p->greeted) {
    greetrefusal(p, r, len);
    r = p->tmp.s; len = p->tmp.len;
  }
  if (verb == SDU_V_EHLO && code == 250) {
    /* whether the files are there is looked at once a client could use
       them; they are read when one asks (a client that never does costs
       nothing of the library) */
    if (!p->tlsoffer) p->tlsoffer = sdu_tls_offer() ? 1 : -1;
    p->tmp.len = 0;
    if (!sdu_smtp_ehloedit(&p->tmp, r, len, p->tlsoffer > 0 && p->tlsstate == TLS_OFF,
          p->authtls && p->tlsstate != TLS_ON)) sdu_nomem();
    r = p->tmp.s; len = p->tmp.len;
  }
  /* what STARTTLS must know: an EHLO taken, no transaction open */
  if (code >= 200 && code < 300 && (verb == SDU_V_EHLO || verb == SDU_V_HELO)) {
    p->ehlo = verb == SDU_V_EHLO;
    p->intrans = 0;
  }
  if (verb == SDU_V_MAIL && code >= 200 && code < 300) p->intrans = 1;
  if (verb == SDU_V_DOT || (verb == SDU_V_RSET && code < 300)) p->intrans = 0;
  if (!addb(&p->cout, r, len)) { /* bounded by the high-water mark */ }
  if (!e) return;   /* unsolicited (say a 421 before closing): passed on */
  p->qhead = (p->qhead + 1) % QMAX;
  --p->qlen;
  switch (verb) {
    case SDU_V_DATA:
      if (code == 354) {
        p->mode = M_DATA;
        if (p->tlsstate == TLS_ON) sdu_tls_streaming(p->tls, 1);
        p->dstate = D_BOL;
        p->dbad = 0;
        /* the lines go in with the first byte of data, which says
           whether they need FOLDSTOP */
        p->dfirst = !p->authed;
      } else p->mode = M_CMD;
      break;
    case SDU_V_AUTH: case SDU_V_AUTHLINE:
      if (code == 334) p->mode = M_AUTHLINE;
      else {
        /* after a 235 the rest is the client's own business: no hook sees
           it, but the engine still reads commands and data, so that what
           goes on holds no end of data the client did not send */
        if (code == 235) p->authed = 1;
        p->mode = M_CMD;
      }
      break;
  }
}

/* move what can go to the client, in order */
static void drain(sdu_proxy *p)
{
  for (;;) {
    struct pend *e;
    if (p->closing || p->cout.len > HIGHWATER) return;
    if (p->qlen && (e = &p->q[p->qhead])->local) {
      if (e->seen) hook_reply(p, e->seen, e->verb, sdu_smtp_replycode(e->text, 451), e->text, e->textlen);
      addb(&p->cout, e->text, e->textlen);
      p->qhead = (p->qhead + 1) % QMAX;
      --p->qlen;
      if (e->close) { p->closing = 1; p->qlen = 0; return; }
      continue;
    }
    /* a downstream reply: whole lines in din, up to a last line */
    {
      size_t pos = 0;
      int done = 0, code = 0;
      while (!done) {
        size_t nl = findnl(p->din.s + pos, p->din.len - pos);
        size_t l;
        int more;
        if (pos + nl == p->din.len) {
          if (p->din.len == BUFSZ && pos == 0) {
            sdu_warn("reply line from downstream too long");
            p->din.len = 0;
            downstream_died(p);
            return;
          }
          break;
        }
        l = nl;
        if (l && p->din.s[pos + l - 1] == '\r') --l;
        if (!sdu_smtp_replyline(p->din.s + pos, l, &code, &more)) more = 0, code = 421;
        /* keep the first lines and always the last; cut each line */
        if (!more || p->reply.len < REPLY_MAX) {
          if (!stralloc_catb(&p->reply, p->din.s + pos, l > REPLY_LINE ? REPLY_LINE : l)) sdu_nomem();
          if (!stralloc_catb(&p->reply, "\r\n", 2)) sdu_nomem();
        }
        pos += nl + 1;
        if (!more) done = 1;
      }
      consume(&p->din, pos);
      if (!done) return;
      p->lastcode = code;
      downstream_reply(p, p->reply.s, p->reply.len, code);
      p->reply.len = 0;
    }
  }
}

/* STARTTLS with nothing in flight: RFC 3207's replies, or our 220, after
   which the proxy reads nothing more in plaintext (commands() drops what
   came with it: nothing pipelined before the handshake survives it) */
static void starttls(sdu_proxy *p, const sdu_cmd *c)
{
  if (c->arglen) qlocal(p, c->verb, 501, "5.5.4 Syntax error (no parameters allowed)", 0);
  else if (p->tlsstate == TLS_ON) qlocal(p, c->verb, 503, "5.5.1 TLS already active", 0);
  else if (!p->ehlo) qlocal(p, c->verb, 503, "5.5.1 send EHLO first", 0);
  else if (p->tlsoffer <= 0) qlocal(p, c->verb, 454, "4.7.0 TLS not available", 0);
  else if (p->intrans) qlocal(p, c->verb, 503, "5.5.1 not inside a mail transaction", 0);
  else if (p->authed) qlocal(p, c->verb, 503, "5.5.1 already authenticated", 0);
  else if (!p->tls && !(p->tls = sdu_tls_server())) {
    /* offered, but the files do not make a server (warned): never again */
    p->tlsoffer = -1;
    qlocal(p, c->verb, 454, "4.7.0 TLS not available", 0);
  } else {
    qlocal(p, c->verb, 220, "2.0.0 Ready to start TLS", 0);
    p->tlsstate = TLS_READY;
  }
}

/* the handshake is done: a fresh start (RFC 3207: the client's next EHLO
   goes to downstream, which takes it as one), the log's and the message's
   words for it */
static void tls_on(sdu_proxy *p)
{
  const char *v = sdu_tls_version(p->tls), *ci = sdu_tls_cipher(p->tls);
  char f[TLSHDR_MAX];
  size_t vl = str_len(v), cl = str_len(ci), i, k;
  p->tlsstate = TLS_ON;
  p->ehlo = p->intrans = 0;
  p->rwfd = p->fdin; p->rwant = POLLIN;
  p->wwfd = p->fdout; p->wwant = POLLOUT;
  /* the library's names, printable and without blanks whatever it says */
  if (vl > 32) vl = 32;
  if (cl > 64) cl = 64;
  i = 0;
  memcpy(f + i, " tls=", 5); i += 5;
  memcpy(f + i, v, vl); i += vl;
  memcpy(f + i, " cipher=", 8); i += 8;
  memcpy(f + i, ci, cl); i += cl;
  f[i] = 0;
  for (k = 5; k < i; ++k) {
    if (k == 5 + vl) k += 8;   /* " cipher=" */
    if (k < i && (f[k] <= ' ' || f[k] > '~')) f[k] = '_';
  }
  sdu_log_session(f);
  /* " tls=V cipher=C" becomes "X-Sdu-TLS: version=V cipher=C" */
  memcpy(p->tlshdr, "X-Sdu-TLS: version=", 19);
  memcpy(p->tlshdr + 19, f + 5, i - 5);
  memcpy(p->tlshdr + 19 + i - 5, "\r\n", 2);
  p->tlshdrlen = 19 + i - 5 + 2;
}

/* the client's bytes, through TLS once it is on */
static ssize_t cread(sdu_proxy *p, char *buf, size_t len)
{
  ssize_t r;
  if (p->tlsstate != TLS_ON) return read(p->fdin, buf, len);
  r = sdu_tls_read(p->tls, buf, len);
  if (r < 0 && errno == EAGAIN) p->rwant = sdu_tls_want(p->tls, &p->rwfd);
  else { p->rwfd = p->fdin; p->rwant = POLLIN; }
  return r;
}

/* a bare CR (one that no LF follows) is a line end to some servers and to
   none of the others: it becomes a space, in place, so that no server
   behind us can find a line end, let alone an end of data, that the client
   did not send */
static void barecr(char *s, size_t len)
{
  char *c;
  while (len && (c = memchr(s, '\r', len))) {
    *c = ' ';
    len -= (size_t) (c + 1 - s);
    s = c + 1;
  }
}

/* the session's first line is an HTTP request: a proxy abuser, not a mail
   client. Refused before any link sees it, and downstream gets nothing;
   under SDU_HARVEST only logged (0: the line goes on as any other) */
static int nonsmtp(sdu_proxy *p)
{
  int harvest = sdu_env_isset("SDU_HARVEST");
  sdu_log_decision(sdu_env_remoteip(), harvest ? "harvest" : "reject", harvest ? "reject" : 0, "nonsmtp");
  if (harvest) return 0;
  qlocal(p, SDU_V_BAD, 554, SDU_SMTP_NONSMTP, 1);
  p->closequeued = 1;
  return 1;
}

/* one command line from the client (no CRLF); 0 when it waits (SDU_WAIT) */
static int command(sdu_proxy *p, const char *line, size_t len)
{
  sdu_cmd c;
  int action = SDU_PASS, i, first = 0;
  size_t arg;

  if (p->held) { first = p->heldlev; p->held = 0; }  /* the same command again */
  else if (++p->seq == 1 && p->mode == M_CMD && !p->skipping
           && sdu_smtp_nonsmtp(line, len) && nonsmtp(p))
    return 1;
  if (p->mode == M_AUTHLINE) {
    /* not a command: the client's answer to a 334 goes on untouched */
    qtail_add(p, SDU_V_AUTHLINE);
    addb(&p->dout, line, len);
    addb(&p->dout, "\r\n", 2);
    p->mode = M_WAITAUTH;
    return 1;
  }
  if (p->skipping) {
    qlocal(p, SDU_V_BAD, 500, "5.5.2 line too long", 0);
    return 1;
  }
  if (!sdu_smtp_cleanline(line, len)) {
    qlocal(p, SDU_V_BAD, 500, "5.5.2 bad characters in command", 0);
    return 1;
  }
  byte_zero(&c, sizeof c);
  c.verb = sdu_smtp_verb(line, len, &arg);
  c.line = line; c.len = len;
  c.arg = line + arg; c.arglen = len - arg;
  c.seq = p->seq;
  if (p->grefusal.len) {
    /* downstream refused at the greeting, after "220-": its refusal
       answers every command (a 421 closes), as sdu_respond's does */
    int code = sdu_smtp_replycode(p->grefusal.s, 421);
    if (c.verb == SDU_V_QUIT) qlocal(p, c.verb, 221, "2.0.0 closing connection", 1);
    else qlocal(p, c.verb, code, p->grefusal.s, code == 421 || c.seq > 50);
    if (c.verb == SDU_V_QUIT || code == 421 || c.seq > 50) p->closequeued = 1;
    return 1;
  }
  switch (c.verb) {
    case SDU_V_STARTTLS:
      /* decided on what the replies before it said, and nothing may be
         in flight when the handshake begins */
      if (p->qlen) { p->held = 1; p->heldlev = 0; return 0; }
      starttls(p, &c);
      return 1;
    case SDU_V_AUTH:
      if (p->authtls && p->tlsstate != TLS_ON) {
        qlocal(p, c.verb, 530, "5.7.0 Must issue a STARTTLS command first", 0);
        return 1;
      }
      break;
    case SDU_V_BDAT:
      qlocal(p, c.verb, 502, "5.5.1 BDAT not supported, use DATA", 0);
      return 1;
  }
  /* from the client's side in: the first link that answers ends the walk */
  for (i = first; i < p->nlev && !p->authed; ++i) {
    const sdu_hooks *h = as(p, i);
    p->answer.len = 0;
    if (h->command) action = h->command(h->ctx, p, &c);
    if (action == SDU_WAIT) {
      if (p->qlen) { p->held = 1; p->heldlev = i; as(p, -1); return 0; }
      action = SDU_PASS;
    }
    if (action != SDU_PASS) break;
  }
  as(p, -1);
  if (action != SDU_PASS) {
    int seen = i;
    if (!stralloc_0(&p->answer)) sdu_nomem();
    if (action == SDU_CLOSE) {
      qlocal_seen(p, c.verb, 421, p->answer.len > 1 ? p->answer.s : "4.3.0 closing connection", 1, seen);
      p->closequeued = 1;   /* nothing after this command goes on */
    }
    else
      qlocal_seen(p, c.verb, 451, p->answer.len > 1 ? p->answer.s : "4.3.0 try again later", 0, seen);
    return 1;
  }
  qtail_add(p, c.verb);
  addb(&p->dout, line, len);
  addb(&p->dout, "\r\n", 2);
  if (c.verb == SDU_V_DATA) p->mode = M_WAITDATA;
  else if (c.verb == SDU_V_AUTH) p->mode = M_WAITAUTH;
  return 1;
}

/* parse client commands while there is room for them */
static void commands(sdu_proxy *p)
{
  size_t pos = 0;
  while (!p->closing && !p->closequeued && (p->mode == M_CMD || p->mode == M_AUTHLINE)
         && p->qlen < QMAX - 1 && p->dout.len < HIGHWATER && !(p->held && p->qlen)
         && p->tlsstate != TLS_READY) {
    size_t nl = findnl(p->cin.s + pos, p->cin.len - pos);
    size_t l;
    if (pos + nl == p->cin.len) {
      if (pos == 0 && p->cin.len >= SDU_SMTP_LINE_MAX) {
        /* no end in sight: drop it, answer 500 when the line ends */
        p->skipping = 1;
        p->cin.len = 0;
      }
      break;
    }
    l = nl;
    if (l && p->cin.s[pos + l - 1] == '\r') --l;
    if (nl + 1 > SDU_SMTP_LINE_MAX) p->skipping = 1;  /* came whole, still too long */
    /* the client's answer to a 334 goes on as it is, but for a bare CR */
    if (p->mode == M_AUTHLINE) barecr(p->cin.s + pos, l);
    if (!command(p, p->cin.s + pos, l)) break;  /* it stays in cin */
    p->skipping = 0;
    pos += nl + 1;
  }
  consume(&p->cin, pos);
  /* what came after STARTTLS in plaintext is never executed */
  if (p->tlsstate == TLS_READY) { p->tlsjunk += p->cin.len; p->cin.len = 0; }
}

/* the links' lines, in chain order: rblcheck's tag first, right below the
   Received line of the server behind us, where spamgrab looks for it; 0
   when they do not fit yet */
static int inject(sdu_proxy *p, int fold)
{
  size_t total = 0;
  int i;
  for (i = 0; i < p->nlev; ++i) total += p->lev[i].header.len;
  total += p->tlshdrlen;
  if (total && fold) total += sizeof FOLDSTOP - 1;
  if (total > BUFSZ - 16 - p->dout.len) return 0;
  for (i = 0; i < p->nlev; ++i)
    if (p->lev[i].header.len) addb(&p->dout, p->lev[i].header.s, p->lev[i].header.len);
  /* ours below the links', so that rblcheck's tag stays right below the
     Received line of the server behind us */
  if (p->tlshdrlen) addb(&p->dout, p->tlshdr, p->tlshdrlen);
  if (total && fold) addb(&p->dout, FOLDSTOP, sizeof FOLDSTOP - 1);
  return 1;
}

/* the client's first line reaches downstream as a continuation line: it
   begins with a blank once the client's dot stuffing is undone and a bare
   CR is a space (" X", "\tX", "\rX", ". X", ".\tX", ".\rX"; the scanner
   below makes those changes). 1 it does, 0 it does not, -1 the bytes so
   far cannot tell */
static int foldsfirst(const char *s, size_t n)
{
  size_t i = n && s[0] == '.';
  if (i >= n) return -1;
  if (s[i] == ' ' || s[i] == '\t') return 1;
  if (s[i] != '\r') return 0;
  if (i + 1 >= n) return -1;
  return s[i + 1] != '\n';
}

/* a bare LF in a message: refused (SDU_BARELF=reject), downstream is cut
   off before the end of data, so that it takes nothing */
static void dbad(sdu_proxy *p)
{
  if (p->barelf != BARELF_REJECT) return;
  p->dbad = 1;
  if (p->aborted) return;
  p->aborted = 1;
  p->dout.len = 0;
  closechild(p);
  if (p->fromchild >= 0) { close(p->fromchild); p->fromchild = -1; }
}

/* relay message data, finding its end: only the client's CRLF.CRLF. A bare
   LF becomes CRLF, and a line after it that begins with a dot gets another
   one, so that downstream stores the text the client sent and sees the end
   exactly where we do; a bare CR becomes a space. Text that needs none of
   this is handed over whole */
static void data(sdu_proxy *p)
{
  char *s = p->cin.s;
  size_t n = p->cin.len, i = 0, from = 0;
  int st = p->dstate, end = 0;

  p->dhold = 0;
  if (p->dfirst) {
    int fold = foldsfirst(s, n);
    if (fold < 0) { p->dhold = n > 0; return; }
    if (!inject(p, fold)) return;
    p->dfirst = 0;
  }
  while (i < n && p->dout.len + (i - from) < BUFSZ - 8) {
    if (st == D_MID) {
      size_t room = BUFSZ - 8 - p->dout.len - (i - from);
      size_t span = n - i < room ? n - i : room;
      size_t k = findnl(s + i, span);
      if (k == span) {
        /* a CR at the end may be the start of a CRLF: wait for what follows */
        if (s[i + span - 1] == '\r') {
          barecr(s + i, span - 1);
          i += span - 1;
          if (i + 1 == n) p->dhold = 1;
          break;
        }
        barecr(s + i, span);
        i += span;
        continue;
      }
      if (k && s[i + k - 1] == '\r') {
        barecr(s + i, k - 1);
        i += k + 1;
        st = D_BOL;
        continue;
      }
      barecr(s + i, k);
      i += k;
      /* s[i] is a bare LF */
      dbad(p);
      addb(&p->dout, s + from, i - from);
      addb(&p->dout, "\r\n", 2);
      from = ++i;
      st = D_LFBOL;
      continue;
    }
    /* the start of a line: anything but a dot is looked at inside it */
    if (s[i] != '.') { st = D_MID; continue; }
    if (st == D_LFBOL) {
      /* the client's dot in the middle of its line: text, stuffed */
      addb(&p->dout, s + from, i - from);
      addb(&p->dout, ".", 1);
      from = i++;
      st = D_MID;
      continue;
    }
    /* the client's dot: its end of data, or stuffing */
    if (i + 1 >= n) { p->dhold = 1; break; }
    if (s[i + 1] == '\n') {
      /* the stuffing of a line that a bare LF ends: an empty line */
      dbad(p);
      addb(&p->dout, s + from, i - from);
      addb(&p->dout, "\r\n", 2);
      from = i += 2;
      st = D_LFBOL;
      continue;
    }
    if (s[i + 1] != '\r') { ++i; st = D_MID; continue; }
    if (i + 2 >= n) { p->dhold = 1; break; }
    if (s[i + 2] == '\n') { i += 3; end = 1; break; }
    s[i + 1] = ' ';
    i += 2;
    st = D_MID;
  }
  if (p->dbad) {
    /* read to the end, forward nothing */
    p->dout.len = 0;
    consume(&p->cin, i);
  } else if (!end && !from && i == n && !p->dout.len) {
    /* all of it goes on unchanged: hand the buffer over instead of copying */
    struct buf t = p->dout;
    p->dout = p->cin;
    p->cin = t;
  } else {
    addb(&p->dout, s + from, i - from);
    consume(&p->cin, i);
  }
  p->dstate = st;
  if (!end) return;
  p->mode = M_CMD;
  if (p->tlsstate == TLS_ON) sdu_tls_streaming(p->tls, 0);
  p->dstate = D_BOL;
  if (!p->dbad) { qtail_add(p, SDU_V_DOT); return; }
  sdu_log_decision(sdu_env_remoteip(), "reject", 0, "barelf");
  /* the links before us see the refusal as downstream's; downstream is
     gone, so the session ends after it */
  qlocal_seen(p, SDU_V_DOT, 550, "5.5.2 bare LF in message, lines must end in CRLF", 0, p->nlev);
  qlocal(p, SDU_V_OTHER, 421, "4.3.0 closing connection", 1);
  p->closequeued = 1;
}

static void parse(sdu_proxy *p)
{
  int before;
  do {
    before = p->mode;
    if (p->mode == M_DATA) data(p);
    if (p->mode == M_CMD || p->mode == M_AUTHLINE) {
      commands(p);
      /* a last line the client never ended will not be answered */
      if (p->cineof && p->mode == M_CMD && findnl(p->cin.s, p->cin.len) == p->cin.len)
        p->cin.len = 0;
    }
  } while (p->mode != before && !p->closing);
}

/* 1 bytes came, 0 none yet, -1 the client is gone */
static int readclient(sdu_proxy *p, unsigned long long now)
{
  /* in the data, leave the scanner its margin so that a chunk that needs
     no change can be handed over whole */
  size_t room = BUFSZ - p->cin.len;
  ssize_t got;
  if (p->mode == M_DATA && room > 16) room -= 16;
  room = readroom(&p->cin, room);
  got = cread(p, p->cin.s + p->cin.len, room);
  p->cinready = got > 0;
  if (got > 0) { p->cin.len += (size_t) got; readdone(&p->cin, got, room); p->last = now; return 1; }
  if (got == 0 || (errno != EAGAIN && errno != EINTR)) { p->cineof = 1; return -1; }
  return 0;
}

static int setnonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1) return -1;
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* vfork, not fork: the child shares our memory until it execs, so starting
   it copies no page tables and costs no copy-on-write faults (under a flood a
   fork and its teardown cost about as much as the relay). Not posix_spawn:
   glibc's child calls sigaction for each of the 64 signals and the parent
   must move fds 0 and 1 aside and back around it (14 system calls here
   against some 80: a tenth of the proxy's start on a virtual machine).
   Until it execs the child makes system calls only, with every signal
   blocked: a handler run there would run on our memory. The signals this
   program ever changes (SIGPIPE ignored in the proxy, SIGBUS and SIGSEGV
   caught around the state store) go back to the default; exec resets the
   handlers of any other. fd is in[0], out[1], both close-on-exec. */
static int spawn(pid_t *pid, char **argv, const int fd[2])
{
  static const int dflsig[] = { SIGPIPE, SIGBUS, SIGSEGV };
  sigset_t all, old;
  struct sigaction dfl;
  volatile int err = 0;
  pid_t child;
  unsigned int i;
  byte_zero(&dfl, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigfillset(&all);
  if (sigprocmask(SIG_SETMASK, &all, &old) == -1) return errno;
  child = vfork();
  if (child == 0) {
    for (i = 0; i < sizeof dflsig / sizeof dflsig[0]; ++i) sigaction(dflsig[i], &dfl, 0);
    if (dup2(fd[0], 0) == -1 || dup2(fd[1], 1) == -1) { err = errno; _exit(127); }
    sigprocmask(SIG_SETMASK, &old, 0);
    execvp(argv[0], argv);
    err = errno;
    _exit(127);
  }
  /* the child has exec'd or exited: a failure is in err, the child reaped */
  if (child == -1) err = errno;
  else if (err) waitpid(child, 0, 0);
  else *pid = child;
  sigprocmask(SIG_SETMASK, &old, 0);
  return err;
}

static int startchild(sdu_proxy *p, char **argv, int (*fn)(void *), void *arg)
{
  int in[2], out[2], rc;
  /* all four ends close-on-exec: the child's two become its 0 and 1 by
     dup2, which clears the flag */
  if (pipe2(in, O_CLOEXEC) == -1) return -1;
  if (pipe2(out, O_CLOEXEC) == -1) { close(in[0]); close(in[1]); return -1; }
  if (fn) {
    /* a link of this process that answers or fails instead of going on:
       it does so in a child on the pipes, as the next program would */
    p->pid = fork();
    if (p->pid == 0) {
      sdu_chain_forget();
      signal(SIGPIPE, SIG_DFL);
      if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1) _exit(111);
      close(in[0]); close(in[1]); close(out[0]); close(out[1]);
      _exit(fn(arg));
    }
    rc = p->pid == -1 ? errno : 0;
  } else {
    int fd[2];
    fd[0] = in[0]; fd[1] = out[1];
    rc = spawn(&p->pid, argv, fd);
  }
  if (rc) {
    close(in[0]); close(in[1]); close(out[0]); close(out[1]);
    p->pid = 0;
    errno = rc;
    return -1;
  }
  close(in[0]); close(out[1]);
  p->tochild = in[1];
  p->fromchild = out[0];
  /* our own pipes: no other flag to keep */
  fcntl(p->tochild, F_SETFL, O_NONBLOCK);
  fcntl(p->fromchild, F_SETFL, O_NONBLOCK);
  return 0;
}

static void reap(sdu_proxy *p)
{
  int status, i;
  if (p->pid <= 0) return;
  closechild(p);
  if (p->fromchild >= 0) { close(p->fromchild); p->fromchild = -1; }
  {
    /* it has closed its side and is most likely on its way out: look again
       after 1 ms, then ever less often; a process that lingers holds a
       slot of tcpserver's and its memory */
    unsigned long waited = 0, step = 1000;
    for (;;) {
      pid_t r = waitpid(p->pid, &status, WNOHANG);
      if (r == p->pid || (r == -1 && errno != EINTR)) { p->pid = 0; return; }
      if (waited >= (unsigned long) p->cfg->childwait * 1000000) break;
      usleep(step);
      waited += step;
      if (step < 50000) step *= 2;
    }
  }
  kill(p->pid, SIGTERM);
  for (i = 0; i < 20; ++i) {
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) { p->pid = 0; return; }
    usleep(50000);
  }
  kill(p->pid, SIGKILL);
  waitpid(p->pid, &status, 0);
  p->pid = 0;
}

/* write a buffer to fd; -1 when the other side is gone */
static int flush(int fd, struct buf *b)
{
  ssize_t w;
  if (!b->len) return 0;
  w = write(fd, b->s, b->len);
  if (w < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  consume(b, (size_t) w);
  return 0;
}

/* write what the client is owed, through TLS once it is on */
static int cflush(sdu_proxy *p)
{
  ssize_t w;
  if (p->tlsstate != TLS_ON) return flush(p->fdout, &p->cout);
  if (!p->cout.len) return 0;
  w = sdu_tls_write(p->tls, p->cout.s, p->cout.len);
  if (w < 0) {
    if (errno != EAGAIN) return -1;
    p->wwant = sdu_tls_want(p->tls, &p->wwfd);
    return 0;
  }
  p->wwfd = p->fdout; p->wwant = POLLOUT;
  consume(&p->cout, (size_t) w);
  return 0;
}

/* the handshake, on its own: 1 done, 0 go on, -1 the session is over */
static int handshake(sdu_proxy *p)
{
  unsigned long long now;
  struct pollfd pf;
  int r;
  if (p->tlsstate == TLS_READY) {
    /* our 220 is out and nothing else is owed: what came meanwhile, never */
    p->tlsjunk += p->cin.len;
    p->cin.len = 0;
    if (p->tlsjunk) {
      char num[SDU_FMT_ULONG + 1];
      num[sdu_fmt_ulong(num, (unsigned long) p->tlsjunk)] = 0;
      sdu_warn("dropped ", num, " bytes sent after STARTTLS before the handshake");
    }
    if (sdu_tls_accept(p->tls, p->fdin, p->fdout) == -1) return -1;
    p->tlsstate = TLS_SHAKE;
    p->tlsdl = sdu_ms() + (unsigned long long) sdu_tls_timeout(p->tls) * 1000;
  }
  r = sdu_tls_handshake(p->tls);
  if (r == 1) { tls_on(p); p->last = sdu_ms(); return 1; }
  if (r < 0) return -1;
  now = sdu_ms();
  if (now >= p->tlsdl) { sdu_warn("TLS handshake timed out"); return -1; }
  pf.events = sdu_tls_want(p->tls, &pf.fd);
  pf.revents = 0;
  if (poll(&pf, 1, (int) (p->tlsdl - now)) < 0 && errno != EINTR) {
    sdu_warnsys("poll failed");
    return -1;
  }
  return 0;
}

/* links waiting to stand in the middle: the rest of the chain runs in this
   process until something has to be started (sdu-chain(1)) */
SDU_HOT static struct { const sdu_proxy_cfg *cfg; const sdu_hooks *h; const char *name; } pending[LEVELS];
SDU_HOT static int npending;

static int session(char **argv, int (*fn)(void *), void *arg);

static int exitcode(void *arg) { return *(int *) arg; }

/* a link of this process exits while links before it wait: they get a
   downstream that died at once, as a chain of processes would */
static void pending_exit(int code)
{
  if (npending) _exit(session(0, exitcode, &code));
}

void sdu_chain_forget(void)
{
  npending = 0;
  sdu_exit_hook = 0;
}

int sdu_proxy_pending(void) { return npending > 0; }

int sdu_proxy_runfn(int (*fn)(void *), void *arg) { return session(0, fn, arg); }

int sdu_chain_next(char **argv)
{
  int r = sdu_chain_inline(argv);
  if (r >= 0) {
    /* the link returned without going on: its exit is what waits see */
    if (npending) r = session(0, exitcode, &r);
    return r;
  }
  if (npending) return session(argv, 0, 0);
  return -1;
}

int sdu_proxy_run(char **argv, const sdu_proxy_cfg *cfg, const sdu_hooks *h)
{
  /* each link of the binary runs once in a process: LEVELS is more than there are */
  if (npending == LEVELS) sdu_fatal(SDU_EXIT_TEMP, "too many links in the middle in one process");
  pending[npending].cfg = cfg;
  pending[npending].h = h;
  pending[npending].name = sdu_prog();
  ++npending;
  sdu_exit_hook = pending_exit;
  return sdu_chain_next(argv);
}

/* the session with the links pending, downstream argv or fn(arg). The
   first session of a process (the only one of a link under tcpserver)
   takes its state and buffers from .bss: glibc's calloc would clear the
   9 KB of the state (three pages touched, where a session uses the first
   of them) and map a block as big as the buffers at every connection and
   unmap it at the end; pages of .bss never touched cost nothing */
SDU_PAGES static sdu_proxy first;
SDU_PAGES static char bufs[4 * BUFSZ];
SDU_HOT static int firstbusy;

static int session(char **argv, int (*fn)(void *), void *arg)
{
  sdu_proxy *p;
  const sdu_proxy_cfg *cfg = pending[0].cfg;
  int r = 0, i, waited;

  if (!firstbusy) { p = &first; firstbusy = 1; memset(p, 0, offsetof(sdu_proxy, small)); }
  else if (!(p = calloc(1, sizeof *p))) sdu_nomem();
  p->cfg = cfg;
  for (i = 0; i < npending; ++i) { p->lev[i].h = pending[i].h; p->lev[i].name = pending[i].name; }
  p->nlev = npending;
  sdu_chain_forget();
  p->fdin = cfg->fdin; p->fdout = cfg->fdout;
  p->authtls = sdu_tls_authonly();
  p->greeted = sdu_env_get(SDU_GREETED);
  {
    const char *v = sdu_env_get("SDU_BARELF");
    p->barelf = BARELF_NORMALIZE;
    if (v && !str_diff(v, "reject")) p->barelf = BARELF_REJECT;
    else if (v && *v && str_diff(v, "normalize"))
      sdu_warn("SDU_BARELF is neither normalize nor reject: bare LF normalized");
  }
  p->tochild = p->fromchild = -1;
  {
    /* the big parts in one block; the first session's small parts too */
    struct buf *b[4];
    b[0] = &p->cin; b[1] = &p->cout; b[2] = &p->din; b[3] = &p->dout;
    if (p == &first) p->bufs = bufs;
    else if (!(p->bufs = malloc(4 * BUFSZ))) sdu_nomem();
    for (i = 0; i < 4; ++i) {
      b[i]->big = p->bufs + i * BUFSZ;
      b[i]->s = b[i]->big;
      b[i]->cap = BUFSZ;
      if (p == &first) { b[i]->s = p->small + i * SMALL; b[i]->cap = SMALL; }
    }
  }
  signal(SIGPIPE, SIG_IGN);
  p->now = p->start = p->last = sdu_ms();

  if (startchild(p, argv, fn, arg) == -1) {
    sdu_warnsys("unable to run ", argv ? argv[0] : "a child");
    r = 111;
    p->childgone = 1;
    if (p->greeted) {
      greetrefusal(p, GONE, sizeof GONE - 1);
      addb(&p->cout, p->tmp.s, p->tmp.len);
    } else
      qlocal(p, SDU_V_GREETING, 421, "4.3.0 the mail server is not available, closing connection", 1);
  } else
    qtail_add(p, SDU_V_GREETING);
  setnonblock(p->fdin);
  setnonblock(p->fdout);
  {
    /* replies go out as soon as they are whole: no Nagle delay on a socket */
    int one = 1;
    setsockopt(p->fdout, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  /* the clock is read once a turn of the loop: after its wait, or here
     at the top of a turn that came round without one (a read that found
     bytes waiting, a write that made room, the TLS handshake): the
     deadlines below always see the time as it is, however long the data
     keeps coming without a pause */
  waited = 1;
  while (!p->finished) {
    struct pollfd pf[4];
    int n = 0, ci = -1, co = -1, di = -1, dw = -1, timeout;
    unsigned long long now;

    if (!waited) p->now = sdu_ms();
    waited = 0;

    /* answering commands may make room for more: go on while input moves */
    for (;;) {
      size_t before = p->cin.len;
      drain(p);
      if (!p->closing && !p->cingone) parse(p);
      drain(p);
      if (p->cin.len == before || p->closing) break;
    }
    if (p->cineof && !p->cin.len && p->tochild >= 0 && !p->dout.len) closechild(p);
    if (p->cineof && p->mode == M_DATA && (!p->cin.len || p->dhold) && p->tochild >= 0) {
      /* the client left in the middle of a message: downstream must not take it */
      p->dout.len = 0;
      closechild(p);
    }

    /* write at once what is ready; poll only for what would block */
    if (p->tochild >= 0 && p->dout.len) {
      size_t had = p->dout.len;
      if (flush(p->tochild, &p->dout) == -1) {
        downstream_died(p);
        p->dout.len = 0;
        drain(p);
      } else if (p->dout.len < had && p->cin.len && !p->closing)
        /* room again for what the client sent: parse it before polling,
           whose set may hold nothing else that moves (a full client
           buffer is not read) */
        continue;
    }
#ifdef F_SETPIPE_SZ
    if (p->tochild >= 0 && p->dout.len && !p->pipebig) {
      /* a message bigger than the pipe: a roomier one means fewer partial
         writes and wake-ups (not done for every connection: most messages
         fit, and the room is the kernel's memory) */
      fcntl(p->tochild, F_SETPIPE_SZ, 1 << 20);
      p->pipebig = 1;
      continue;
    }
#endif
    if (!p->coutdead && p->cout.len) {
      size_t had = p->cout.len;
      if (cflush(p) == -1) {
        p->coutdead = 1; p->cineof = p->cingone = 1; p->cout.len = 0;
      } else if (had > HIGHWATER && p->cout.len <= HIGHWATER)
        continue;  /* there is room again for replies held back */
    }
    /* STARTTLS: once our 220 is out and nothing else is owed, the
       handshake alone, under its own deadline */
    if ((p->tlsstate == TLS_READY && !p->qlen && !p->cout.len && !p->coutdead)
        || p->tlsstate == TLS_SHAKE) {
      int hs = handshake(p);
      if (hs < 0) {
        /* no reply can reach a client in the middle of a handshake:
           the session ends, downstream sees its input close */
        p->coutdead = 1; p->cineof = p->cingone = 1; p->cout.len = 0;
        break;
      }
      continue;
    }
    if (!p->coutdead && p->cout.len) {
      pf[n].fd = p->fdout; pf[n].events = POLLOUT;
      if (p->tlsstate == TLS_ON) { pf[n].fd = p->wwfd; pf[n].events = p->wwant; }
      co = n++;
    }
    if (p->closing || (p->childgone && !p->qlen && !p->grefusal.len)) {
      if (!p->cout.len || p->coutdead) break;
    }
    if (p->coutdead && p->cingone) break;
    if (!p->cineof && !p->closing && p->cin.len < BUFSZ && p->tlsstate != TLS_READY
        && (p->mode == M_DATA || p->cin.len < SDU_SMTP_LINE_MAX
            || findnl(p->cin.s, p->cin.len) == p->cin.len)) {
      pf[n].fd = p->fdin; pf[n].events = POLLIN;
      if (p->tlsstate == TLS_ON) { pf[n].fd = p->rwfd; pf[n].events = p->rwant; }
      ci = n++;
    }
    if (p->tochild >= 0 && p->dout.len) { pf[n].fd = p->tochild; pf[n].events = POLLOUT; dw = n++; }
    if (p->fromchild >= 0 && !p->childgone && p->din.len < BUFSZ && p->cout.len < HIGHWATER) {
      pf[n].fd = p->fromchild; pf[n].events = POLLIN; di = n++;
    }
    if (!n) {
      if (p->childgone || p->coutdead) break;
      if (p->cineof && p->tochild < 0 && p->fromchild < 0) break;
    }
    now = p->now;
    {
      unsigned long long dl = p->last + (unsigned long long) cfg->idle * 1000;
      if (p->start + (unsigned long long) cfg->session * 1000 < dl)
        dl = p->start + (unsigned long long) cfg->session * 1000;
      if (now >= dl) {
        sdu_warn("session timed out");
        p->cout.len = 0;
        p->qlen = 0;
        qlocal(p, SDU_V_OTHER, 421, "4.4.2 timeout, closing connection", 1);
        drain(p);
        cflush(p);
        break;
      }
      timeout = dl - now > 86400000 ? 86400000 : (int) (dl - now);
    }
    /* in the message data the client is seldom idle: read again at once,
       and wait in poll only when a read finds nothing */
    if (ci >= 0 && p->mode == M_DATA && p->cinready && readclient(p, now) > 0) continue;
    /* bytes TLS decrypted already: the socket may show nothing more */
    if (ci >= 0 && p->tlsstate == TLS_ON && sdu_tls_pending(p->tls) && readclient(p, now) > 0) continue;
    if (poll(pf, (nfds_t) n, timeout) < 0) {
      if (errno == EINTR) continue;
      sdu_warnsys("poll failed");
      r = 111;
      break;
    }
    now = p->now = sdu_ms();
    waited = 1;
    if (co >= 0 && pf[co].revents) {
      if (cflush(p) == -1) { p->coutdead = 1; p->cineof = p->cingone = 1; p->cout.len = 0; }
    }
    if (dw >= 0 && pf[dw].revents) {
      if (flush(p->tochild, &p->dout) == -1) { downstream_died(p); p->dout.len = 0; }
    }
    if (ci >= 0 && pf[ci].revents) readclient(p, now);
    if (di >= 0 && pf[di].revents) {
      size_t room = readroom(&p->din, BUFSZ - p->din.len);
      ssize_t got = read(p->fromchild, p->din.s + p->din.len, room);
      if (got > 0) { p->last = now; p->din.len += (size_t) got; readdone(&p->din, got, room); }
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        drain(p);
        /* after its 221 (or a 421 of its own) downstream may go; otherwise it failed */
        if (p->qlen || p->mode == M_DATA || p->mode == M_WAITDATA
            || (!p->cineof && p->lastcode != 221 && p->lastcode != 421 && !p->authed))
          downstream_died(p);
        else { p->childgone = 1; closechild(p); }
      }
    }
  }
  for (i = p->nlev - 1; i >= 0; --i) {
    const sdu_hooks *h = as(p, i);
    if (h->end) h->end(h->ctx, p);
  }
  as(p, -1);
  closechild(p);
  if (p->tlsstate == TLS_ON && !p->coutdead) sdu_tls_close(p->tls);
  sdu_tls_free(p->tls);
  close(p->fdout);
  close(p->fdin);
  reap(p);
  /* the entries used only: the rest of the first session's are pages
     of .bss never touched */
  for (i = 0; i < (int) p->qused; ++i) { free(p->q[i].text); p->q[i].text = 0; }
  if (p->bufs != bufs) free(p->bufs);
  for (i = 0; i < p->nlev; ++i) stralloc_free(&p->lev[i].header);
  stralloc_free(&p->answer);
  stralloc_free(&p->reply); stralloc_free(&p->tmp);
  stralloc_free(&p->grefusal);
  if (p == &first) firstbusy = 0;
  else free(p);
  return r;
}
