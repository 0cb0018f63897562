/* policy_fuzz.c: libFuzzer target for rblcheck's policy parser (rblcheck/rblcheck_policy.c), read from memory
   as rblcheck reads its file; built and run by tests/fuzz/policy.t.sh. A policy that parses is checked for
   consistency and decides for a client whose lists answered as the input's hash says: the decision is made,
   and the refusal it gives is one bounded printable SMTP reply of the right class. Some inputs also run out
   of memory at one point of the parse (the input's hash says where): the parse must then say -1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "rblcheck_policy.h"
#include "sdu_smtp.h"
#include "sdu_fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the glob files the seeds name ("rdns ~@globs"), in the working directory */
static void put(const char *file, const char *text)
{
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t) strlen(text) || close(fd) == -1) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void) argc; (void) argv;
  put("globs", "# dial-up ranges\n*.dialup.example  *.dyn.example.net\nppp-*.example.org\n");
  put("badglobs", "ok.example\nbad\001glob\n");
  return 0;
}

/* "@FILE" with a '/' reads files outside the working directory (/dev/tty
   waits): such inputs are not run */
static int outside(const uint8_t *d, size_t n)
{
  size_t i, j;
  for (i = 0; i < n; ++i) {
    if (d[i] != '@') continue;
    for (j = i + 1; j < n && d[j] > ' ' && d[j] != '"' && d[j] != ')'; ++j)
      if (d[j] == '/') return 1;
  }
  return 0;
}

static int printable(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) if ((unsigned char) s[i] < 32 || (unsigned char) s[i] > 126) return 0;
  return 1;
}

enum { N_LIST, N_ANY, N_SCORE, N_RDNS, N_NORDNS, N_PREGREET, N_NOT, N_AND, N_OR }; /* as in rblcheck_policy.c */

static void consistent(const rblcheck_policy *p)
{
  unsigned int i, j, k;
  unsigned long globs = 0;
  if (p->nlists > RBLCHECK_LISTS_MAX || p->nzones > p->nlists || p->nrules > RBLCHECK_RULES_MAX
      || p->nnodes > RBLCHECK_NODES_MAX || p->nglobs > RBLCHECK_GLOBS_MAX) abort();
  for (i = 0; i < p->globs.len; ++i) if (!p->globs.s[i]) ++globs;
  if (globs != p->nglobs || (p->globs.len && p->globs.s[p->globs.len - 1])) abort();
  for (i = 0; i < p->nlists; ++i) {
    const rblcheck_list *l = &p->list[i];
    size_t nl = strlen(l->name), zl = strlen(l->zone);
    if (!nl || nl > RBLCHECK_NAME_MAX || !zl || zl > RBLCHECK_ZONE_MAX || !printable(l->name, nl)) abort();
    if (l->zone[0] == '.' || l->zone[zl - 1] == '.' || !printable(l->zone, zl)) abort();
    if (l->weight > RBLCHECK_WEIGHT_MAX || l->nranges > RBLCHECK_RANGES_MAX || l->zi >= p->nzones) abort();
    if (strcmp(p->list[p->zonelist[l->zi]].zone, l->zone) || p->zonelist[l->zi] > i) abort();
    for (k = 0; k < l->nranges; ++k)
      if (l->lo[k] > l->hi[k] || l->lo[k] >> 24 != 127 || l->hi[k] >> 24 != 127) abort();
    for (j = 0; j < i; ++j) if (!strcmp(p->list[j].name, l->name)) abort();
  }
  for (i = 0; i < p->nzones; ++i)
    for (j = 0; j < i; ++j) if (!strcmp(p->list[p->zonelist[i]].zone, p->list[p->zonelist[j]].zone)) abort();
  for (i = 0; i < p->nnodes; ++i) {
    const rblcheck_node *nd = &p->node[i];
    switch (nd->op) {
      case N_LIST: if (nd->a >= p->nlists) abort(); break;
      case N_ANY: case N_NORDNS: case N_PREGREET: break;
      case N_SCORE: if (nd->n > RBLCHECK_WEIGHT_MAX * RBLCHECK_LISTS_MAX) abort(); break;
      case N_RDNS: {
        const char *g = p->globs.s + nd->a;
        if (nd->n > p->nglobs || (nd->n && nd->a >= p->globs.len)) abort();
        for (k = 0; k < nd->n; ++k) {
          if (g >= p->globs.s + p->globs.len) abort();
          g += strlen(g) + 1;
        }
        break;
      }
      case N_AND: case N_OR: if (nd->b >= i) abort(); /* fall through */
      case N_NOT: if (nd->a >= i) abort(); break;
      default: abort();
    }
  }
  for (i = 0; i < p->nrules; ++i) {
    const rblcheck_rule *r = &p->rule[i];
    if (r->cond >= p->nnodes || r->action < RBLCHECK_A_REJECT || r->action > RBLCHECK_A_GREETWAIT) abort();
    if (r->action == RBLCHECK_A_GREETWAIT ? !r->wait || r->wait > RBLCHECK_GREETWAIT_MAX : r->wait != 0) abort();
    if (r->percent > 100 || !r->line) abort();
    if (r->text) {
      const char *t = p->texts.s + r->text - 1;
      if (r->text > p->texts.len || (r->action != RBLCHECK_A_REJECT && r->action != RBLCHECK_A_TEMPFAIL)) abort();
      if (strlen(t) > SDU_SMTP_TEXT_MAX + 4) abort();
      if (t[0] != (r->action == RBLCHECK_A_REJECT ? '5' : '4')) abort();
    }
  }
}

/* the reply a refusal gives: one line, printable, bounded, of its class */
static void refusal(const rblcheck_ctx *x, const rblcheck_verdict *v)
{
  stralloc t = {0}, out = {0};
  size_t i;
  if (!v->text) abort();
  if (!rblcheck_text(&t, x, v->text, "192.0.2.7") || !stralloc_0(&t)) abort();
  if (!sdu_smtp_fmtreply(&out, v->action == RBLCHECK_A_REJECT ? 553 : 451, t.s)) abort();
  if (out.len > 4 + SDU_SMTP_TEXT_MAX + 2 || out.s[out.len - 2] != '\r' || out.s[out.len - 1] != '\n') abort();
  for (i = 0; i < out.len - 2; ++i) if ((unsigned char) out.s[i] < 32 || (unsigned char) out.s[i] > 126) abort();
  if (out.s[0] != (v->action == RBLCHECK_A_REJECT ? '5' : '4')) abort();
  stralloc_free(&t);
  stralloc_free(&out);
}

static void decide(const rblcheck_policy *p, uint32_t h, int final)
{
  static const char txt[] = "listed\r\n250 fake\x7f see http://bl.example/?ip=%ip";
  static const unsigned char states[] = { RBLCHECK_NO, RBLCHECK_YES, RBLCHECK_FAIL, RBLCHECK_BAD, RBLCHECK_PENDING };
  rblcheck_ctx x;
  rblcheck_verdict v;
  stralloc hdr = {0};
  unsigned int i;
  int r;
  rblcheck_ctx_init(&x, p);
  for (i = 0; i < p->nlists; ++i) {
    x.state[i] = states[((h >> (i % 16)) ^ i) % (final ? 5 : 4)];
    memcpy(x.bad[i], "\177\377\377\377", 4);
  }
  for (i = 0; i < p->nzones; ++i) {
    x.txtst[i] = final && (h >> i & 1) ? SDU_DNS_PENDING : (h >> (i + 1) & 1) ? SDU_DNS_OK : SDU_DNS_NXDOMAIN;
    x.txt[i] = txt;
    x.txtlen[i] = sizeof txt - 1;
  }
  x.rdns = h & 1 ? 0 : h & 2 ? "ppp-7.example.org" : "mx.dialup.example";
  x.roll = (h >> 8) % 100;
  x.failclosed = (h >> 16) & 1;
  x.harvest = (h >> 17) & 1;
  /* watched: talked, or not yet (pregreet is known only when final), or
     the greetwait is over */
  x.watch = (h >> 19) & 1;
  x.pregreet = (h >> 20) & 1;
  x.waited = (h >> 21) & 1;
  r = rblcheck_decide(&x, final, &v);
  /* every answer is in, or no more will come: the decision is known, but
     for a watched client who may still talk */
  if (r != 1 && (final || !x.watch || x.pregreet)) abort();
  if (r != 1) return;
  if (v.action == RBLCHECK_A_GREETWAIT) {
    /* only for the silent watched, after every answer, never twice */
    if (!final || !x.watch || x.pregreet || x.waited || v.refuse || v.header || !v.greetwait) abort();
    x.waited = 1;
    if (rblcheck_decide(&x, final, &v) != 1 || v.action == RBLCHECK_A_GREETWAIT) abort();
  }
  if (v.rule >= (int) p->nrules || v.action < RBLCHECK_A_NONE || v.action > RBLCHECK_A_HARVEST) abort();
  if (v.refuse && v.header) abort();
  if (x.harvest && v.refuse) abort();
  if (v.refuse) refusal(&x, &v);
  /* signed with a fixed key every other input: the signed line is one printable line too */
  {
    static sdu_tagkeys k = { 1, { { 7 } } };
    if (!rblcheck_header(&hdr, &x, &v, "192.0.2.7", 0, (h >> 18) & 1 ? &k : 0)) abort();
  }
  if (!hdr.len || hdr.s[hdr.len - 1] != '\n' || !printable(hdr.s, hdr.len - 1)) abort();
  if (((h >> 18) & 1) && !memmem(hdr.s, hdr.len, " mac=", 5)) abort();
  stralloc_free(&hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static rblcheck_policy p;
  sdu_config c;
  stralloc err = {0};
  uint32_t h = 2166136261u;
  size_t i;
  int r;

  if (outside(data, size)) return 0;
  for (i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
  if (sdu_config_from_buf(&c, "policy", (const char *) data, size) == -1) abort();
  fuzz_fail((h & 7) ? 0 : 1 + (h >> 3) % 8);
  r = rblcheck_policy_parse(&p, &c, &err);
  if (fuzz_unfail()) {
    /* no memory, once: whatever else happened, the parse says so */
    if (r != -1) abort();
  } else if (r == 0) {
    /* the mistake names the file and the line, printable, bounded */
    if (!err.s || err.s[err.len] || strlen(err.s) != err.len || !printable(err.s, err.len)) abort();
    if (strncmp(err.s, "policy", 6) && strncmp(err.s, "globs", 5) && strncmp(err.s, "badglobs", 8)) abort();
    if (err.len > 200 + 20 + 100 + 300) abort();
  } else if (r == 1) {
    consistent(&p);
    decide(&p, h, 0);
    decide(&p, h, 1);
  } else abort();
  rblcheck_policy_free(&p);
  sdu_config_free(&c);
  stralloc_free(&err);
  return 0;
}
