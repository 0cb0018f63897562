/* rcptcheck_expire.c: the forms of dated and counted addresses */
#include <string.h>
#include "rcptcheck_expire.h"

static int digits(const char *s, size_t n, unsigned long *v)
{
  size_t i;
  *v = 0;
  if (!n || n > 7) return 0;
  for (i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return 0;
    *v = *v * 10 + (unsigned long) (s[i] - '0');
  }
  return 1;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int rc_form_parse(const char *local, size_t len, rc_form *f)
{
  static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  unsigned long d, m, y;
  size_t i;

  memset(f, 0, sizeof *f);
  /* base.date.DD-MM-YYYY: 16 bytes after the base */
  if (len > 16 && !memcmp(local + len - 16, ".date.", 6) && local[len - 8] == '-' && local[len - 5] == '-'
      && digits(local + len - 10, 2, &d) && digits(local + len - 7, 2, &m) && digits(local + len - 4, 4, &y)) {
    if (m < 1 || m > 12 || d < 1 || y < 1970 || y > 9999) return RC_FORM_NONE;
    if (d > (unsigned long) (mdays[m - 1] + (m == 2 && leap((int) y)))) return RC_FORM_NONE;
    f->kind = RC_FORM_DATE;
    f->baselen = len - 16;
    f->day = (int) d; f->month = (int) m; f->year = (int) y;
    return f->kind;
  }
  /* base.N.count */
  if (len > 8 && !memcmp(local + len - 6, ".count", 6)) {
    for (i = len - 6; i > 0 && local[i - 1] != '.'; --i) ;
    if (i < 2) return RC_FORM_NONE;
    if (!digits(local + i, len - 6 - i, &y) || !y || y > RC_COUNT_MAX) return RC_FORM_NONE;
    f->kind = RC_FORM_COUNT;
    f->baselen = i - 1;
    f->count = y;
    return f->kind;
  }
  return RC_FORM_NONE;
}

int rc_form_date_ok(const rc_form *f, time_t now)
{
  struct tm tm;
  time_t end;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = f->year - 1900;
  tm.tm_mon = f->month - 1;
  tm.tm_mday = f->day + 1; /* midnight after the day; mktime carries over */
  tm.tm_isdst = -1;
  end = mktime(&tm);
  if (end == (time_t) -1) return 0;
  return now < end;
}
