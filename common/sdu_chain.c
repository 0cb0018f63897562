/* sdu_chain.c: links of one multi-call binary run in one process: the exec
   of the next link becomes a call (sdu-chain(1)) */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <buffer.h>
#include "sdu_smtp.h"
#include "sdu_msg.h"

#define APPLETS_MAX 16

SDU_HOT static const sdu_applet *applets;
SDU_HOT static unsigned int ran;      /* bit i: applet i ran in this process */
SDU_HOT static int self = 0;          /* 1 known, -1 unknowable */
SDU_HOT static struct stat selfst;

static const char *base(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static int find(const char *name)
{
  int i;
  if (!applets) return -1;
  for (i = 0; applets[i].name && i < APPLETS_MAX; ++i)
    if (!strcmp(applets[i].name, name)) return i;
  return -1;
}

static int isself(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode)
    && st.st_dev == selfst.st_dev && st.st_ino == selfst.st_ino;
}

/* the file execvp would run for name is this binary */
static int resolvesself(const char *name)
{
  const char *path, *end;
  char buf[4096];
  size_t nlen = strlen(name);
  if (strchr(name, '/')) return isself(name);
  path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/bin:/usr/bin";
  for (;;) {
    size_t dlen;
    struct stat st;
    end = strchr(path, ':');
    dlen = end ? (size_t) (end - path) : strlen(path);
    if (dlen + 1 + nlen < sizeof buf) {
      if (dlen) { memcpy(buf, path, dlen); buf[dlen] = '/'; ++dlen; }
      memcpy(buf + dlen, name, nlen + 1);
      /* execvp runs the first executable file: that one decides */
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
        return st.st_dev == selfst.st_dev && st.st_ino == selfst.st_ino;
    }
    if (!end) return 0;
    path = end + 1;
  }
}

static int call(int i, char **argv)
{
  const char *me = sdu_prog();
  int argc = 0, r;
  while (argv[argc]) ++argc;
  ran |= 1u << i;
  optind = 0;   /* getopt starts afresh (glibc and musl alike) */
  r = applets[i].run(argc, argv);
  errmsg_iam(me); /* what the caller says after this is in its own name */
  return r;
}

int sdu_chain_inline(char **argv)
{
  int i = find(base(argv[0]));
  if (i < 0 || (ran & (1u << i))) return -1;
  if (!self) self = stat("/proc/self/exe", &selfst) == 0 ? 1 : -1;
  if (self < 0 || !resolvesself(argv[0])) return -1;
  /* what exec would have done for us: nothing of ours left in buffers */
  buffer_flush(buffer_1);
  buffer_flush(buffer_2);
  return call(i, argv);
}

int sdu_chain_main(const sdu_applet *list, int argc, char **argv)
{
  int i;
  applets = list;
  i = argc > 0 ? find(base(argv[0])) : -1;
  if (i < 0) {
    sdu_iam("sdu-chain");
    sdu_fatal(SDU_EXIT_PERM, "run me by the name of one of my links (see sdu-chain(1))");
  }
  return call(i, argv);
}
