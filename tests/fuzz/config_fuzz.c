/* config_fuzz.c: libFuzzer target for the config reader (common/sdu_config.c); built and run by
   tests/fuzz/config.t.sh. The input is a config file; the words it gives, written back one blank apart
   (quoted where they were quoted), read back as the same words. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sdu_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const errors[] = {
  "line too long", "NUL byte in line", "control character in line", "too many words",
  "unterminated quote", "unknown escape in quotes, only \\\" and \\\\ are known",
  "closing quote not followed by a blank", 0
};

/* every line as: number of words, then per word its quoted flag, length and bytes */
static int readall(sdu_config *c, stralloc *flat, stralloc *text, unsigned long maxline)
{
  char **w;
  unsigned int n, i;
  unsigned long last = 0;
  int r;
  while ((r = sdu_config_next(c, &w, &n)) == 1) {
    if (!n || w[n] || c->line <= last || c->line > maxline) abort();
    last = c->line;
    if (!stralloc_catb(flat, (char *) &n, sizeof n)) abort();
    for (i = 0; i < n; ++i) {
      size_t l = strlen(w[i]), k;
      char q = (char) sdu_config_quoted(c, i);
      if (l > SDU_CONFIG_LINE_MAX) abort();
      if (!q && (!l || w[i][0] == '#' || w[i][0] == '"')) abort();
      for (k = 0; k < l; ++k) {
        unsigned char u = (unsigned char) w[i][k];
        if (u == 127 || (u < 32 && !(u == '\t' && q)) || (!q && (u == ' ' || u == '\t'))) abort();
      }
      if (!stralloc_append(flat, &q) || !stralloc_catb(flat, (char *) &l, sizeof l) || !stralloc_catb(flat, w[i], l))
        abort();
      if (i && !stralloc_append(text, " ")) abort();
      if (!q) { if (!stralloc_catb(text, w[i], l)) abort(); continue; }
      if (!stralloc_append(text, "\"")) abort();
      for (k = 0; k < l; ++k) {
        if ((w[i][k] == '"' || w[i][k] == '\\') && !stralloc_append(text, "\\")) abort();
        if (!stralloc_append(text, &w[i][k])) abort();
      }
      if (!stralloc_append(text, "\"")) abort();
    }
    if (sdu_config_quoted(c, n)) abort();
    if (!stralloc_append(text, "\n")) abort();
  }
  if (r != 0 && r != -1) abort();
  if (r == 0 && (n || c->err)) abort();
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sdu_config c, d;
  stralloc flat = {0}, text = {0}, flat2 = {0}, text2 = {0}, msg = {0};
  char **w;
  unsigned int n, k;
  unsigned long lines = 1;
  size_t i;
  int r;

  for (i = 0; i < size; ++i) if (data[i] == '\n') ++lines;
  if (sdu_config_from_buf(&c, "fuzz.conf", (const char *) data, size) == -1) abort();
  r = readall(&c, &flat, &text, lines);
  if (r == -1) {
    /* a known message, bounded and printable with the file and line; nothing after it */
    for (k = 0; errors[k] && strcmp(errors[k], sdu_config_error(&c)); ++k) ;
    if (!errors[k] || !c.line || c.line > lines) abort();
    if (!sdu_config_fmt(&msg, &c, "policy: ", "\001\n\377 a word")) abort();
    if (msg.len > 200 + 30 + 8 + 300) abort();
    for (i = 0; i < msg.len; ++i) if ((unsigned char) msg.s[i] < 32 || (unsigned char) msg.s[i] > 126) abort();
    if (sdu_config_next(&c, &w, &n) != 0 || n) abort();
  } else {
    /* the words written back read the same */
    if (sdu_config_from_buf(&d, "again", text.s ? text.s : "", text.len) == -1) abort();
    if (readall(&d, &flat2, &text2, (unsigned long) -1) != 0) abort();
    if (flat.len != flat2.len || (flat.len && memcmp(flat.s, flat2.s, flat.len))) abort();
    if (text.len != text2.len || (text.len && memcmp(text.s, text2.s, text.len))) abort();
    sdu_config_free(&d);
  }
  sdu_config_free(&c);
  stralloc_free(&flat); stralloc_free(&text); stralloc_free(&flat2); stralloc_free(&text2); stralloc_free(&msg);
  return 0;
}
