/* sdu_smtp.c: SMTP command classification and reply formatting */
#include <case.h>
#include <str.h>
#include <byte.h>
#include <fmt.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"

static const struct { const char *name; int verb; } verbs[] = {
  { "HELO", SDU_V_HELO }, { "EHLO", SDU_V_EHLO }, { "MAIL", SDU_V_MAIL },
  { "RCPT", SDU_V_RCPT }, { "DATA", SDU_V_DATA }, { "RSET", SDU_V_RSET },
  { "NOOP", SDU_V_NOOP }, { "QUIT", SDU_V_QUIT }, { "VRFY", SDU_V_VRFY },
  { "AUTH", SDU_V_AUTH }, { "STARTTLS", SDU_V_STARTTLS }, { "BDAT", SDU_V_BDAT },
  { 0, 0 }
};

int sdu_smtp_verb(const char *line, size_t len, size_t *arg)
{
  size_t i, n;
  int k;
  for (n = 0; n < len && line[n] != ' ' && line[n] != '\t'; ++n) ;
  i = n;
  while (i < len && (line[i] == ' ' || line[i] == '\t')) ++i;
  *arg = i;
  for (k = 0; verbs[k].name; ++k)
    if (str_len(verbs[k].name) == n && !case_diffb(line, n, verbs[k].name))
      return verbs[k].verb;
  return SDU_V_OTHER;
}

const char *sdu_smtp_verbname(int verb)
{
  int k;
  switch (verb) {
    case SDU_V_GREETING: return "greeting";
    case SDU_V_DOT: return "dot";
    case SDU_V_AUTHLINE: return "authline";
    case SDU_V_BAD: return "bad";
    case SDU_V_OTHER: return "other";
  }
  for (k = 0; verbs[k].name; ++k) if (verbs[k].verb == verb) return verbs[k].name;
  return "?";
}

int sdu_smtp_replyline(const char *line, size_t len, int *code, int *more)
{
  if (len < 3) return 0;
  if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
      || line[2] < '0' || line[2] > '9') return 0;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return 0;
  *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  *more = len > 3 && line[3] == '-';
  return 1;
}

/* RFC 9110's token characters: a header name, a method */
static int tchar(char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c && str_chr("!#$%&'*+-.^_`|~", c) < 15;
}

int sdu_smtp_nonsmtp(const char *line, size_t len)
{
  static const char *const methods[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", 0
  };
  size_t n, i, arg;
  int k;
  for (n = 0; n < len && tchar(line[n]); ++n) ;
  if (!n || n == len) return 0;
  /* "Host:", "User-Agent:": a header name right before its colon; an SMTP
     verb is never one ("MAIL FROM:<a@b>" has its blank first) */
  if (line[n] == ':') return sdu_smtp_verb(line, n, &arg) == SDU_V_OTHER;
  if (line[n] != ' ') return 0;
  for (k = 0; methods[k]; ++k)
    if (str_len(methods[k]) == n && !case_diffb(line, n, methods[k])) return 1;
  /* "X target HTTP/d.d": one blank each, as a request line has them */
  for (i = n + 1; i < len && line[i] != ' '; ++i) ;
  if (i == n + 1 || len - i != 9) return 0;
  return !case_diffb(line + i + 1, 5, "HTTP/") && line[i + 6] >= '0' && line[i + 6] <= '9'
    && line[i + 7] == '.' && line[i + 8] >= '0' && line[i + 8] <= '9';
}

int sdu_smtp_cleanline(const char *line, size_t len)
{
  size_t i;
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char) line[i];
    if (c < 32 && c != '\t') return 0;
    if (c == 127) return 0;
  }
  return 1;
}

int sdu_smtp_replycode(const char *text, int dflt)
{
  int code, more;
  size_t len = str_len(text);
  if (len >= 3 && sdu_smtp_replyline(text, len > 4 ? 4 : len, &code, &more)) return code;
  return dflt;
}

int sdu_smtp_fmtreply(stralloc *out, int code, const char *text)
{
  char num[SDU_FMT_ULONG];
  size_t len = str_len(text);
  int have, more;
  if (len >= 3 && sdu_smtp_replyline(text, len > 4 ? 4 : len, &have, &more)) {
    code = have;
    text += 3; len -= 3;
    while (len && (*text == ' ' || *text == '-')) { ++text; --len; }
  }
  if (code < 200 || code > 599) code = 451;
  if (!stralloc_catb(out, num, sdu_fmt_ulong(num, (unsigned long) code))) return 0;
  if (!stralloc_append(out, " ")) return 0;
  if (!sdu_printable(out, text, len, SDU_SMTP_TEXT_MAX, 1)) return 0;
  return stralloc_catb(out, "\r\n", 2);
}

static int dropext(const char *kw, size_t len, int noauth)
{
  static const char *drop[] = { "STARTTLS", "CHUNKING", "BINARYMIME", 0 };
  size_t n;
  int k;
  for (n = 0; n < len && kw[n] != ' ' && kw[n] != '='; ++n) ;
  for (k = 0; drop[k]; ++k)
    if (str_len(drop[k]) == n && !case_diffb(kw, n, drop[k])) return 1;
  return noauth && n == 4 && !case_diffb(kw, n, "AUTH");
}

static int keepline(const char *line, size_t l, int first, int noauth)
{
  /* the first line is the greeting part, never an extension */
  return first || l < 4 || !dropext(line + 4, l - 4, noauth);
}

int sdu_smtp_ehlofilter(stralloc *out, const char *reply, size_t len)
{
  return sdu_smtp_ehloedit(out, reply, len, 0, 0);
}

int sdu_smtp_ehloedit(stralloc *out, const char *reply, size_t len, int starttls, int noauth)
{
  size_t pos, kept = 0, k = 0;
  int pass;
  for (pass = 0; pass < 2; ++pass) {
    int first = 1;
    for (pos = 0; pos < len; ) {
      size_t e = pos + byte_chr(reply + pos, len - pos, '\n');
      size_t l = e - pos;
      if (l && reply[pos + l - 1] == '\r') --l;
      if (l >= 3 && keepline(reply + pos, l, first, noauth)) {
        if (!pass) ++kept;
        else {
          ++k;
          if (!stralloc_catb(out, reply + pos, 3)) return 0;
          if (!stralloc_append(out, k < kept + (starttls && kept) ? "-" : " ")) return 0;
          if (l > 4 && !stralloc_catb(out, reply + pos + 4, l - 4)) return 0;
          if (!stralloc_catb(out, "\r\n", 2)) return 0;
        }
      }
      first = 0;
      pos = e + 1;
    }
  }
  /* ours, last, with the code of the lines before it */
  if (starttls && kept) {
    if (!stralloc_catb(out, reply, 3)) return 0;
    if (!stralloc_cats(out, " STARTTLS\r\n")) return 0;
  }
  return 1;
}
