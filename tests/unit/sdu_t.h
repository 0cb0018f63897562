/* sdu_t.h: the unit tests' few macros; output is one "ok"/"not ok" line per check */
#ifndef SDU_T_H
#define SDU_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static int sdu_t_failed;

#define T_OK(cond, name) do { \
  if (cond) printf("ok - %s\n", (name)); \
  else { printf("not ok - %s (%s:%d)\n", (name), __FILE__, __LINE__); sdu_t_failed = 1; } \
  fflush(stdout); } while (0)

/* compare a buffer of known length with a C string */
#define T_EQB(buf, len, want, name) do { \
  size_t t_l_ = (len); const char *t_w_ = (want); \
  int t_ok_ = t_l_ == strlen(t_w_) && memcmp((buf), t_w_, t_l_) == 0; \
  T_OK(t_ok_, name); \
  if (!t_ok_) printf("#   got  [%.*s]\n#   want [%s]\n", (int) t_l_, (const char *) (buf), t_w_); \
  } while (0)

#define T_EQS(got, want, name) T_EQB((got), strlen(got), (want), name)

#define T_EQI(got, want, name) do { \
  long t_g_ = (long) (got), t_x_ = (long) (want); \
  T_OK(t_g_ == t_x_, name); \
  if (t_g_ != t_x_) printf("#   got %ld want %ld\n", t_g_, t_x_); \
  } while (0)

#define T_SKIP(name, why) do { printf("skip - %s (%s)\n", (name), (why)); fflush(stdout); } while (0)

#define T_DONE() return sdu_t_failed ? 1 : 0

/* a whole file, NUL-terminated, malloc'd; 0 when it cannot be read */
static inline char *t_slurp(const char *file, size_t *len)
{
  FILE *f = fopen(file, "rb");
  char *buf;
  long n;
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  buf = n < 0 ? 0 : malloc((size_t) n + 1);
  if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n) { fclose(f); free(buf); return 0; }
  fclose(f);
  buf[n] = 0;
  if (len) *len = (size_t) n;
  return buf;
}

/* write a file whole: 0, or -1 */
static inline int t_writefile(const char *name, const char *data, size_t len)
{
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  size_t done = 0;
  if (fd == -1) return -1;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w <= 0) { close(fd); return -1; }
    done += (size_t) w;
  }
  return close(fd);
}
#define T_WRITES(name, s) t_writefile((name), (s), strlen(s))

#endif
