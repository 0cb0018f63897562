/* t_rcptcheck_build.c: the table builder's list lines, atomic writing, and lookups in what it wrote */
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cdb_make.h>
#include <errno.h>
#include <uint32.h>
#include "sdu_t.h"
#include "../../rcptcheck/rcptcheck_build.h"
#include "../../rcptcheck/rcptcheck_table.h"

static int line(rc_build *b, const char *s, const char **why)
{
  *why = "";
  return rc_build_line(b, s, strlen(s), why);
}

/* a copy of src with bytes [from, to) replaced by garbage (to 0: the end of the
   records, as the header says), or with more bytes appended */
static void spoil(const char *src, const char *dst, unsigned long from, unsigned long to, size_t append)
{
  size_t len, i;
  char *buf = t_slurp(src, &len);
  unsigned int x = 12345;
  uint32 pos = 0;
  if (!buf) { printf("not ok - unable to read %s\n", src); exit(1); }
  if (!to) {
    /* the lowest hash table is the end of the records */
    to = len;
    for (i = 0; i < 256; ++i) {
      uint32 s;
      uint32_unpack(buf + 8 * i, &pos);
      uint32_unpack(buf + 8 * i + 4, &s);
      if (s && pos < to) to = pos;
    }
  }
  for (i = from; i < to && i < len; ++i) { x = x * 1103515245u + 12345u; buf[i] = (char) (x >> 16); }
  buf = realloc(buf, len + append);
  memset(buf + len, 'z', append);
  t_writefile(dst, buf, len + append);
  free(buf);
}

static int look(rc_table *t, const char *addr, stralloc *val, int *how)
{
  const char *at = strchr(addr, '@');
  return rc_table_lookup(t, addr, strlen(addr), (size_t) (at - addr), 0, val, how);
}

int main(void)
{
  rc_build b;
  rc_table t;
  rc_set set = {0};
  stralloc val = {0};
  const char *why;
  char file[128], plain[128], tmpname[160];
  int how, i, fd;
  struct cdb_make cm;

  mkdir("tests/tmp", 0755);
  snprintf(file, sizeof file, "tests/tmp/t_rcptcheck_build.%ld.cdb", (long) getpid());
  snprintf(plain, sizeof plain, "tests/tmp/t_rcptcheck_build.%ld.plain.cdb", (long) getpid());

  for (i = 0; i < 1000; ++i) { char k[16]; snprintf(k, sizeof k, "k%d", i); rc_set_add(&set, k, strlen(k)); }
  T_EQI(set.n, 1000, "set holds 1000 strings");
  T_EQI(rc_set_add(&set, "k999", 4), 0, "a string already there is not added");
  T_OK(rc_set_has(&set, "k500", 4) && !rc_set_has(&set, "k1000", 5), "set lookups");
  rc_set_free(&set);

  T_EQI(rc_build_start(&b, file, 0), 0, "builder starts");
  snprintf(tmpname, sizeof tmpname, "%s", b.tmp.s);
  T_OK(access(tmpname, F_OK) == 0 && access(file, F_OK) == -1, "writes a temp file, not the table");
  T_EQI(line(&b, "Steve@Example.ORG", &why), 0, "an address");
  T_EQI(line(&b, "  # a comment", &why), 0, "a comment");
  T_EQI(line(&b, "", &why), 0, "an empty line");
  T_EQI(line(&b, "joe-default@example.org", &why), 0, "a -default address");
  T_EQI(line(&b, "forged@example.org -553 this address has never sent mail; please do not bounce forged spam to it", &why), 0, "a refusal");
  T_EQI(line(&b, "postmaster@example.org -", &why), 0, "a refusal without text");
  T_EQI(line(&b, "@catchall.example  # everything", &why), 0, "a catch-all with a comment");
  T_EQI(line(&b, "covered.example", &why), 0, "a bare domain");
  T_EQI(line(&b, "x@y.example\r", &why), 0, "a CRLF line");
  T_EQI(line(&b, "steve@example.org", &why), 0, "a duplicate is fine");
  T_EQI(line(&b, "bad address@example.org", &why), 1, "a blank inside the address");
  T_EQS(why, "after the address only -text may follow", "why");
  T_EQI(line(&b, "no-domain@", &why), 1, "empty domain");
  T_EQI(line(&b, "a..b@example.org", &why), 1, "bad dots");
  T_EQI(line(&b, "@@example.org", &why), 1, "marker keys are reserved");
  T_EQI(line(&b, "example.org -text", &why), 1, "a bare domain takes no text");
  T_EQI(line(&b, "a@example.org -tab\there", &why), 1, "control byte in the text");
  {
    char big[400];
    memset(big, 'a', 300); strcpy(big + 300, "@example.org");
    T_EQI(line(&b, big, &why), 1, "300-byte local part");
  }
  T_EQI(rc_build_finish(&b), 0, "table written");
  T_OK(access(tmpname, F_OK) == -1 && access(file, F_OK) == 0, "renamed: no temp file left");

  rc_table_init(&t);
  T_EQI(rc_table_open(&t, file), 0, "table opens");
  T_EQI(t.marked, 1, "it carries markers");
  T_EQI(rc_table_covered(&t, "example.org", 11), 1, "domain of an address is covered");
  T_EQI(rc_table_covered(&t, "covered.example", 15), 1, "bare domain is covered");
  T_EQI(rc_table_covered(&t, "catchall.example", 16), 1, "catch-all domain is covered");
  T_EQI(rc_table_covered(&t, "other.example", 13), 0, "other domains are not");
  T_EQI(rc_table_covered(&t, "sub.example.org", 15), 0, "subdomains are not");
  T_EQI(look(&t, "steve@example.org", &val, &how), RC_VALID, "exact address (lower-cased by the builder)");
  T_EQI(how, RC_HOW_EXACT, "how: exact");
  T_EQI(look(&t, "joe-a-b@example.org", &val, &how), RC_VALID, "-default loop");
  T_EQI(how, RC_HOW_DEFAULT, "how: default");
  T_EQI(look(&t, "joe@example.org", &val, &how), RC_UNKNOWN, "joe-default does not cover joe");
  T_EQI(look(&t, "jim@example.org", &val, &how), RC_UNKNOWN, "unknown address");
  T_EQI(look(&t, "forged@example.org", &val, &how), RC_REFUSED, "refused address");
  T_EQB(val.s, val.len, "553 this address has never sent mail; please do not bounce forged spam to it", "its text");
  T_EQI(look(&t, "postmaster@example.org", &val, &how), RC_REFUSED, "refusal without text");
  T_EQI(val.len, 0, "empty text");
  T_EQI(look(&t, "anyone@catchall.example", &val, &how), RC_VALID, "catch-all");
  T_EQI(how, RC_HOW_CATCHALL, "how: catch-all");
  rc_table_close(&t);

  /* the check record: cheap at open, whole with rc_table_verify */
  {
    char bad[160];
    snprintf(bad, sizeof bad, "%s.bad", file);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, file), 0, "check: a sound table opens");
    T_EQI(t.checked, 1, "check: it has a check record that agrees");
    T_EQI(t.nrec, 13, "check: 13 records (7 of addresses, 4 domain markers, the check record, @@)");
    T_EQI(rc_table_verify(&t), 0, "check: the whole table is sound");
    rc_table_close(&t);

    spoil(file, bad, 2048, 0, 0);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, bad), -1, "check: valid header, garbage records: refused at open");
    T_EQI(errno, EPROTO, "check: as damaged");
    T_OK(t.why != 0 && t.open == 0, "check: with a reason, and closed");
    T_EQI(look(&t, "steve@example.org", &val, &how), RC_UNKNOWN, "check: so nothing is looked up in it");

    spoil(file, bad, 2048 + 8 + 9 + 40, 2048 + 8 + 9 + 50, 0);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, bad), -1, "check: a spoilt check record");
    T_OK(t.why && strstr(t.why, "check record"), "check: says so");

    /* the second record on: the first and the last are intact */
    spoil(file, bad, 2048 + 8 + 9 + RC_CHECK_LEN + 12, 2048 + 8 + 9 + RC_CHECK_LEN + 30, 0);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, bad), 0, "check: garbage in the middle is not seen at open (cheap)");
    T_EQI(rc_table_verify(&t), 1, "check: but by the whole check");
    T_OK(t.why != 0, "check: with a reason");
    rc_table_close(&t);

    spoil(file, bad, 0, 1, 4096);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, bad), -1, "check: bytes appended to the table");
    unlink(bad);
  }

  /* a validrcptto.cdb as John Simpson's tools write it: no markers */
  fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cdb_make_start(&cm, fd);
  cdb_make_add(&cm, (const unsigned char *) "steve@example.org", 17, (const unsigned char *) "", 0);
  cdb_make_add(&cm, (const unsigned char *) "@catchall.example", 17, (const unsigned char *) "1", 1);
  cdb_make_add(&cm, (const unsigned char *) "bad@example.org", 15, (const unsigned char *) "-go away", 8);
  cdb_make_finish(&cm);
  close(fd);
  while (cm.head) { struct cdb_hplist *x = cm.head; cm.head = x->next; free(x); }
  free(cm.split);
  rc_table_init(&t);
  T_EQI(rc_table_open(&t, plain), 0, "plain validrcptto.cdb opens");
  T_EQI(t.marked, 0, "without markers");
  T_EQI(rc_table_covered(&t, "anything.example", 16), 1, "without a domain list every domain is covered");
  T_EQI(look(&t, "steve@example.org", &val, &how), RC_VALID, "plain: address");
  T_EQI(look(&t, "x@catchall.example", &val, &how), RC_VALID, "plain: catch-all");
  T_EQI(look(&t, "bad@example.org", &val, &how), RC_REFUSED, "plain: refusal");
  T_EQB(val.s, val.len, "go away", "plain: its text");
  T_EQI(look(&t, "joe@example.org", &val, &how), RC_UNKNOWN, "plain: unknown");
  T_EQI(t.checked, 0, "plain: no check record");
  T_EQI(rc_table_verify(&t), 0, "plain: the whole table is sound all the same");
  {
    char dl[160];
    FILE *f;
    snprintf(dl, sizeof dl, "%s.domains", plain);
    f = fopen(dl, "w");
    fputs("# local domains\nexample.org\n.sub.example\nCatchAll.Example.\n", f);
    fclose(f);
    T_EQI(rc_table_domains(&t, dl), 0, "domain list read");
    T_EQI(rc_table_covered(&t, "example.org", 11), 1, "listed domain");
    T_EQI(rc_table_covered(&t, "catchall.example", 16), 1, "listed in upper case with a dot");
    T_EQI(rc_table_covered(&t, "a.b.sub.example", 15), 1, ".domain covers subdomains");
    T_EQI(rc_table_covered(&t, "sub.example", 11), 0, "but not itself");
    T_EQI(rc_table_covered(&t, "relay.example", 13), 0, "unlisted domain");
    unlink(dl);
  }
  rc_table_close(&t);

  {
    char bad[160];
    snprintf(bad, sizeof bad, "%s.bad", plain);
    spoil(plain, bad, 2048, 0, 0);
    rc_table_init(&t);
    T_EQI(rc_table_open(&t, bad), -1, "plain with garbage records: its first record is not found, refused");
    spoil(plain, bad, 0, 2048, 0);
    T_EQI(rc_table_open(&t, bad), -1, "plain with a garbage header: refused");
    unlink(bad);
  }

  rc_table_init(&t);
  T_EQI(rc_table_open(&t, "tests/tmp/no/such/table.cdb"), -1, "missing table");
  T_EQI(t.open, 0, "stays closed");
  T_EQI(look(&t, "steve@example.org", &val, &how), RC_UNKNOWN, "closed table finds nothing");

  /* a failed build leaves the old table alone */
  T_EQI(rc_build_start(&b, file, 1), 0, "second build starts");
  T_EQI(line(&b, "new@example.org", &why), 0, "an address");
  rc_build_abort(&b);
  rc_table_init(&t);
  rc_table_open(&t, file);
  T_EQI(look(&t, "steve@example.org", &val, &how), RC_VALID, "aborted build: old table still there");
  rc_table_close(&t);

  unlink(file); unlink(plain);
  stralloc_free(&val);
  T_DONE();
}
