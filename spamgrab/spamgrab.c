/* spamgrab.c: turn double-bounces into abuse reports, remember spam hosts, never lose a message */
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stralloc.h>
#include "sdu_msg.h"
#include "spamgrab_conf.h"
#include "spamgrab_run.h"

#define USAGE "spamgrab [ -n ] [ -f conf ] [ -k keyfile ] [ -r | -s | -z | -Z ]"
#define CONF "/etc/sdu/spamgrab.conf"

/* stdin: mapped when it is a file (qmail-local's case), else read; 0 when larger than max */
static int input(const char **msg, size_t *len, unsigned long max)
{
  static stralloc sa;
  struct stat st;
  if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
    off_t pos = lseek(0, 0, SEEK_CUR);
    if (pos >= 0 && st.st_size >= pos) {
      size_t n = (size_t) (st.st_size - pos);
      void *m;
      if (n > max) { *len = n; *msg = ""; return 0; }
      if (!n) { *msg = ""; *len = 0; return 1; }
      m = mmap(0, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, 0, 0);
      if (m != MAP_FAILED) { *msg = (const char *) m + pos; *len = n; return 1; }
    }
  }
  for (;;) {
    ssize_t r;
    if (!stralloc_readyplus(&sa, 65536)) sdu_nomem();
    r = read(0, sa.s + sa.len, 65536);
    if (r == -1) { if (errno == EINTR) continue; sdu_fatalsys(SDU_EXIT_TEMP, "unable to read the message"); }
    if (!r) break;
    sa.len += (size_t) r;
    if (sa.len > max) { *len = sa.len; *msg = ""; return 0; }
  }
  *msg = sa.s ? sa.s : "";
  *len = sa.len;
  return 1;
}

int main(int argc, char **argv)
{
  sg_conf c;
  stralloc err = { 0 };
  const char *file = 0, *keyfile = 0, *msg;
  int opt, dry = 0, mode = 0, bad, r;
  size_t len;

  sdu_iam("spamgrab");
  sg_conf_defaults(&c);
  while ((opt = getopt(argc, argv, "+nf:k:rszZ")) != -1)
    switch (opt) {
      case 'n': dry = 1; break;
      case 'f': file = optarg; break;
      case 'k': keyfile = optarg; break;
      case 'r': case 's': case 'z': case 'Z':
        if (mode && mode != opt) sdu_usage(USAGE);
        mode = opt;
        break;
      default: sdu_usage(USAGE);
    }
  if (argv[optind]) sdu_usage(USAGE);
  /* a double-bounce must never bounce: configuration trouble is temporary for it */
  bad = mode ? SDU_EXIT_PERM : SDU_EXIT_TEMP;
  if (!sg_conf_read(&c, file ? file : CONF, &err)) {
    if (file || errno != ENOENT) {
      if (!stralloc_0(&err)) sdu_nomem();
      if (errno) sdu_fatalsys(errno == ENOMEM ? SDU_EXIT_TEMP : bad, err.s);
      sdu_fatal(bad, err.s);
    }
    sg_conf_defaults(&c);
  }
  if (!sg_conf_qmailhosts(&c, &err)) {
    if (!stralloc_0(&err)) sdu_nomem();
    if (errno) sdu_fatalsys(SDU_EXIT_TEMP, err.s);
    sdu_fatal(bad, err.s);
  }
  /* the tag's key, for what reads a message's tag: unreadable is
     temporary, malformed a configuration error as above */
  if (keyfile) c.tagkey = keyfile;
  if (!mode || mode == 'r') {
    r = sg_conf_keys(&c, &err);
    if (r != 1) {
      if (!stralloc_0(&err)) sdu_nomem();
      if (r == -1) sdu_fatalsys(SDU_EXIT_TEMP, err.s);
      sdu_fatal(bad, err.s);
    }
  }
  if (mode == 'z' || mode == 'Z') r = sg_print_zone(&c, mode == 'Z');
  else if (!input(&msg, &len, c.maxmessage))
    r = mode == 's' ? SDU_EXIT_PERM : sg_run(&c, msg, c.maxmessage + 1UL, mode == 'r', dry); /* logs "toolarge" */
  else if (mode == 's') r = sg_resend(&c, msg, len, dry);
  else r = sg_run(&c, msg, len, mode == 'r', dry);
  sg_conf_free(&c);
  stralloc_free(&err);
  return r;
}
