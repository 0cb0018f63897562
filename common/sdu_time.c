/* sdu_time.c: the clock (movable by tests) and durations such as "10m" */
#include <time.h>
#include <limits.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "sdu_env.h"
#include "sdu_time.h"
#include "sdu_hot.h"

/* decimal digits up to the first non-digit; 0 on no digits or overflow */
static const char *scan_ull(const char *s, unsigned long long max, unsigned long long *u)
{
  unsigned long long n = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; ++p) {
    unsigned int d = (unsigned int) (*p - '0');
    if (n > (max - d) / 10) return 0;
    n = n * 10 + d;
  }
  if (p == s) return 0;
  *u = n;
  return p;
}

/* The first calls of a process ask the kernel, later ones the vDSO. musl
   looks the vDSO up at its first clock_gettime: its symbol table, a string
   and the clock's data pages, 4 page faults (~40 us on a virtual machine),
   more than a link that lives for one connection spends reading the clock
   a few times by system call (~1 us each); glibc faults the data pages in
   (2 faults, ~18 us). A clean session through the chain reads it about 20
   times (the DNS wait, the proxy once a wait, the links' start); a long
   one (a big message) goes on to the vDSO after the first 32. */
#define SYSCALLS 32
SDU_HOT static unsigned int syscalls;

void sdu_clock(clockid_t id, struct timespec *ts)
{
  if (syscalls < SYSCALLS) {
    ++syscalls;
    if (syscall(SYS_clock_gettime, id, ts) == 0) return;
  }
  clock_gettime(id, ts);
}

/* SDU_TEST_NOW, when it holds a decimal number: 1 with it in *u */
static int testnow(unsigned long long *u)
{
  const char *e = sdu_env_get("SDU_TEST_NOW");
  const char *p;
  if (!e) return 0;
  p = scan_ull(e, ULLONG_MAX, u);
  return p && !*p;
}

unsigned long long sdu_now(void)
{
  unsigned long long u;
  struct timespec ts;
  if (testnow(&u)) return u;
  sdu_clock(CLOCK_REALTIME, &ts);
  return ts.tv_sec < 0 ? 0 : (unsigned long long) ts.tv_sec;
}

unsigned long long sdu_now_at(unsigned long long ms)
{
  SDU_HOT static unsigned long long wall, mono;
  SDU_HOT static int set;
  unsigned long long u;
  if (testnow(&u)) return u;
  if (!set) {
    struct timespec ts;
    sdu_clock(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < 0) ts.tv_sec = 0, ts.tv_nsec = 0;
    wall = (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
    mono = ms;
    set = 1;
  }
  return (wall + (ms > mono ? ms - mono : 0)) / 1000;
}

int sdu_parse_duration(const char *s, unsigned long *secs)
{
  unsigned long long n, unit = 1;
  const char *p = scan_ull(s, ULONG_MAX, &n);
  if (!p) return 0;
  switch (*p) {
    case 0: break;
    case 's': unit = 1; ++p; break;
    case 'm': unit = 60; ++p; break;
    case 'h': unit = 3600; ++p; break;
    case 'd': unit = 86400; ++p; break;
    default: return 0;
  }
  if (*p) return 0;
  if (n > ULONG_MAX / unit) return 0;
  *secs = (unsigned long) (n * unit);
  return 1;
}

unsigned long long sdu_ms(void)
{
  struct timespec ts;
  sdu_clock(CLOCK_MONOTONIC, &ts);
  return (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
}

unsigned long long sdu_later(unsigned long long t, unsigned long long d)
{
  return t + d < t ? (unsigned long long) -1 : t + d;
}
