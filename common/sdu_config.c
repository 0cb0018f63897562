/* sdu_config.c: config files read as lines of words, and their error messages */
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fmt.h>
#include "sdu_msg.h"
#include "sdu_config.h"

/* a line of LINE_MAX bytes holds at most LINE_MAX/2 + 1 words */
#define WORDS_MAX (SDU_CONFIG_LINE_MAX / 2 + 2)
#define MSG_NAME_MAX 200
#define MSG_TEXT_MAX 300

/* the words arrays are sized from the file: a line of L bytes holds at most
   (L + 1) / 2 words, and L is at most the file's length. A chain link reads
   its config at every connection: a 16 KiB array for a 100-byte file is
   pages touched (page faults) for nothing */
static int prepare(sdu_config *c, const char *name)
{
  size_t max = c->len / 2 + 2 < WORDS_MAX ? c->len / 2 + 2 : WORDS_MAX;
  c->file = name;
  c->line = 0;
  c->pos = 0;
  c->n = 0;
  c->err = 0;
  c->max = (unsigned int) max;
  c->words = malloc(max * sizeof *c->words);
  c->quoted = malloc(max);
  if (!c->words || !c->quoted) {
    free(c->words); free(c->quoted); free(c->buf);
    c->words = 0; c->quoted = 0; c->buf = 0;
    errno = ENOMEM;
    return -1;
  }
  c->words[0] = 0;
  return 0;
}

int sdu_config_from_buf(sdu_config *c, const char *name, const char *buf, size_t len)
{
  c->buf = 0; c->words = 0; c->quoted = 0; c->len = 0;
  if (len > SDU_CONFIG_FILE_MAX) { errno = EFBIG; return -1; }
  /* one byte more, so that the last word can always be 0-terminated in place */
  c->buf = malloc(len + 1);
  if (!c->buf) { errno = ENOMEM; return -1; }
  if (len) memcpy(c->buf, buf, len);
  c->buf[len] = 0;
  c->len = len;
  return prepare(c, name);
}

int sdu_config_open(sdu_config *c, const char *file)
{
  size_t cap = 8192, len = 0;
  char *b, *nb;
  int fd, e;
  off_t end;

  c->buf = 0; c->words = 0; c->quoted = 0; c->len = 0;
  /* no O_CLOEXEC: the descriptor is closed before this returns, in a
     program of one thread (and musl's open sets it with one system call
     more, at every connection of a chain link) */
  fd = open(file, O_RDONLY);
  if (fd == -1) return -1;
  /* a file that seeks: its size, and one byte more (the read that says end
     of file), read with pread from the start (no seek back); the loop still
     grows the buffer if the file grew. lseek, not fstat: musl's fstat reads
     a string constant from a page of its own */
  end = lseek(fd, 0, SEEK_END);
  if (end >= 0 && (unsigned long long) end < SDU_CONFIG_FILE_MAX) cap = (size_t) end + 1;
  b = malloc(cap);
  if (!b) { close(fd); errno = ENOMEM; return -1; }
  for (;;) {
    ssize_t r;
    size_t want;
    if (len == cap) {
      /* never grow past FILE_MAX + 1: one byte more tells that it is too big */
      if (cap > SDU_CONFIG_FILE_MAX) { e = EFBIG; goto fail; }
      cap = cap * 2 > SDU_CONFIG_FILE_MAX + 1 ? SDU_CONFIG_FILE_MAX + 1 : cap * 2;
      nb = realloc(b, cap);
      if (!nb) { e = ENOMEM; goto fail; }
      b = nb;
    }
    want = cap - len;
    r = end >= 0 ? pread(fd, b + len, want, (off_t) len) : read(fd, b + len, want);
    if (r == -1) { if (errno == EINTR) continue; e = errno; goto fail; }
    if (r == 0) break;
    len += (size_t) r;
    /* a file that seeks gave fewer bytes than asked, and all it had when
       its size was taken: that is its end, without a read more that says
       so (it grew: the read filled the buffer, and the loop goes on) */
    if (end >= 0 && (size_t) r < want && len == (size_t) end) break;
  }
  close(fd);
  if (len > SDU_CONFIG_FILE_MAX) { free(b); errno = EFBIG; return -1; }
  nb = realloc(b, len + 1);
  if (!nb) { free(b); errno = ENOMEM; return -1; }
  b = nb;
  b[len] = 0;
  c->buf = b;
  c->len = len;
  return prepare(c, file);
fail:
  free(b);
  close(fd);
  errno = e;
  return -1;
}

static int syntax(sdu_config *c, const char *why)
{
  c->err = why;
  c->n = 0;
  c->words[0] = 0;
  c->pos = c->len; /* nothing after an error is trusted */
  return -1;
}

/* cuts the line s[0..len) into words in place; 0 ok, -1 syntax error */
static int split(sdu_config *c, char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    char *w;
    size_t o;
    if (s[i] == ' ' || s[i] == '\t') { ++i; continue; }
    if (s[i] == '#') break;
    if (c->n + 1 >= c->max) return syntax(c, "too many words");
    w = s + i;
    o = 0;
    if (s[i] == '"') {
      for (++i; ; ++i) {
        if (i >= len) return syntax(c, "unterminated quote");
        if (s[i] == '"') break;
        if (s[i] == '\\') {
          if (i + 1 >= len) return syntax(c, "unterminated quote");
          if (s[i + 1] != '"' && s[i + 1] != '\\') return syntax(c, "unknown escape in quotes, only \\\" and \\\\ are known");
          ++i;
        }
        w[o++] = s[i];
      }
      ++i; /* the closing quote */
      if (i < len && s[i] != ' ' && s[i] != '\t')
        return syntax(c, "closing quote not followed by a blank");
      c->quoted[c->n] = 1;
    } else {
      while (i < len && s[i] != ' ' && s[i] != '\t') ++i;
      o = (size_t) (s + i - w);
      c->quoted[c->n] = 0;
    }
    /* w + o <= s + i - 1 for quoted words, and s[len] is the line end or the
       spare byte after the buffer: the terminator never overwrites unread text */
    w[o] = 0;
    if (i < len) ++i;
    c->words[c->n++] = w;
  }
  c->words[c->n] = 0;
  return 0;
}

int sdu_config_next(sdu_config *c, char ***words, unsigned int *n)
{
  *words = c->words;
  *n = 0;
  if (!c->buf) return 0;
  while (c->pos < c->len) {
    char *s = c->buf + c->pos;
    size_t len = 0, i, rest = c->len - c->pos;
    ++c->line;
    c->n = 0;
    while (len < rest && s[len] != '\n') ++len;
    c->pos += len < rest ? len + 1 : len;
    if (len && s[len - 1] == '\r') --len;
    if (len > SDU_CONFIG_LINE_MAX) return syntax(c, "line too long");
    for (i = 0; i < len; ++i) {
      unsigned char u = (unsigned char) s[i];
      if (u == 0) return syntax(c, "NUL byte in line");
      if ((u < 32 && u != '\t') || u == 127) return syntax(c, "control character in line");
    }
    if (split(c, s, len) == -1) return -1;
    if (c->n) { *n = c->n; return 1; }
  }
  c->n = 0;
  c->words[0] = 0;
  return 0;
}

const char *sdu_config_error(const sdu_config *c)
{
  return c->err ? c->err : "no error";
}

int sdu_config_quoted(const sdu_config *c, unsigned int i)
{
  return i < c->n ? c->quoted[i] : 0;
}

void sdu_config_free(sdu_config *c)
{
  free(c->buf); free(c->words); free(c->quoted);
  c->buf = 0; c->words = 0; c->quoted = 0;
  c->len = c->pos = 0;
  c->n = 0;
}

int sdu_config_fmt(stralloc *out, const sdu_config *c, const char *msg1, const char *msg2)
{
  const char *f = c->file ? c->file : "-";
  if (!sdu_printable(out, f, strlen(f), MSG_NAME_MAX, 1)) return 0;
  if (c->line) {
    char num[FMT_ULONG];
    if (!stralloc_cats(out, " line ")) return 0;
    if (!stralloc_catb(out, num, sdu_fmt_ulong(num, c->line))) return 0;
  }
  if (!stralloc_cats(out, ": ")) return 0;
  if (msg1 && !stralloc_cats(out, msg1)) return 0;
  if (msg2 && !sdu_printable(out, msg2, strlen(msg2), MSG_TEXT_MAX, 1)) return 0;
  return 1;
}

void sdu_config_fatal(const sdu_config *c, const char *msg1, const char *msg2)
{
  stralloc sa = {0};
  if (!sdu_config_fmt(&sa, c, msg1, msg2) || !stralloc_0(&sa)) sdu_nomem();
  sdu_fatal(SDU_EXIT_PERM, sa.s);
}
