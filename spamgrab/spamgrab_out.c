/* spamgrab_out.c: reports out: to the injector (qmail-inject, sendmail -t) and to the review Maildir */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/time.h>
#include "sdu_addr.h"
#include "spamgrab_conf.h"
#include "sdu_env.h"
#include "spamgrab_out.h"

static int fail(stralloc *err, const char *a, const char *b, int e)
{
  err->len = 0;
  if (!stralloc_copys(err, a) || !stralloc_cats(err, b) || !stralloc_cats(err, e ? ": " : "") ||
      !stralloc_cats(err, e ? strerror(e) : "")) err->len = 0;
  errno = e;
  return -1;
}

int sg_addr_ok(const char *addr)
{
  sdu_path p;
  char buf[SDU_PATH_MAX + 8];
  size_t n = strlen(addr);
  if (!n || n > SDU_ADDR_MAX || addr[0] == '-') return 0;
  memcpy(buf, "TO:<", 4);
  memcpy(buf + 4, addr, n);
  buf[4 + n] = '>';
  if (sdu_smtp_path(buf, n + 5, 0, &p) != 0 || p.atpos >= p.len) return 0;
  return 1;
}

int sg_send(const char *const *argv, int sendmail, const char *from, const char *rcpt,
  const char *msg, size_t len, stralloc *err)
{
  const char *av[SG_ARGS_MAX + 8];
  unsigned int n = 0, i;
  int pi[2], status;
  pid_t pid;
  size_t done = 0;
  void (*old)(int);

  for (i = 0; argv[i] && n < SG_ARGS_MAX; ++i) av[n++] = argv[i];
  if (sendmail) { av[n++] = "-t"; av[n++] = "-i"; av[n++] = "-f"; av[n++] = from; }
  else { av[n++] = "-a"; av[n++] = "-f"; av[n++] = from; av[n++] = rcpt; }
  av[n] = 0;
  if (pipe(pi) == -1) return fail(err, "unable to create pipe", "", errno);
  pid = fork();
  if (pid == -1) { close(pi[0]); close(pi[1]); return fail(err, "unable to fork", "", errno); }
  if (pid == 0) {
    close(pi[1]);
    if (dup2(pi[0], 0) == -1) _exit(111);
    if (pi[0] != 0) close(pi[0]);
    execvp(av[0], (char *const *) av);
    _exit(111);
  }
  close(pi[0]);
  old = signal(SIGPIPE, SIG_IGN);
  while (done < len) {
    ssize_t w = write(pi[1], msg + done, len - done > 65536 ? 65536 : len - done);
    if (w == -1) { if (errno == EINTR) continue; break; }
    done += (size_t) w;
  }
  close(pi[1]);
  signal(SIGPIPE, old);
  while (waitpid(pid, &status, 0) == -1) if (errno != EINTR) return fail(err, "unable to wait for ", av[0], errno);
  if (!WIFEXITED(status)) return fail(err, av[0], " crashed", 0);
  if (WEXITSTATUS(status)) {
    char num[16];
    snprintf(num, sizeof num, "%d", WEXITSTATUS(status));
    fail(err, av[0], " exited ", 0);
    if (!stralloc_cats(err, num)) err->len = 0;
    return -1;
  }
  if (done < len) return fail(err, av[0], " did not read the whole report", 0);
  return 0;
}

int sg_maildir_write(const char *dir, const char *msg, size_t len, unsigned long long now,
  unsigned int seq, stralloc *tmpname, stralloc *newname, stralloc *err)
{
  char host[256], uniq[128];
  struct timeval tv;
  size_t done = 0, i;
  int fd, e;
  gettimeofday(&tv, 0);
  if (gethostname(host, sizeof host - 1) == -1) strcpy(host, "localhost");
  host[sizeof host - 1] = 0;
  for (i = 0; host[i]; ++i) if (host[i] == '/' || host[i] == ':') host[i] = '_';
  snprintf(uniq, sizeof uniq, "%llu.M%luP%luQ%u.", now, (unsigned long) tv.tv_usec,
    (unsigned long) getpid(), seq);
  if (!stralloc_copys(tmpname, dir) || !stralloc_cats(tmpname, "/tmp/") || !stralloc_cats(tmpname, uniq) ||
      !stralloc_cats(tmpname, host) || !stralloc_0(tmpname) ||
      !stralloc_copys(newname, dir) || !stralloc_cats(newname, "/new/") || !stralloc_cats(newname, uniq) ||
      !stralloc_cats(newname, host) || !stralloc_0(newname)) return fail(err, "out of memory", "", ENOMEM);
  fd = open(tmpname->s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd == -1 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
    char who[64], as[80];
    e = errno;
    snprintf(as, sizeof as, " as user %s", sdu_whoami(who, sizeof who));
    fail(err, "unable to create ", tmpname->s, 0);
    if (!stralloc_cats(err, as) || !stralloc_cats(err, ": ") || !stralloc_cats(err, strerror(e))) err->len = 0;
    errno = e;
    return -1;
  }
  if (fd == -1) return fail(err, "unable to create ", tmpname->s, errno);
  while (done < len) {
    ssize_t w = write(fd, msg + done, len - done);
    if (w == -1) { if (errno == EINTR) continue; goto bad; }
    done += (size_t) w;
  }
  if (fsync(fd) == -1) goto bad;
  if (close(fd) == -1) { fd = -1; goto bad; }
  return 0;
bad:
  e = errno;
  if (fd != -1) close(fd);
  unlink(tmpname->s);
  return fail(err, "unable to write ", tmpname->s, e);
}

int sg_maildir_commit(const stralloc *tmpname, const stralloc *newname, stralloc *err)
{
  if (rename(tmpname->s, newname->s) == -1) {
    int e = errno;
    unlink(tmpname->s);
    return fail(err, "unable to move to ", newname->s, e);
  }
  return 0;
}
