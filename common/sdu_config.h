/* sdu_config.h: config files read as lines of words, and their error messages */
#ifndef SDU_CONFIG_H
#define SDU_CONFIG_H

#include <stddef.h>
#include <stralloc.h>

#define SDU_CONFIG_FILE_MAX (4UL * 1024 * 1024) /* bigger files: EFBIG */
#define SDU_CONFIG_LINE_MAX 4096 /* bytes, without the line end */

/* Syntax, one line at a time:
   - words are separated by blanks (space, tab); CRLF line ends are fine;
   - a word that starts with '#' starts a comment to the end of the line
     ("a#b" is one word, "a #b" is the word "a");
   - a word that starts with '"' is quoted: it runs to the next unescaped
     '"', may hold blanks and '#', knows the escapes \" and \\ (any other
     backslash is an error), and must be followed by a blank or the end of
     the line; '"' inside an unquoted word is an ordinary byte;
   - blank lines and comment lines are skipped;
   - NUL, CR other than before LF, and other control bytes except tab are
     errors; an unterminated quote is an error; 8-bit bytes pass through. */
typedef struct sdu_config {
  const char *file;    /* name for messages; the caller's string must outlive c */
  unsigned long line;  /* number of the line last returned (or in error) */
  char *buf;           /* the whole file, words are cut in place */
  size_t len, pos;
  char **words;        /* words of the current line, 0-terminated */
  unsigned char *quoted; /* quoted[i]: words[i] was written in quotes */
  unsigned int n, max;
  const char *err;     /* static text of the last syntax error, or 0 */
} sdu_config;

/* 0 ok; -1 with errno (open/read errors, EFBIG, ENOMEM) */
int sdu_config_open(sdu_config *c, const char *file);
/* copies buf: for stdin and for tests */
int sdu_config_from_buf(sdu_config *c, const char *name, const char *buf, size_t len);
/* 1: a line with *n >= 1 words in *words (valid until the next call);
   0: end of file; -1: syntax error at c->line, text in sdu_config_error() */
int sdu_config_next(sdu_config *c, char ***words, unsigned int *n);
const char *sdu_config_error(const sdu_config *c);
/* 1 when word i of the current line was quoted ("reject" is text, reject a keyword) */
int sdu_config_quoted(const sdu_config *c, unsigned int i);
void sdu_config_free(sdu_config *c);

/* appends "FILE line N: msg1msg2" ("FILE: msg1msg2" when line is 0) to out,
   file name and msg2 made printable and cut; 1 ok, 0 no memory */
int sdu_config_fmt(stralloc *out, const sdu_config *c, const char *msg1, const char *msg2);
/* "PROG: fatal: FILE line N: msg1msg2" on fd 2, exit 100 */
void sdu_config_fatal(const sdu_config *c, const char *msg1, const char *msg2);

#endif
