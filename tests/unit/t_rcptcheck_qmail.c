/* t_rcptcheck_qmail.c: rcptcheck-build -q against a made-up qmail tree, compared with what qmail delivers */
#include <unistd.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cdb.h>
#include "sdu_t.h"
#include "sdu_cdb.h"
#include "../../rcptcheck/rcptcheck_build.h"
#include "../../rcptcheck/rcptcheck_qmail.h"

static char top[256];
static int asroot;

static void mkfile(const char *rel)
{
  char p[512];
  snprintf(p, sizeof p, "%s/%s", top, rel);
  if (T_WRITES(p, "./Maildir/\n") == -1) { printf("not ok - unable to write %s\n", p); exit(1); }
}

/* a home owned by uid (the tests' own uid when they do not run as root) */
static void mkhome(const char *rel, unsigned long uid)
{
  char p[512];
  snprintf(p, sizeof p, "%s/%s", top, rel);
  mkdir(p, 0755);
  if (asroot && chown(p, (uid_t) uid, (gid_t) -1) == -1) { printf("not ok - chown %s\n", p); exit(1); }
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *) a, *(char *const *) b); }

/* every key of the table but the markers, sorted, one per line */
static char *keys(const char *file, char *markers, size_t msize)
{
  sdu_cdb d;
  uint32 kpos;
  char *k[4096], *out;
  size_t n = 0, i, len = 0;
  int r;
  markers[0] = 0;
  if (sdu_cdb_open(&d, file) == -1) return 0;
  for (r = cdb_firstkey(&d.c, &kpos); r == 1 && n < 4096; r = cdb_nextkey(&d.c, &kpos)) {
    uint32 kl = cdb_keylen(&d.c);
    char *s = malloc(kl + 1);
    if (!s || cdb_read(&d.c, (unsigned char *) s, kl, cdb_keypos(&d.c)) == -1) return 0;
    s[kl] = 0;
    k[n++] = s;
  }
  sdu_cdb_close(&d);
  qsort(k, n, sizeof *k, cmpstr);
  out = malloc(65536);
  if (!out) return 0;
  out[0] = 0;
  for (i = 0; i < n; ++i) {
    if (k[i][0] == '@' && k[i][1] == '@') {
      /* domain markers only: "@@" and "@@domain" */
      if (!strchr(k[i] + 2, '[') && strlen(markers) + strlen(k[i]) + 2 < msize) { strcat(markers, k[i]); strcat(markers, "\n"); }
    } else if (len + strlen(k[i]) + 2 < 65536) {
      strcpy(out + len, k[i]); len += strlen(k[i]);
      out[len++] = '\n'; out[len] = 0;
    }
    free(k[i]);
  }
  return out;
}

/* the lines of a that are not in b */
static void diff(const char *a, const char *b, const char *what)
{
  char line[300];
  while (*a) {
    const char *e = strchr(a, '\n');
    snprintf(line, sizeof line, "\n%.*s\n", (int) (e - a), a);
    if (strncmp(b, line + 1, strlen(line + 1)) && !strstr(b, line)) printf("#   %s %.*s\n", what, (int) (e - a), a);
    a = e + 1;
  }
}

/* the names every local domain delivers, written by hand from qmail-lspawn(8),
   qmail-getpw(8), qmail-local(8), dot-qmail(5) and qmail-users(5) */
static const char *const local_names[] = {
  /* users/assign: =steve (dash ""), +steve- with two extensions and a -default */
  "steve", "steve-a", "steve-b", "steve-lists-default", "steve-news",
  /* =info: dash "-", ext "info": vdom's .qmail-info */
  "info",
  /* +vdom-: vdom's files; .qmail-sales:team is sales.team */
  "vdom-info", "vdom-jobs", "vdom-sales.team",
  /* +ezmlm- with pre "list-": ezmlm-X is .qmail-list-X */
  "ezmlm-announce", "ezmlm-announce-default", "ezmlm-talk",
  /* =Carol: local is matched without regard to case */
  "carol",
  /* +dept- with dash "": everything under dept- is delivered */
  "dept-default",
  /* passwd: bob and five extensions, a -default, a colon; not .qmail-Upper,
     not .qmail-x.y, not .qmail-x-y (bob-x-y belongs to the user bob-x) */
  "bob", "bob-a", "bob-b", "bob-c", "bob-d", "bob-e", "bob-sales.team", "bob-work-default",
  /* passwd: bob-x, the longest user name at a '-' */
  "bob-x", "bob-x-z",
  /* passwd: alice, three extensions and a .qmail-default */
  "alice", "alice-default", "alice-one", "alice-three", "alice-two",
  /* the alias user; not .qmail-bob-zz: bob-zz is bob's, who has no .qmail-zz */
  "mailer-daemon", "postmaster", "root",
  0 };

static const char *const virtual_keys[] = {
  /* alicedom.example:alice: alice's extensions, .qmail-default is the catch-all */
  "@alicedom.example", "one@alicedom.example", "three@alicedom.example", "two@alicedom.example",
  /* bobdom.example:bob: bob's extensions, and bob-x (the user) as x */
  "a@bobdom.example", "b@bobdom.example", "c@bobdom.example", "d@bobdom.example", "e@bobdom.example",
  "sales.team@bobdom.example", "work-default@bobdom.example", "x-z@bobdom.example", "x@bobdom.example",
  /* lists.example:ezmlm */
  "announce-default@lists.example", "announce@lists.example", "talk@lists.example",
  /* virtual.example:vdom */
  "info@virtual.example", "jobs@virtual.example", "sales.team@virtual.example",
  0 };

int main(void)
{
  rc_build b;
  char file[300], p[600], markers[4096], *got, *want, **w;
  const char *doms[] = { "example.org", "mx.example.net", 0 };
  unsigned long u = (unsigned long) getuid();
  size_t n = 0, i, j, len = 0;
  FILE *f;

  asroot = u == 0;
  mkdir("tests/tmp", 0755);
  snprintf(top, sizeof top, "tests/tmp/t_rcptcheck_qmail.%ld", (long) getpid());
  snprintf(file, sizeof file, "%s/rcpt.cdb", top);
  mkdir(top, 0755);
  snprintf(p, sizeof p, "%s/control", top); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/users", top); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/alias", top); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/home", top); mkdir(p, 0755);
  mkhome("home/steve", 1001); mkhome("home/vdom", 1002); mkhome("home/ezmlm", 1003);
  mkhome("home/carol", 1004); mkhome("home/dept", 1005);
  mkhome("home/bob", 1010); mkhome("home/bobx", 1011); mkhome("home/alice", 1012);
  mkhome("home/dave", 1013); mkhome("home/long", 1014); mkhome("home/mallory", 1015);

  snprintf(p, sizeof p, "%s/control/me", top); T_WRITES(p, "mx.example.net\n");
  snprintf(p, sizeof p, "%s/control/locals", top); T_WRITES(p, "example.org\nmx.example.net\n");
  snprintf(p, sizeof p, "%s/control/virtualdomains", top);
  T_WRITES(p, "virtual.example:vdom\nlists.example:ezmlm\nbobdom.example:bob\nalicedom.example:alice\n"
    "notaccepted.example:vdom\n");
  snprintf(p, sizeof p, "%s/control/rcpthosts", top);
  T_WRITES(p, "example.org\nmx.example.net\nvirtual.example\nlists.example\nbobdom.example\nalicedom.example\n");

  snprintf(p, sizeof p, "%s/users/assign", top);
  f = fopen(p, "w");
  fprintf(f, "=steve:steve:1001:1001:%s/home/steve:::\n", top);
  fprintf(f, "+steve-:steve:1001:1001:%s/home/steve:-::\n", top);
  fprintf(f, "=info:vdom:1002:1002:%s/home/vdom:-:info:\n", top);
  fprintf(f, "+vdom-:vdom:1002:1002:%s/home/vdom:-::\n", top);
  fprintf(f, "+ezmlm-:ezmlm:1003:1003:%s/home/ezmlm:-:list-:\n", top);
  fprintf(f, "=Carol:carol:1004:1004:%s/home/carol:::\n", top);
  fprintf(f, "+dept-:dept:1005:1005:%s/home/dept:::\n", top);
  /* no .qmail-nomail in steve's home: bounced */
  fprintf(f, "=nomail:steve:1001:1001:%s/home/steve:-:nomail:\n", top);
  fprintf(f, ".\n");
  /* qmail-newu stops at the dot */
  fprintf(f, "=afterdot:steve:1001:1001:%s/home/steve:::\n", top);
  fclose(f);

  mkfile("home/steve/.qmail-a"); mkfile("home/steve/.qmail-b");
  mkfile("home/steve/.qmail-lists-default"); mkfile("home/steve/.qmail-news");
  mkfile("home/vdom/.qmail-info"); mkfile("home/vdom/.qmail-jobs"); mkfile("home/vdom/.qmail-sales:team");
  mkfile("home/ezmlm/.qmail-list-announce"); mkfile("home/ezmlm/.qmail-list-announce-default");
  mkfile("home/ezmlm/.qmail-list-talk"); mkfile("home/ezmlm/.qmail-other");
  mkfile("home/bob/.qmail-a"); mkfile("home/bob/.qmail-b"); mkfile("home/bob/.qmail-c");
  mkfile("home/bob/.qmail-d"); mkfile("home/bob/.qmail-e"); mkfile("home/bob/.qmail-work-default");
  mkfile("home/bob/.qmail-Upper"); mkfile("home/bob/.qmail-x.y"); mkfile("home/bob/.qmail-sales:team");
  mkfile("home/bob/.qmail-x-y");
  snprintf(p, sizeof p, "%s/home/bob/.qmail-dir", top); mkdir(p, 0755); /* not a file: not a .qmail */
  mkfile("home/bobx/.qmail-z");
  mkfile("home/alice/.qmail-one"); mkfile("home/alice/.qmail-two"); mkfile("home/alice/.qmail-three");
  mkfile("home/alice/.qmail-default");
  mkfile("home/dave/.qmail-x"); mkfile("home/long/.qmail-x"); mkfile("home/mallory/.qmail-x");
  mkfile("alias/.qmail-root"); mkfile("alias/.qmail-postmaster"); mkfile("alias/.qmail-mailer-daemon");
  mkfile("alias/.qmail-bob-zz");

  snprintf(p, sizeof p, "%s/passwd", top);
  f = fopen(p, "w");
  fprintf(f, "root:x:0:0::/root:/bin/sh\n");
  fprintf(f, "bob:x:%lu:1010::%s/home/bob:/bin/sh\n", asroot ? 1010 : u, top);
  fprintf(f, "bob-x:x:%lu:1011::%s/home/bobx:/bin/sh\n", asroot ? 1011 : u, top);
  fprintf(f, "alice:x:%lu:1012::%s/home/alice:/bin/sh\n", asroot ? 1012 : u, top);
  /* qmail-getpw lowercases the name: Dave is never found */
  fprintf(f, "Dave:x:%lu:1013::%s/home/dave:/bin/sh\n", asroot ? 1013 : u, top);
  /* 32 bytes: longer than qmail-getpw looks */
  fprintf(f, "abcdefghijklmnopqrstuvwxyzabcdef:x:%lu:1014::%s/home/long:/bin/sh\n", asroot ? 1014 : u, top);
  fprintf(f, "nohome:x:%lu:1016::%s/home/none:/bin/sh\n", asroot ? 1016 : u, top);
  /* a home that is not the user's */
  if (asroot) fprintf(f, "mallory:x:1099:1015::%s/home/mallory:/bin/sh\n", top);
  fclose(f);

  T_EQI(rc_build_start(&b, file, 1), 0, "builder starts");
  T_EQI(rc_qmail_build(&b, top, p), 0, "qmail tree read");
  T_EQI(rc_build_finish(&b), 0, "table written");

  /* the list by hand: every local name at both local domains, then the virtual ones */
  for (i = 0; local_names[i]; ++i) ++n;
  for (i = 0; virtual_keys[i]; ++i) ++n;
  w = malloc(2 * n * sizeof *w);
  want = malloc(65536);
  n = 0;
  for (j = 0; doms[j]; ++j)
    for (i = 0; local_names[i]; ++i) {
      w[n] = malloc(strlen(local_names[i]) + strlen(doms[j]) + 2);
      sprintf(w[n++], "%s@%s", local_names[i], doms[j]);
    }
  for (i = 0; virtual_keys[i]; ++i) w[n++] = strdup(virtual_keys[i]);
  qsort(w, n, sizeof *w, cmpstr);
  want[0] = 0;
  for (i = 0; i < n; ++i) { strcpy(want + len, w[i]); len += strlen(w[i]); want[len++] = '\n'; want[len] = 0; free(w[i]); }
  free(w);

  got = keys(file, markers, sizeof markers);
  T_OK(got != 0, "table read back");
  if (got) {
    T_EQS(got, want, "the table holds exactly the addresses qmail delivers");
    if (strcmp(got, want)) { diff(want, got, "missing"); diff(got, want, "extra"); }
  }
  T_EQS(markers, "@@\n@@alicedom.example\n@@bobdom.example\n@@example.org\n@@lists.example\n@@mx.example.net\n@@virtual.example\n",
    "covered: the local domains and the accepted virtual ones");
  free(got); free(want);

  /* the name of this host's address literals: control/me, or control/localiphost first */
  {
    sdu_cdb d;
    stralloc v = {0};
    T_OK(sdu_cdb_open(&d, file) == 0 && sdu_cdb_get(&d, "@@[me]", 6, &v) == 1, "@@[me] written");
    T_EQB(v.s, v.len, "mx.example.net", "from control/me");
    sdu_cdb_close(&d);
    snprintf(p, sizeof p, "%s/control/localiphost", top); T_WRITES(p, "Literal.Example.NET\n");
    snprintf(p, sizeof p, "%s/passwd", top);
    rc_build_start(&b, file, 1);
    T_EQI(rc_qmail_build(&b, top, p), 0, "qmail tree read again");
    T_EQI(rc_build_finish(&b), 0, "table written again");
    T_OK(sdu_cdb_open(&d, file) == 0 && sdu_cdb_get(&d, "@@[me]", 6, &v) == 1, "@@[me] written");
    T_EQB(v.s, v.len, "literal.example.net", "from control/localiphost, lower-cased");
    sdu_cdb_close(&d);
    stralloc_free(&v);
  }
  if (!getenv("SDU_KEEP")) {
    snprintf(p, sizeof p, "rm -rf %s", top);
    if (system(p) != 0) printf("# unable to remove %s\n", top);
  }
  T_DONE();
}
