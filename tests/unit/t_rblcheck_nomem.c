/* t_rblcheck_nomem.c: rblcheck's policy parser when memory runs out at each point of a parse */
#include "sdu_t.h"
#include "../../rblcheck/rblcheck_policy.h"

/* libowfat's stralloc_readyplus, except that the call counted down by
   failat fails; this file's own definition is the one the parser links */
static unsigned long failat;
static int failed;

int stralloc_readyplus(stralloc *sa, size_t len)
{
  if (failat && !--failat) { failed = 1; return 0; }
  if (sa->s && sa->len + len < len) return 0;
  return stralloc_ready(sa, sa->s ? sa->len + len : len);
}

/* parse text with the n-th allocation failing (0: none) */
static int parse(const char *text, unsigned long n, rblcheck_policy *p)
{
  sdu_config c;
  stralloc err = {0};
  int r;
  if (sdu_config_from_buf(&c, "policy", text, strlen(text)) == -1) return -2;
  failat = n;
  failed = 0;
  r = rblcheck_policy_parse(p, &c, &err);
  failat = 0;
  sdu_config_free(&c);
  stralloc_free(&err);
  return r;
}

/* every allocation of the parse, made to fail in turn, makes it say -1 */
static void each(const char *text, const char *name)
{
  rblcheck_policy p;
  unsigned long n;
  char what[200];
  int r = parse(text, 0, &p);
  T_EQI(r, 1, name);
  rblcheck_policy_free(&p);
  for (n = 1; n < 50; ++n) {
    r = parse(text, n, &p);
    rblcheck_policy_free(&p);
    if (!failed) break;
    snprintf(what, sizeof what, "  allocation %lu fails: no memory (-1)", n);
    T_EQI(r, -1, what);
  }
  T_OK(n > 1 && n < 50, "  the parse allocates, and less than 50 times");
}

int main(void)
{
  each("list a a.example\nrule rdns ~ *.dyn.example reject\n", "a glob");
  each("list a a.example\nrule !rdns ~ *.dyn.example & a reject\n", "a glob after !");
  each("list a a.example\nrule (rdns ~ *.dyn.example) | a reject\n", "a glob in parentheses");
  each("list a a.example\nrule !(a | !(rdns~x.example | rdns~y.example)) reject \"553 no\"\n", "globs deep inside");
  each("list a a.example\nrule a tempfail 10% \"451 later\"\nrule !a reject \"%ip\"\n", "texts");
  T_DONE();
}
