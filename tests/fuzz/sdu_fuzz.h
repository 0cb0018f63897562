/* sdu_fuzz.h: allocation failures on demand for the fuzz targets (include it in one file of a target) */
#ifndef SDU_FUZZ_H
#define SDU_FUZZ_H

#include <stralloc.h>

/* libowfat's stralloc_readyplus, except that the call counted down by
   fuzz_failat fails and sets fuzz_failed; the target's own definition is
   the one its code links (calls inside a shared libowfat may bypass it,
   and then are not counted) */
static unsigned long fuzz_failat;
static int fuzz_failed;

int stralloc_readyplus(stralloc *sa, size_t len);
int stralloc_readyplus(stralloc *sa, size_t len)
{
  if (fuzz_failat && !--fuzz_failat) { fuzz_failed = 1; return 0; }
  if (sa->s && sa->len + len < len) return 0;
  return stralloc_ready(sa, sa->s ? sa->len + len : len);
}

/* the n-th stralloc_readyplus from now fails (0: none) */
static void fuzz_fail(unsigned long n) { fuzz_failat = n; fuzz_failed = 0; }
/* stop failing; 1 when a failure was made */
static int fuzz_unfail(void) { fuzz_failat = 0; return fuzz_failed; }

#endif
