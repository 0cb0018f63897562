/* rcptcheck-build.c: write rcptcheck's recipient table from a list or from a qmail installation */
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <fmt.h>
#include "sdu_msg.h"
#include "rcptcheck_build.h"
#include "rcptcheck_qmail.h"
#include "rcptcheck_table.h"

#define USAGE "rcptcheck-build [ -v ] [ -f rcpt.cdb ] [ -m me ] [ list ] | rcptcheck-build -q [ -v ] [ -f rcpt.cdb ] [ -m me ] [ -a list ] [ -P passwd ] [ qmailroot ] | rcptcheck-build -c [ -v ] [ -f rcpt.cdb ]"

static rc_build b;

static void fail(const char *what)
{
  int e = errno;
  rc_build_abort(&b);
  errno = e;
  sdu_fatalsys(SDU_EXIT_TEMP, what);
}

/* -c: the whole table, for cron: 0 sound, 100 damaged, 111 unreadable */
static int checkmode(const char *file, int verbose)
{
  static rc_table t;
  int r;
  rc_table_init(&t);
  if (rc_table_open(&t, file) == -1) {
    if (t.why) sdu_fatal(SDU_EXIT_PERM, file, " is damaged: ", t.why);
    sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", file);
  }
  r = rc_table_verify(&t);
  if (r == 1) sdu_fatal(SDU_EXIT_PERM, file, " is damaged: ", t.why);
  if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to read ", file);
  if (verbose) {
    sdu_log l;
    sdu_log_start(&l);
    sdu_log_kv(&l, "file", file);
    sdu_log_kvu(&l, "records", t.nrec);
    sdu_log_kv(&l, "check", t.checked ? "sum" : "none");
    sdu_log_emit(&l, 2);
  }
  rc_table_close(&t);
  return 0;
}

static void list(const char *name, unsigned long *bad)
{
  int fd = 0;
  if (strcmp(name, "-")) {
    fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd == -1) { int e = errno; rc_build_abort(&b); errno = e; sdu_fatalsys(SDU_EXIT_TEMP, "unable to open ", name); }
  }
  if (rc_build_list(&b, fd, fd ? name : "stdin", bad) == -1) fail("unable to build the table");
  if (fd) close(fd);
}

int main(int argc, char **argv)
{
  const char *file = "/etc/sdu/rcpt.cdb", *extra = 0, *passwd = "/etc/passwd", *me = 0;
  unsigned long bad = 0;
  int opt, qmail = 0, verbose = 0, check = 0;

  sdu_iam("rcptcheck-build");
  while ((opt = getopt(argc, argv, "+f:a:P:m:qcv")) != -1)
    switch (opt) {
      case 'c': check = 1; break;
      case 'f': file = optarg; break;
      case 'm': me = optarg; break;
      case 'a': extra = optarg; break;
      case 'P': passwd = optarg; break;
      case 'q': qmail = 1; break;
      case 'v': verbose = 1; break;
      default: sdu_usage(USAGE);
    }
  argv += optind;
  if (argv[0] && argv[1]) sdu_usage(USAGE);
  if (!qmail && (extra || strcmp(passwd, "/etc/passwd"))) sdu_usage(USAGE);
  if (check) {
    if (qmail || me || argv[0]) sdu_usage(USAGE);
    return checkmode(file, verbose);
  }

  /* in a qmail build the extra list comes first: its refusals win */
  if (rc_build_start(&b, file, qmail) == -1) sdu_fatalsys(SDU_EXIT_TEMP, "unable to create a temporary file for ", file);
  if (me) {
    const char *why;
    int r = rc_build_me(&b, me, strlen(me), &why);
    if (r == -1) fail("unable to build the table");
    if (r) { rc_build_abort(&b); sdu_fatal(SDU_EXIT_PERM, "-m ", me, ": ", why); }
  }
  if (!qmail) list(argv[0] ? argv[0] : "-", &bad);
  else {
    if (extra) list(extra, &bad);
    if (!bad && rc_qmail_build(&b, argv[0] ? argv[0] : "/var/qmail", passwd) == -1)
      fail("unable to read the qmail configuration");
  }
  if (bad) {
    char num[FMT_ULONG];
    num[sdu_fmt_ulong(num, bad)] = 0;
    rc_build_abort(&b);
    sdu_fatal(SDU_EXIT_PERM, num, bad == 1 ? " bad line" : " bad lines", ", nothing written to ", file);
  }
  {
    unsigned long records = b.records, domains = b.domains.n;
    if (rc_build_finish(&b) == -1) fail("unable to write the table");
    if (verbose) {
      sdu_log l;
      sdu_log_start(&l);
      sdu_log_kv(&l, "file", file);
      sdu_log_kvu(&l, "records", records);
      sdu_log_kvu(&l, "domains", domains);
      sdu_log_emit(&l, 2);
    }
  }
  return 0;
}
