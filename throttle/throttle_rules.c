/* throttle_rules.c: throttle's limits, client keys and whitelists */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "sdu_config.h"
#include "sdu_addr.h"
#include "sdu_time.h"
#include "throttle_rules.h"

int throttle_number(const char *s, unsigned long *u)
{
  unsigned long n = 0;
  size_t i;
  for (i = 0; s[i] >= '0' && s[i] <= '9'; ++i) {
    if (i >= 9) return 0;
    n = n * 10 + (unsigned long) (s[i] - '0');
  }
  if (!i || s[i]) return 0;
  *u = n;
  return 1;
}

int throttle_rate_parse(throttle_rate *r, const char *s)
{
  char num[16];
  const char *slash = strchr(s, '/');
  size_t n;
  if (!slash) return 0;
  n = (size_t) (slash - s);
  if (n >= sizeof num) return 0;
  memcpy(num, s, n);
  num[n] = 0;
  if (!throttle_number(num, &r->count)) return 0;
  if (!sdu_parse_duration(slash + 1, &r->window) || !r->window) return 0;
  return 1;
}

size_t throttle_clientkey(char *out, const sdu_ip *ip)
{
  char k[16];
  int n = sdu_ip_prefix_key(k, ip);
  out[0] = n == 4 ? '4' : '6';
  memcpy(out + 1, k, (size_t) n);
  return (size_t) n + 1;
}

static int loaderr(stralloc *err, const sdu_config *c, const char *msg1, const char *msg2)
{
  err->len = 0;
  if (!sdu_config_fmt(err, c, msg1, msg2) || !stralloc_0(err)) errno = ENOMEM;
  else return 0;
  return -1;
}

/* a file of one word a line; add() returns 1, 0 for a bad word (with the
   message in *why), -1 out of memory. 1 all read, 0 a mistake (in err), -1 errno */
static int loadwords(const char *file, stralloc *err, const char *oneword,
  int (*add)(void *ctx, const char *word, const char **why), void *ctx)
{
  sdu_config c;
  char **words;
  unsigned int n;
  int r, res = 1;
  if (sdu_config_open(&c, file) == -1) return -1;
  while (res == 1 && (r = sdu_config_next(&c, &words, &n)) == 1) {
    const char *why = "";
    int k;
    if (n != 1) { res = loaderr(err, &c, oneword, ""); break; }
    k = add(ctx, words[0], &why);
    if (k == -1) { errno = ENOMEM; res = -1; }
    else if (!k) res = loaderr(err, &c, why, words[0]);
  }
  if (res == 1 && r == -1) res = loaderr(err, &c, sdu_config_error(&c), "");
  sdu_config_free(&c);
  return res;
}

static int addnet(void *ctx, const char *word, const char **why)
{
  throttle_nets *w = ctx;
  sdu_net net;
  if (!sdu_net_parse(&net, word)) { *why = "not an address or net: "; return 0; }
  if (w->len == w->a) {
    unsigned int a = w->a ? 2 * w->a : 16;
    sdu_net *m = realloc(w->n, a * sizeof *m);
    if (!m) return -1;
    w->n = m; w->a = a;
  }
  w->n[w->len++] = net;
  return 1;
}

int throttle_nets_load(throttle_nets *w, const char *file, stralloc *err)
{
  return loadwords(file, err, "one address or net a line", addnet, w);
}

int throttle_nets_match(const throttle_nets *w, const sdu_ip *ip)
{
  unsigned int i;
  for (i = 0; i < w->len; ++i) if (sdu_net_match(&w->n[i], ip)) return 1;
  return 0;
}

void throttle_nets_free(throttle_nets *w)
{
  free(w->n);
  w->n = 0; w->len = w->a = 0;
}

int throttle_addrs_add(throttle_addrs *w, const char *addr, size_t len)
{
  size_t start = w->all.len;
  if (!stralloc_catb(&w->all, addr, len) || !stralloc_0(&w->all)) return 0;
  sdu_addr_lower(w->all.s + start, len);
  return 1;
}

static int addaddr(void *ctx, const char *word, const char **why)
{
  size_t len = strlen(word);
  if (len > SDU_ADDR_MAX || !strchr(word, '@')) { *why = "not an address or @domain: "; return 0; }
  return throttle_addrs_add(ctx, word, len) ? 1 : -1;
}

int throttle_addrs_load(throttle_addrs *w, const char *file, stralloc *err)
{
  return loadwords(file, err, "one address a line", addaddr, w);
}

static int sameci(const char *a, const char *b, size_t len)
{
  size_t i;
  for (i = 0; i < len; ++i) {
    unsigned char x = (unsigned char) a[i], y = (unsigned char) b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char) (x + 32);
    if (x != y) return 0;
  }
  return 1;
}

int throttle_addrs_match(const throttle_addrs *w, const char *addr, size_t len)
{
  size_t pos = 0, at = len;
  while (at > 0 && addr[at - 1] != '@') --at;
  while (pos < w->all.len) {
    const char *e = w->all.s + pos;
    size_t el = strlen(e);
    if (el == len && sameci(addr, e, len)) return 1;
    if (e[0] == '@' && at && el == len - at + 1 && sameci(addr + at - 1, e, el)) return 1;
    pos += el + 1;
  }
  return 0;
}

void throttle_addrs_free(throttle_addrs *w)
{
  stralloc_free(&w->all);
}

void throttle_lists(char *out, size_t max, const char *env)
{
  size_t i, n = 0;
  if (!max) return;
  for (i = 0; env && env[i] && n + 1 < max; ++i) {
    char ch = env[i];
    if (ch == ' ' || ch == '\t') {
      if (!n || out[n - 1] == ',') continue;
      ch = ',';
    }
    out[n++] = ch;
  }
  while (n && out[n - 1] == ',') --n;
  out[n] = 0;
}
