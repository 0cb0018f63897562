/* smtp_fuzz.c: libFuzzer target for SMTP command and reply parsing (common/sdu_smtp.c, the path of MAIL and RCPT
   in common/sdu_addr.c); built and run by tests/fuzz/smtp.t.sh. The input is a client's command line without its
   CRLF; the same bytes also go through the reply parsers as a downstream's reply and as a text we answer with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_smtp.h"
#include "sdu_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char buf[3 * SDU_SMTP_LINE_MAX];

static int caseeq(const char *a, const char *b, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) {
    unsigned char x = (unsigned char) a[i], y = (unsigned char) b[i];
    if (x >= 'a' && x <= 'z') x -= 32;
    if (y >= 'a' && y <= 'z') y -= 32;
    if (x != y) return 0;
  }
  return 1;
}

/* the command: its verb and argument, and the path of MAIL and RCPT */
static void command(const char *line, size_t len)
{
  size_t arg, arg2, i, n;
  int verb = sdu_smtp_verb(line, len, &arg), clean = 1;
  const char *name = sdu_smtp_verbname(verb);
  sdu_path p, q;

  if (arg > len || !name) abort();
  for (i = 0; i < len; ++i)
    if (((unsigned char) line[i] < 32 && line[i] != '\t') || (unsigned char) line[i] == 127) clean = 0;
  if (sdu_smtp_cleanline(line, len) != clean) abort();
  /* a line that starts with an SMTP verb and its blank is never HTTP but
     for the form "VERB target HTTP/d.d"; a verb before a colon never is */
  if (sdu_smtp_nonsmtp(line, len) && verb != SDU_V_OTHER
      && !(len >= 9 && caseeq(line + len - 9, " HTTP/", 6))) abort();
  if (verb == SDU_V_OTHER) return;
  /* the verb is the first word, in any case; the same command with the verb
     written as we name it and one blank is the same command */
  if (verb < SDU_V_HELO || verb > SDU_V_BDAT || verb == SDU_V_DOT) abort();
  n = strlen(name);
  if (!caseeq(line, name, n) || (n < len && line[n] != ' ' && line[n] != '\t')) abort();
  if (arg < len && (line[arg] == ' ' || line[arg] == '\t')) abort();
  if (len - arg + n + 1 > sizeof buf) return;
  memcpy(buf, name, n);
  buf[n] = ' ';
  memcpy(buf + n + 1, line + arg, len - arg);
  if (sdu_smtp_verb(buf, n + 1 + len - arg, &arg2) != verb || arg2 != (arg < len ? n + 1 : n + 1 + len - arg)) abort();
  if (verb != SDU_V_MAIL && verb != SDU_V_RCPT) return;

  /* a parsed path, written back canonically with its parameters, parses to itself */
  if (sdu_smtp_path(line + arg, len - arg, verb == SDU_V_MAIL, &p) != 0) return;
  if (p.len > SDU_ADDR_MAX || strlen(p.addr) != p.len) abort();
  if (p.params < line + arg || p.params + p.paramslen > line + len) abort();
  n = (size_t) (verb == SDU_V_MAIL ? 10 : 8);
  memcpy(buf, verb == SDU_V_MAIL ? "MAIL FROM:" : "RCPT TO:", n);
  buf[n++] = '<';
  memcpy(buf + n, p.addr, p.len);
  n += p.len;
  buf[n++] = '>';
  if (p.paramslen) {
    if (n + 1 + p.paramslen > sizeof buf) return;
    buf[n++] = ' ';
    memcpy(buf + n, p.params, p.paramslen);
    n += p.paramslen;
  }
  if (sdu_smtp_verb(buf, n, &arg2) != verb || arg2 != 5) abort();
  if (sdu_smtp_path(buf + arg2, n - arg2, verb == SDU_V_MAIL, &q) != 0) abort();
  if (q.len != p.len || memcmp(q.addr, p.addr, p.len) || q.null != p.null || q.atpos != p.atpos) abort();
  if (q.paramslen != p.paramslen || memcmp(q.params, p.params, p.paramslen)) abort();
}

/* the same bytes as one line of a downstream's reply */
static void replyline(const char *line, size_t len)
{
  int code = 0, more = 0;
  if (!sdu_smtp_replyline(line, len, &code, &more)) return;
  if (code < 200 || code > 599) abort();
  if (code != (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0') abort();
  if (more != (len > 3 && line[3] == '-')) abort();
}

/* the bytes as a text we answer with: one line, code first, printable, bounded */
static void fmtreply(const char *data, size_t size)
{
  stralloc out = {0};
  char *text = malloc(size + 1);
  size_t i;
  int dflt, code;
  if (!text) return;
  memcpy(text, data, size);
  text[size] = 0;
  dflt = size ? 100 + (unsigned char) data[0] * 3 : 250;
  if (!sdu_smtp_fmtreply(&out, dflt, text)) abort();
  if (out.len < 6 || out.len > 4 + SDU_SMTP_TEXT_MAX + 2) abort();
  if (out.s[out.len - 2] != '\r' || out.s[out.len - 1] != '\n' || out.s[3] != ' ') abort();
  for (i = 0; i < out.len - 2; ++i)
    if ((unsigned char) out.s[i] < 32 || (unsigned char) out.s[i] > 126) abort();
  if (!stralloc_0(&out)) abort();
  code = sdu_smtp_replycode(out.s, -1);
  if (code < 200 || code > 599) abort();
  /* a text with its own valid code keeps it */
  if (size >= 3 && text[0] >= '2' && text[0] <= '5' && text[1] >= '0' && text[1] <= '9' && text[2] >= '0'
      && text[2] <= '9' && (size == 3 || text[3] == ' ' || text[3] == '-') && memcmp(out.s, text, 3)) abort();
  if (sdu_smtp_replycode(text, -1) != -1 && sdu_smtp_replycode(text, -1) != code) abort();
  stralloc_free(&out);
  free(text);
}

static int dropped(const char *s, size_t l)
{
  static const char *const drop[] = { "STARTTLS", "CHUNKING", "BINARYMIME", 0 };
  size_t n;
  int k;
  if (l < 4) return 0;
  for (n = 4; n < l && s[n] != ' ' && s[n] != '='; ++n) ;
  for (k = 0; drop[k]; ++k)
    if (strlen(drop[k]) == n - 4 && caseeq(s + 4, drop[k], n - 4)) return 1;
  return 0;
}

/* the bytes as an EHLO reply: what the filter gives is a well-formed reply
   without the extensions it drops, and filtering it again changes nothing */
static void ehlo(const char *data, size_t size)
{
  stralloc a = {0}, b = {0};
  size_t pos, lines = 0, k = 0;
  if (!sdu_smtp_ehlofilter(&a, data, size)) abort();
  for (pos = 0; pos < a.len; ++pos) if (a.s[pos] == '\n') ++lines;
  for (pos = 0; pos < a.len; ) {
    const char *e = memchr(a.s + pos, '\n', a.len - pos);
    size_t l;
    if (!e) abort();
    l = (size_t) (e - (a.s + pos));
    if (l < 5 || a.s[pos + l - 1] != '\r') abort();
    ++k;
    if (a.s[pos + 3] != (k < lines ? '-' : ' ')) abort();
    if (k > 1 && dropped(a.s + pos, l - 1)) abort();
    pos += l + 1;
  }
  if (a.len > 2 * size + 4) abort();
  if (!sdu_smtp_ehlofilter(&b, a.s, a.len)) abort();
  if (a.len != b.len || (a.len && memcmp(a.s, b.s, a.len))) abort();
  stralloc_free(&a);
  stralloc_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *) data;
  if (size > SDU_SMTP_LINE_MAX) return 0;
  command(s, size);
  replyline(s, size);
  fmtreply(s, size);
  ehlo(s, size);
  return 0;
}
