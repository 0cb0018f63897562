/* sdu_time.h: the clock (movable by tests) and durations such as "10m" */
#ifndef SDU_TIME_H
#define SDU_TIME_H

#include <time.h>

/* clock_gettime, by system call for the first few calls of a process
   (sdu_time.c says why) */
void sdu_clock(clockid_t id, struct timespec *ts);

/* seconds since the epoch; SDU_TEST_NOW, when it holds a decimal number,
   is returned instead (a testing aid; anything else there is ignored) */
unsigned long long sdu_now(void);
/* sdu_now() when the monotonic clock read ms (sdu_ms()): the wall clock is
   read at the first call and followed by the monotonic one from there on,
   so that a caller with a fresh reading in hand (the proxy's hooks, after
   each wait) reads no clock; SDU_TEST_NOW as for sdu_now() */
unsigned long long sdu_now_at(unsigned long long ms);
/* milliseconds of the monotonic clock (deadlines, durations in logs) */
unsigned long long sdu_ms(void);
/* "90", "90s", "10m", "3h", "7d" into seconds: 1 ok, 0 bad syntax or overflow */
int sdu_parse_duration(const char *s, unsigned long *secs);
/* t + d, at most the end of time: a duration the parser takes (up to
   ULONG_MAX seconds) must not wrap to a time long past */
unsigned long long sdu_later(unsigned long long t, unsigned long long d);

#endif
