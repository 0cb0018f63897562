/* sdu_t.h: the unit tests' few macros; output is one "ok"/"not ok" line per check */
#ifndef SDU_T_H
#define SDU_T_H

#include <stdio.h>
#include <string.h>

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

#endif
