/* smtpsink.c: an SMTP server on fds 0/1 that records what reached the end of the chain */
/*
 * usage: smtpsink [ -d dir ] [ -x behaviour ]...
 *
 * Speaks SMTP on fd 0 (commands) and fd 1 (replies), like qmail-smtpd under
 * tcpserver. Replies are buffered and flushed before every read, so pipelined
 * commands get their replies in order, in as few writes as qmail-smtpd makes.
 *
 * -d dir   each accepted message becomes one file in dir, written as
 *          dir/tmp.SECONDS.NANOSECONDS.PID.N, flushed and linked to
 *          dir/msg.SECONDS.NANOSECONDS.PID.N at the end of DATA (a name
 *          taken already ends the session, 111, before any 250: never an
 *          overwrite):
 *              helo: ARG            (the last HELO/EHLO argument, if any)
 *              mail: <ADDR>         (the MAIL FROM address as sent)
 *              rcpt: <ADDR>         (one line per accepted recipient)
 *              env: NAME=VALUE      (TCPREMOTEIP TCPLOCALIP RELAYCLIENT RBLCHECK
 *                                    RBLCHECK_LISTS THROTTLE_RCPT SDU_HARVEST,
 *                                    each only when set)
 *              (empty line)
 *              the data exactly as received, dot-unstuffed, without the final dot
 *          Without -d (or with -x nodir) messages are counted, not stored, and
 *          "smtpsink: messages=N bytes=N" goes to fd 2 at exit.
 * -x behaviour, several allowed:
 *   close-greeting   exit before the greeting
 *   greeting=R       greet with the reply R (a whole line: "421 4.3.0 go away"),
 *                    then exit, as a server that refuses at the greeting
 *   close-mail       exit at MAIL without replying to it
 *   close-data[=N]   exit after reading N bytes of data (default 10)
 *   close-dot        exit after reading the final dot without replying
 *   reject-rcpt=S    550 for a recipient whose RCPT line contains S
 *   reject-data=S    554 at the end of a message that contains S
 *   answer-data=S=R  the reply R (a whole line: "552 5.3.4 too big") instead
 *                    of 554 at the end of a message that contains S
 *   slow=MS          sleep MS milliseconds before every reply
 *   slowread=MS      sleep MS milliseconds after every 64 KiB read: a
 *                    downstream that takes its input slowly
 *   read=N           read at most N bytes at a time (qmail-smtpd reads 1024)
 *   nodir            count messages and bytes only (for benchmarks)
 *   auth             offer AUTH LOGIN PLAIN: PLAIN with a response gets 235,
 *                    LOGIN asks two 334 questions, then 235 (535 when the
 *                    password line is "YmFk", base64 of "bad")
 *
 * Replies: 220 smtpsink ESMTP; EHLO: PIPELINING 8BITMIME SIZE STARTTLS HELP
 * (STARTTLS only so that tests see a proxy strip it; using it gets 454);
 * 250 ok queued as PID.N at the end of data; 221 to QUIT, then exit 0;
 * 502 for anything unknown; 500 for a command line over 4096 bytes.
 * Exit codes: 0 on QUIT or end of input, 100 usage, 111 system error or a
 * close-* behaviour.
 */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include "sdu_msg.h"

#define USAGE "smtpsink [ -d dir ] [ -x behaviour ]..."
#define LINE_MAX_CMD 4096
#define MAX_PATTERNS 8
#define PATTERN_MAX 256

struct pattern { const char *s; size_t len; size_t fail[PATTERN_MAX]; size_t state; int hit; char *reply; };

/* everything the session needs; one instance, in main */
struct sink {
  char in[8192]; size_t inpos, inlen; int eof;
  char out[4096]; size_t outlen;
  char file[65536]; size_t filelen; int fd;
  const char *dir; char tmpname[4096]; char msgname[4096];
  unsigned long seq, messages, bytes, databytes;
  int havemail, rcpts;
  char helo[LINE_MAX_CMD];
  /* behaviours */
  int close_greeting, close_mail, close_dot, nodir, auth;
  const char *greeting;   /* greeting=R: refuse at the greeting */
  long close_data; /* -1: off */
  long slow_ms, slowread_ms;
  unsigned long unslept;  /* bytes read since slowread's last sleep */
  size_t readsize;        /* at most this much per read */
  struct pattern rrcpt[MAX_PATTERNS]; int nrrcpt;
  struct pattern rdata[MAX_PATTERNS]; int nrdata;
};

static void die_write(void) { sdu_fatalsys(SDU_EXIT_TEMP, "unable to write to fd 1"); }

static void out_flush(struct sink *k)
{
  size_t done = 0;
  while (done < k->outlen) {
    ssize_t w = write(1, k->out + done, k->outlen - done);
    if (w == -1) { if (errno == EINTR) continue; die_write(); }
    done += (size_t) w;
  }
  k->outlen = 0;
}

static void out_put(struct sink *k, const char *s, size_t len)
{
  while (len) {
    size_t n = sizeof k->out - k->outlen;
    if (!n) { out_flush(k); continue; }
    if (n > len) n = len;
    memcpy(k->out + k->outlen, s, n);
    k->outlen += n; s += n; len -= n;
  }
}

static void sleep_ms(long ms)
{
  while (ms > 0) {
    long step = ms > 1000 ? 1000 : ms;
    poll(0, 0, (int) step);
    ms -= step;
  }
}

static void reply(struct sink *k, const char *s)
{
  if (k->slow_ms > 0) { out_flush(k); sleep_ms(k->slow_ms); }
  out_put(k, s, strlen(s));
}

static void file_flush(struct sink *k)
{
  size_t done = 0;
  while (done < k->filelen) {
    ssize_t w = write(k->fd, k->file + done, k->filelen - done);
    if (w == -1) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to write ", k->tmpname); }
    done += (size_t) w;
  }
  k->filelen = 0;
}

static void file_put(struct sink *k, const char *s, size_t len)
{
  if (k->fd == -1) return;
  while (len) {
    size_t n = sizeof k->file - k->filelen;
    if (!n) { file_flush(k); continue; }
    if (n > len) n = len;
    memcpy(k->file + k->filelen, s, n);
    k->filelen += n; s += n; len -= n;
  }
}

static void file_puts(struct sink *k, const char *s) { file_put(k, s, strlen(s)); }

/* drop the message being written, if any */
static void file_abort(struct sink *k)
{
  if (k->fd == -1) return;
  close(k->fd);
  k->fd = -1;
  k->filelen = 0;
  unlink(k->tmpname);
}

static void finish(struct sink *k, int code)
{
  file_abort(k);
  if (!k->dir) {
    char line[128];
    snprintf(line, sizeof line, "smtpsink: messages=%lu bytes=%lu\n", k->messages, k->bytes);
    if (write(2, line, strlen(line)) < 0) code = SDU_EXIT_TEMP;
  }
  _exit(code);
}

/* a close-* behaviour: the replies already due go out, then we vanish */
static void vanish(struct sink *k) { out_flush(k); finish(k, SDU_EXIT_TEMP); }

/* bytes available in the input buffer, reading (after flushing replies) when empty */
static size_t in_fill(struct sink *k)
{
  ssize_t r;
  if (k->inpos < k->inlen) return k->inlen - k->inpos;
  if (k->eof) return 0;
  out_flush(k);
  if (k->slowread_ms > 0 && k->unslept >= 65536) { sleep_ms(k->slowread_ms); k->unslept = 0; }
  do r = read(0, k->in, k->readsize); while (r == -1 && errno == EINTR);
  if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read from fd 0");
  if (r == 0) { k->eof = 1; return 0; }
  k->inpos = 0;
  k->inlen = (size_t) r;
  k->unslept += (unsigned long) r;
  return k->inlen;
}

/* one command line without CR LF; 1 ok, 0 end of input, -1 too long (discarded) */
static int getline_cmd(struct sink *k, char *line, size_t max, size_t *len)
{
  int toolong = 0;
  *len = 0;
  for (;;) {
    size_t n = in_fill(k), i;
    char *p;
    if (!n) return 0;
    p = k->in + k->inpos;
    for (i = 0; i < n && p[i] != '\n'; ++i) ;
    if (!toolong) {
      if (*len + i >= max) toolong = 1;
      else { memcpy(line + *len, p, i); *len += i; }
    }
    k->inpos += i;
    if (i < n) {
      k->inpos++;
      if (toolong) return -1;
      if (*len && line[*len - 1] == '\r') --*len;
      line[*len] = 0;
      return 1;
    }
  }
}

static void pattern_init(struct pattern *p, const char *s)
{
  size_t i, j = 0;
  p->s = s;
  p->len = strlen(s);
  if (!p->len || p->len > PATTERN_MAX) sdu_fatal(SDU_EXIT_PERM, "pattern empty or longer than 256 bytes: ", s);
  p->fail[0] = 0;
  for (i = 1; i < p->len; ++i) {
    while (j && s[i] != s[j]) j = p->fail[j - 1];
    if (s[i] == s[j]) ++j;
    p->fail[i] = j;
  }
  p->state = 0;
  p->hit = 0;
}

/* Knuth-Morris-Pratt, so that a match across chunk boundaries is seen */
static void pattern_feed(struct pattern *p, const char *s, size_t len)
{
  size_t i, j = p->state;
  if (p->hit) return;
  for (i = 0; i < len; ++i) {
    while (j && s[i] != p->s[j]) j = p->fail[j - 1];
    if (s[i] == p->s[j]) ++j;
    if (j == p->len) { p->hit = 1; return; }
  }
  p->state = j;
}

static void data_put(struct sink *k, const char *s, size_t len)
{
  int i;
  if (!len) return;
  k->databytes += len;
  file_put(k, s, len);
  for (i = 0; i < k->nrdata; ++i) pattern_feed(&k->rdata[i], s, len);
}

/* Reads the data up to the final dot. 1 complete, 0 end of input first. */
static int read_data(struct sink *k)
{
  /* 0 start of line, 1 inside a line, 2 after a "." at the start of a line
     (the dot is dropped), 3 after ".\r" (the CR is held back) */
  int state = 0;
  unsigned long seen = 0;
  for (;;) {
    size_t n = in_fill(k), i, start = 0;
    char *p = k->in + k->inpos;
    if (!n) return 0;
    if (k->close_data >= 0) {
      unsigned long left = (unsigned long) k->close_data - seen;
      if (!left) vanish(k);
      if (n > left) n = (size_t) left;
    }
    for (i = 0; i < n; ++i) {
      char c = p[i];
      switch (state) {
      case 0:
        if (c == '.') { data_put(k, p + start, i - start); start = i + 1; state = 2; }
        else if (c != '\n') state = 1;
        break;
      case 1:
        if (c == '\n') state = 0;
        break;
      case 2:
        if (c == '\n') { k->inpos += i + 1; return 1; }
        if (c == '\r') { start = i + 1; state = 3; }
        else state = 1;
        break;
      case 3:
        if (c == '\n') { k->inpos += i + 1; return 1; }
        data_put(k, "\r", 1);
        start = i;
        state = 1;
        break;
      }
    }
    data_put(k, p + start, n - start);
    k->inpos += n;
    seen += n;
  }
}

/* the address part of "FROM:<a@b> SIZE=1": up to the closing > or the first space */
static void arg_addr(const char *arg, char *out, size_t max)
{
  size_t i = 0;
  while (*arg == ' ') ++arg;
  if (*arg == '<') {
    while (arg[i] && arg[i] != '>' && i + 2 < max) { out[i] = arg[i]; ++i; }
    if (arg[i] == '>') out[i++] = '>';
  } else {
    while (arg[i] && arg[i] != ' ' && i + 1 < max) { out[i] = arg[i]; ++i; }
  }
  out[i] = 0;
}

static const char *const envnames[] = {
  "TCPREMOTEIP", "TCPLOCALIP", "RELAYCLIENT", "RBLCHECK", "RBLCHECK_LISTS",
  "THROTTLE_RCPT", "SDU_HARVEST", 0
};

static void start_file(struct sink *k, const char *addr)
{
  struct timespec ts;
  if (!k->dir || k->nodir) return;
  ++k->seq;
  /* unique although pids come round again (a flood starts tens of thousands
     of processes): the time first, so that names sort as messages came */
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(k->tmpname, sizeof k->tmpname, "%s/tmp.%010lu.%09lu.%lu.%lu", k->dir,
    (unsigned long) ts.tv_sec, (unsigned long) ts.tv_nsec, (unsigned long) getpid(), k->seq);
  snprintf(k->msgname, sizeof k->msgname, "%s/msg.%010lu.%09lu.%lu.%lu", k->dir,
    (unsigned long) ts.tv_sec, (unsigned long) ts.tv_nsec, (unsigned long) getpid(), k->seq);
  k->fd = open(k->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0644);
  if (k->fd == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to create ", k->tmpname);
  k->filelen = 0;
  if (k->helo[0]) { file_puts(k, "helo: "); file_puts(k, k->helo); file_puts(k, "\n"); }
  file_puts(k, "mail: "); file_puts(k, addr); file_puts(k, "\n");
}

static void do_data(struct sink *k)
{
  char queued[128];
  int i;
  if (!k->havemail) { reply(k, "503 MAIL first\r\n"); return; }
  if (!k->rcpts) { reply(k, "554 no valid recipients\r\n"); return; }
  for (i = 0; envnames[i]; ++i) {
    const char *v = getenv(envnames[i]);
    if (!v) continue;
    file_puts(k, "env: "); file_puts(k, envnames[i]); file_puts(k, "="); file_puts(k, v); file_puts(k, "\n");
  }
  file_puts(k, "\n");
  for (i = 0; i < k->nrdata; ++i) { k->rdata[i].state = 0; k->rdata[i].hit = 0; }
  k->databytes = 0;
  reply(k, "354 go ahead\r\n");
  if (!read_data(k)) finish(k, 0);
  if (k->close_dot) vanish(k);
  k->havemail = 0;
  k->rcpts = 0;
  for (i = 0; i < k->nrdata; ++i)
    if (k->rdata[i].hit) {
      file_abort(k);
      if (k->rdata[i].reply) { reply(k, k->rdata[i].reply); reply(k, "\r\n"); }
      else reply(k, "554 message refused by smtpsink\r\n");
      return;
    }
  if (k->fd != -1) {
    file_flush(k);
    if (fsync(k->fd) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to sync ", k->tmpname);
    if (close(k->fd) == -1) { k->fd = -1; sdu_fatalsys(SDU_EXIT_TEMP, "unable to close ", k->tmpname); }
    k->fd = -1;
    /* link, not rename: a name taken already is an error, never an overwrite */
    if (link(k->tmpname, k->msgname) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to link ", k->tmpname, " to ", k->msgname);
    if (unlink(k->tmpname) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to remove ", k->tmpname);
  }
  ++k->messages;
  k->bytes += k->databytes;
  snprintf(queued, sizeof queued, "250 ok queued as %lu.%lu\r\n", (unsigned long) getpid(), k->dir && !k->nodir ? k->seq : k->messages);
  reply(k, queued);
}

static int is_cmd(const char *line, const char *cmd)
{
  size_t n = strlen(cmd);
  return !strncasecmp(line, cmd, n) && (line[n] == 0 || line[n] == ' ');
}

static void behaviour(struct sink *k, const char *x)
{
  if (!strcmp(x, "close-greeting")) k->close_greeting = 1;
  else if (!strncmp(x, "greeting=", 9)) k->greeting = x + 9;
  else if (!strcmp(x, "close-mail")) k->close_mail = 1;
  else if (!strcmp(x, "close-dot")) k->close_dot = 1;
  else if (!strcmp(x, "close-data")) k->close_data = 10;
  else if (!strncmp(x, "close-data=", 11)) k->close_data = strtol(x + 11, 0, 10);
  else if (!strcmp(x, "nodir")) k->nodir = 1;
  else if (!strcmp(x, "auth")) k->auth = 1;
  else if (!strncmp(x, "slow=", 5)) k->slow_ms = strtol(x + 5, 0, 10);
  else if (!strncmp(x, "slowread=", 9)) k->slowread_ms = strtol(x + 9, 0, 10);
  else if (!strncmp(x, "read=", 5)) {
    long r = strtol(x + 5, 0, 10);
    if (r < 1 || r > (long) sizeof k->in) sdu_fatal(SDU_EXIT_PERM, "bad number in ", x);
    k->readsize = (size_t) r;
  }
  else if (!strncmp(x, "reject-rcpt=", 12) && k->nrrcpt < MAX_PATTERNS) pattern_init(&k->rrcpt[k->nrrcpt++], x + 12);
  else if (!strncmp(x, "reject-data=", 12) && k->nrdata < MAX_PATTERNS) pattern_init(&k->rdata[k->nrdata++], x + 12);
  else if (!strncmp(x, "answer-data=", 12) && strchr(x + 12, '=') && k->nrdata < MAX_PATTERNS) {
    /* S=R: the pattern is cut at the '=' in a copy of its own */
    char *d = strdup(x + 12);
    if (!d) sdu_nomem();
    d[strcspn(d, "=")] = 0;
    pattern_init(&k->rdata[k->nrdata], d);
    k->rdata[k->nrdata++].reply = d + strlen(d) + 1;
  }
  else sdu_fatal(SDU_EXIT_PERM, "unknown or too many behaviours: ", x);
  if (k->close_data < -1 || k->slow_ms < 0 || k->slowread_ms < 0) sdu_fatal(SDU_EXIT_PERM, "bad number in ", x);
}

static struct sink sink;

int main(int argc, char **argv)
{
  struct sink *k = &sink;
  char line[LINE_MAX_CMD];
  char addr[LINE_MAX_CMD];
  size_t len;
  int opt, i, r;

  sdu_iam("smtpsink");
  signal(SIGPIPE, SIG_IGN);
  k->fd = -1;
  k->close_data = -1;
  k->readsize = sizeof k->in;
  while ((opt = getopt(argc, argv, "d:x:")) != -1)
    switch (opt) {
    case 'd': k->dir = optarg; break;
    case 'x': behaviour(k, optarg); break;
    default: sdu_usage(USAGE);
    }
  if (argv[optind]) sdu_usage(USAGE);
  if (k->nodir) k->dir = 0;

  if (k->close_greeting) finish(k, SDU_EXIT_TEMP);
  if (k->greeting) {
    reply(k, k->greeting);
    reply(k, "\r\n");
    out_flush(k);
    finish(k, 0);
  }
  reply(k, "220 smtpsink ESMTP\r\n");
  for (;;) {
    r = getline_cmd(k, line, sizeof line, &len);
    if (r == 0) finish(k, 0);
    if (r == -1) { reply(k, "500 line too long\r\n"); continue; }
    if (memchr(line, 0, len)) { reply(k, "500 NUL in command\r\n"); continue; }
    if (is_cmd(line, "EHLO") || is_cmd(line, "HELO")) {
      snprintf(k->helo, sizeof k->helo, "%s", line[4] ? line + 5 : "");
      if (line[0] == 'H' || line[0] == 'h') reply(k, "250 smtpsink\r\n");
      else {
        reply(k, "250-smtpsink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-STARTTLS\r\n");
        if (k->auth) reply(k, "250-AUTH LOGIN PLAIN\r\n");
        reply(k, "250 HELP\r\n");
      }
    } else if (k->auth && is_cmd(line, "AUTH")) {
      if (!strncasecmp(line + 4, " PLAIN ", 7)) { reply(k, "235 ok, go ahead\r\n"); continue; }
      if (strncasecmp(line + 4, " LOGIN", 6)) { reply(k, "504 unknown mechanism\r\n"); continue; }
      reply(k, "334 VXNlcm5hbWU6\r\n");
      if (getline_cmd(k, line, sizeof line, &len) != 1) finish(k, 0);
      reply(k, "334 UGFzc3dvcmQ6\r\n");
      if (getline_cmd(k, line, sizeof line, &len) != 1) finish(k, 0);
      reply(k, strcmp(line, "YmFk") ? "235 ok, go ahead\r\n" : "535 authentication failed\r\n");
    } else if (is_cmd(line, "MAIL")) {
      if (k->close_mail) vanish(k);
      if (k->havemail) { reply(k, "503 nested MAIL\r\n"); continue; }
      if (strncasecmp(line + 4, " FROM:", 6)) { reply(k, "501 syntax: MAIL FROM:<address>\r\n"); continue; }
      arg_addr(line + 10, addr, sizeof addr);
      start_file(k, addr);
      k->havemail = 1;
      k->rcpts = 0;
      reply(k, "250 ok\r\n");
    } else if (is_cmd(line, "RCPT")) {
      int refused = 0;
      if (!k->havemail) { reply(k, "503 MAIL first\r\n"); continue; }
      if (strncasecmp(line + 4, " TO:", 4)) { reply(k, "501 syntax: RCPT TO:<address>\r\n"); continue; }
      for (i = 0; i < k->nrrcpt; ++i) if (strstr(line + 8, k->rrcpt[i].s)) refused = 1;
      if (refused) { reply(k, "550 recipient refused by smtpsink\r\n"); continue; }
      arg_addr(line + 8, addr, sizeof addr);
      file_puts(k, "rcpt: "); file_puts(k, addr); file_puts(k, "\n");
      ++k->rcpts;
      reply(k, "250 ok\r\n");
    } else if (is_cmd(line, "DATA")) {
      do_data(k);
    } else if (is_cmd(line, "RSET")) {
      file_abort(k);
      k->havemail = 0;
      k->rcpts = 0;
      reply(k, "250 ok\r\n");
    } else if (is_cmd(line, "NOOP")) {
      reply(k, "250 ok\r\n");
    } else if (is_cmd(line, "STARTTLS")) {
      reply(k, "454 TLS not available\r\n");
    } else if (is_cmd(line, "QUIT")) {
      reply(k, "221 smtpsink\r\n");
      out_flush(k);
      finish(k, 0);
    } else {
      reply(k, "502 unimplemented\r\n");
    }
  }
}
