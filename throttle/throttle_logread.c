/* throttle_logread.c: log files line by line for sdu-report, whole or only what
   is new since the last run (multilog's directories and their rotation) */
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include "throttle_logread.h"

int tl_feed(int fd, int live, tl_linefn fn, void *ctx, unsigned long long *used)
{
  char *buf = malloc(TL_BUF);
  size_t len = 0;
  unsigned long long done = 0; /* bytes of whole lines handed on (or skipped) */
  int skipping = 0, r = 1;
  if (!buf) { errno = ENOMEM; return 0; }
  for (;;) {
    ssize_t n = read(fd, buf + len, TL_BUF - len);
    size_t start = 0;
    char *nl;
    if (n < 0) { if (errno == EINTR) continue; r = 0; break; }
    if (n == 0) break;
    len += (size_t) n;
    while ((nl = memchr(buf + start, '\n', len - start))) {
      size_t e = (size_t) (nl - buf);
      if (!skipping && fn(ctx, buf + start, e - start) == -1) { r = -1; break; }
      skipping = 0;
      done += e + 1 - start;
      start = e + 1;
    }
    if (r == -1) break;
    memmove(buf, buf + start, len - start);
    len -= start;
    if (len == TL_BUF) { skipping = 1; done += len; len = 0; } /* a line longer than any decision */
  }
  /* the last line without a newline: whole in a finished file, still being written in a live one */
  if (r == 1 && len && !live) {
    if (!skipping && fn(ctx, buf, len) == -1) r = -1;
    else done += len;
  }
  if (used) *used = done;
  free(buf);
  return r;
}

int tl_rotated(const char *name)
{
  size_t i;
  if (strlen(name) != 27 || name[0] != '@' || name[25] != '.' || (name[26] != 's' && name[26] != 'u')) return 0;
  for (i = 1; i < 25; ++i)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
  return 1;
}

static unsigned long long hex(const char *s, size_t n)
{
  unsigned long long u = 0;
  size_t i;
  for (i = 0; i < n; ++i) {
    char c = s[i];
    u = (u << 4) | (unsigned long long) (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return u;
}

/* FNV-1a of the first min(off, TL_HEAD) bytes: 1, or 0 read error */
static int headof(int fd, unsigned long long off, unsigned long long *h)
{
  unsigned char b[TL_HEAD];
  size_t want = off < TL_HEAD ? (size_t) off : TL_HEAD, i;
  ssize_t n = want ? pread(fd, b, want, 0) : 0;
  if (n < 0) return 0;
  *h = 14695981039346656037ULL;
  for (i = 0; i < (size_t) n; ++i) { *h ^= b[i]; *h *= 1099511628211ULL; }
  if ((size_t) n < want) *h ^= 1; /* shorter than it was: another file */
  return 1;
}

/* the lines of one source, with the stamp filter of the fallback and the latest stamp */
typedef struct tl_run {
  tl_linefn fn; void *ctx;
  unsigned long long after, afterns; /* skip lines stamped up to this (0: none) */
  unsigned long long last, lastns;
} tl_run;

static int online(void *c, const char *line, size_t len)
{
  tl_run *r = c;
  if (len >= 25 && line[0] == '@') {
    size_t i;
    for (i = 1; i < 25; ++i)
      if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f'))) break;
    if (i == 25) {
      unsigned long long s = hex(line + 1, 16), ns = hex(line + 17, 8);
      if (r->after && (s < r->after || (s == r->after && ns <= r->afterns))) return 0;
      if (s > r->last || (s == r->last && ns > r->lastns)) { r->last = s; r->lastns = ns; }
    }
  }
  return r->fn(r->ctx, line, len);
}

/* one file from off; 1, 0 error, -1 stopped */
static int readfrom(int fd, unsigned long long off, int live, tl_run *r, unsigned long long *end)
{
  unsigned long long used = 0;
  int x;
  if (off && lseek(fd, (off_t) off, SEEK_SET) == -1) return 0;
  x = tl_feed(fd, live, online, r, &used);
  if (end) *end = off + used;
  return x;
}

typedef struct tl_file { char name[28]; unsigned long long dev, ino; } tl_file;

static int byname(const void *a, const void *b)
{
  return strcmp(((const tl_file *) a)->name, ((const tl_file *) b)->name);
}

static int setpath(stralloc *sa, const char *dir, const char *name)
{
  if (!stralloc_copys(sa, dir)) return 0;
  if (name && (!stralloc_cats(sa, "/") || !stralloc_cats(sa, name))) return 0;
  return stralloc_0(sa);
}

int tl_source(const char *path, tl_pos *pos, tl_linefn fn, void *ctx, stralloc *what)
{
  struct stat sb;
  tl_file *rot = 0;
  size_t n = 0, a = 0, i, from = 0;
  int fd = -1, isdir, x = 1, resume = 0, e;
  unsigned long long h, end = 0;
  tl_run r;

  memset(&r, 0, sizeof r);
  r.fn = fn; r.ctx = ctx;
  r.last = pos->known ? pos->last : 0; r.lastns = pos->known ? pos->lastns : 0;
  if (!setpath(what, path, 0)) { errno = ENOMEM; return 0; }
  if (stat(path, &sb) == -1) return 0;
  isdir = S_ISDIR(sb.st_mode);
  if (isdir && !setpath(what, path, "current")) { errno = ENOMEM; return 0; }
  /* current first: a file rotated after this open is the one held open, not a new one */
  if ((fd = open(what->s, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1) goto fail;
  if (isdir) {
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d) goto fail;
    while ((de = readdir(d))) {
      struct stat rs;
      if (!tl_rotated(de->d_name)) continue;
      if (!setpath(what, path, de->d_name)) { closedir(d); errno = ENOMEM; goto fail; }
      if (stat(what->s, &rs) == -1) continue; /* deleted by multilog meanwhile */
      if (rs.st_dev == sb.st_dev && rs.st_ino == sb.st_ino) continue;
      if (n == a) {
        tl_file *m = realloc(rot, (a = a ? 2 * a : 16) * sizeof *m);
        if (!m) { closedir(d); errno = ENOMEM; goto fail; }
        rot = m;
      }
      memcpy(rot[n].name, de->d_name, 28);
      rot[n].dev = (unsigned long long) rs.st_dev; rot[n].ino = (unsigned long long) rs.st_ino;
      ++n;
    }
    closedir(d);
    if (n) qsort(rot, n, sizeof *rot, byname);
  }

  if (pos->known) {
    if ((unsigned long long) sb.st_dev == pos->dev && (unsigned long long) sb.st_ino == pos->ino) {
      if (!headof(fd, pos->off, &h)) goto fail;
      if (h == pos->head && (unsigned long long) sb.st_size >= pos->off) resume = 1;
    }
    if (resume) { /* still the same current: from where we stopped */
      from = n;
      x = readfrom(fd, pos->off, 1, &r, &end);
      goto done;
    }
    for (i = 0; i < n; ++i) /* current was rotated: finish it */
      if (rot[i].dev == pos->dev && rot[i].ino == pos->ino) {
        int rf;
        if (!setpath(what, path, rot[i].name)) { errno = ENOMEM; goto fail; }
        if ((rf = open(what->s, O_RDONLY | O_CLOEXEC)) == -1) goto fail;
        if (headof(rf, pos->off, &h) && h == pos->head) {
          x = readfrom(rf, pos->off, 0, &r, 0);
          close(rf);
          if (x != 1) goto fail;
          from = i + 1;
          resume = 1;
          break;
        }
        close(rf);
      }
    if (!resume) {
      /* gone, or rewritten by a processor: what came after the last stamp read */
      r.after = pos->last; r.afterns = pos->lastns;
      for (from = 0; from < n && r.after && hex(rot[from].name + 1, 16) < r.after; ++from) {}
    }
  }
  for (i = from; i < n; ++i) {
    int rf;
    if (!setpath(what, path, rot[i].name)) { errno = ENOMEM; goto fail; }
    if ((rf = open(what->s, O_RDONLY | O_CLOEXEC)) == -1) {
      if (errno == ENOENT) continue; /* deleted by multilog meanwhile */
      goto fail;
    }
    x = readfrom(rf, 0, 0, &r, 0);
    close(rf);
    if (x != 1) goto fail;
  }
  if (isdir && !setpath(what, path, "current")) { errno = ENOMEM; goto fail; }
  else if (!isdir && !setpath(what, path, 0)) { errno = ENOMEM; goto fail; }
  x = readfrom(fd, 0, 1, &r, &end);

done:
  if (x != 1) goto fail;
  if (!headof(fd, end, &h)) goto fail;
  pos->known = 1;
  pos->dev = (unsigned long long) sb.st_dev; pos->ino = (unsigned long long) sb.st_ino;
  pos->off = end; pos->head = h;
  pos->last = r.last; pos->lastns = r.lastns;
  close(fd);
  free(rot);
  return 1;

fail:
  e = errno;
  if (fd != -1) close(fd);
  free(rot);
  errno = e;
  return x == -1 ? -1 : 0;
}
