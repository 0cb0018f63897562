/* sdu_msg.c: messages in the qmail wording and the key=value decision log */
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fmt.h>
#include <str.h>
#include "sdu_msg.h"

/* getopt's own complaint is left out (its wording is the C library's): a
   bad option gets the usage line alone, as in qmail */
void sdu_iam(const char *prog) { errmsg_iam(prog); opterr = 0; }

size_t sdu_fmt_ulong(char *dest, unsigned long u)
{
  size_t len = 1, i;
  unsigned long q = u;
  while (q >= 10) { q /= 10; ++len; }
  if (dest)
    for (i = len; i > 0; --i) { dest[i - 1] = (char) ('0' + u % 10); u /= 10; }
  return len;
}

const char *sdu_prog(void) { return argv0 ? argv0 : "sdu"; }

void sdu_nomem(void) { sdu_fatal(SDU_EXIT_TEMP, "out of memory"); }

void sdu_usage(const char *usage) { carp("usage: ", usage); sdu_exit(SDU_EXIT_PERM); }

void (*sdu_exit_hook)(int code);

void sdu_exit(int code)
{
  if (sdu_exit_hook) sdu_exit_hook(code);
  exit(code);
}

int sdu_printable(stralloc *out, const char *s, size_t len, size_t max, int keepspace)
{
  size_t i;
  if (len > max) len = max;
  if (!stralloc_readyplus(out, len)) return 0;
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char) s[i];
    if ((c == ' ' && keepspace) || (c > 32 && c < 127)) out->s[out->len++] = (char) c;
    else out->s[out->len++] = '_';
  }
  return 1;
}

void sdu_log_start(sdu_log *l)
{
  l->sa.s = 0; l->sa.len = 0; l->sa.a = 0;
  if (!stralloc_copys(&l->sa, sdu_prog())) sdu_nomem();
  if (!stralloc_append(&l->sa, ":")) sdu_nomem();
}

void sdu_log_kvb(sdu_log *l, const char *key, const char *value, size_t len)
{
  if (!stralloc_append(&l->sa, " ")) sdu_nomem();
  if (!stralloc_cats(&l->sa, key)) sdu_nomem();
  if (!stralloc_append(&l->sa, "=")) sdu_nomem();
  if (!len) { if (!stralloc_append(&l->sa, "-")) sdu_nomem(); return; }
  if (!sdu_printable(&l->sa, value, len, SDU_LOG_VALUE_MAX, 0)) sdu_nomem();
}

void sdu_log_kv(sdu_log *l, const char *key, const char *value)
{
  sdu_log_kvb(l, key, value ? value : "", value ? str_len(value) : 0);
}

void sdu_log_kvu(sdu_log *l, const char *key, unsigned long value)
{
  char num[SDU_FMT_ULONG];
  sdu_log_kvb(l, key, num, sdu_fmt_ulong(num, value));
}

SDU_HOT static char session_fields[256];

void sdu_log_session(const char *fields)
{
  size_t n = str_len(fields);
  if (n >= sizeof session_fields) n = 0;   /* the proxy's are short; never a cut one */
  memcpy(session_fields, fields, n);
  session_fields[n] = 0;
}

int sdu_log_emit(sdu_log *l, int fd)
{
  size_t done = 0;
  int r = 0;
  if (session_fields[0] && !stralloc_cats(&l->sa, session_fields)) sdu_nomem();
  if (!stralloc_append(&l->sa, "\n")) sdu_nomem();
  while (done < l->sa.len) {
    ssize_t w = write(fd, l->sa.s + done, l->sa.len - done);
    if (w < 0) { if (errno == EINTR) continue; r = -1; break; }
    done += (size_t) w;
  }
  stralloc_free(&l->sa);
  return r;
}

void sdu_log_decision(const char *ip, const char *action, const char *would, const char *reason)
{
  sdu_log l;
  sdu_log_start(&l);
  sdu_log_kv(&l, "ip", ip);
  sdu_log_kv(&l, "action", action);
  if (would) sdu_log_kv(&l, "would", would);
  sdu_log_kv(&l, "reason", reason);
  sdu_log_emit(&l, 2);
}
