/* t_alloc.c: the musl build's allocator (common/sdu_alloc.c), its own copy
   under test names, in every build: blocks keep their contents, never
   overlap, are aligned, are reused rather than mapped anew, and large ones
   grow in place or move with their contents */
#define SDU_ALLOC_TEST
#include "sdu_alloc.c"
#include <stdio.h>
#include "sdu_t.h"

#define N 4000

static unsigned long rnd = 42;
static unsigned long next(void) { rnd = rnd * 6364136223846793005UL + 1442695040888963407UL; return rnd >> 33; }

static void *blk[N];
static size_t len[N];
static unsigned char tag[N];

static int intact(unsigned int i)
{
  size_t k;
  for (k = 0; k < len[i]; ++k)
    if (((unsigned char *) blk[i])[k] != (unsigned char) (tag[i] + k)) return 0;
  return 1;
}

static void fill(unsigned int i)
{
  size_t k;
  for (k = 0; k < len[i]; ++k) ((unsigned char *) blk[i])[k] = (unsigned char) (tag[i] + k);
}

static size_t somesize(void)
{
  switch (next() % 8) {
    case 0: return 0;
    case 1: return next() % 16;
    case 7: return 60000 + next() % 200000; /* both sides of the large limit */
    default: return next() % 3000;
  }
}

int main(void)
{
  unsigned int i, round, bad = 0, misaligned = 0;
  void *p, *q;
  char *r;

  /* random malloc, realloc and free of every size, contents checked all along */
  for (round = 0; round < 60000; ++round) {
    i = (unsigned int) (next() % N);
    if (blk[i] && !intact(i)) ++bad;
    switch (next() % 3) {
      case 0:
        sdu_a_free(blk[i]);
        blk[i] = sdu_a_malloc(len[i] = somesize());
        break;
      case 1: {
        size_t old = len[i], n = somesize(), k;
        if (!n) { sdu_a_free(blk[i]); blk[i] = 0; len[i] = 0; break; }
        blk[i] = sdu_a_realloc(blk[i], n);
        len[i] = n;
        if (blk[i])
          for (k = 0; k < (old < n ? old : n); ++k)
            if (((unsigned char *) blk[i])[k] != (unsigned char) (tag[i] + k)) { ++bad; break; }
        break;
      }
      default:
        sdu_a_free(blk[i]);
        blk[i] = 0; len[i] = 0;
        continue;
    }
    if (!blk[i] && len[i]) { ++bad; continue; }
    if (blk[i] && ((uintptr_t) blk[i] % 16)) ++misaligned;
    if (blk[i] && sdu_a_usable(blk[i]) < len[i]) ++bad;
    tag[i] = (unsigned char) next();
    if (blk[i]) fill(i);
  }
  for (i = 0; i < N; ++i) if (blk[i] && !intact(i)) ++bad;
  T_EQI(bad, 0, "60,000 random mallocs, reallocs and frees: every block keeps its bytes");
  T_EQI(misaligned, 0, "every block 16-byte aligned");
  for (i = 0; i < N; ++i) { sdu_a_free(blk[i]); blk[i] = 0; }

  /* a freed small block is the next one of its class: nothing mapped anew */
  p = sdu_a_malloc(100);
  sdu_a_free(p);
  q = sdu_a_malloc(90);
  T_OK(p == q, "a freed block is reused by the next request of its class");
  sdu_a_free(q);

  /* calloc zeroes a reused block; its overflow check */
  p = sdu_a_malloc(200);
  memset(p, 0xab, 200);
  sdu_a_free(p);
  r = sdu_a_calloc(50, 4);
  T_OK(r == p, "calloc reuses the block");
  for (i = 0; i < 200 && !r[i]; ++i) ;
  T_EQI(i, 200, "calloc gives zeroes");
  sdu_a_free(r);
  r = sdu_a_calloc(1, 3 << 20);
  for (i = 0; i < (3u << 20) && !r[i]; ++i) ;
  T_EQI(i, 3u << 20, "a large calloc gives zeroes");
  sdu_a_free(r);
  errno = 0;
  T_OK(!sdu_a_calloc(SIZE_MAX / 2, 3) && errno == ENOMEM, "calloc refuses m * n overflow");
  T_OK(!sdu_a_malloc(SIZE_MAX - 8) && errno == ENOMEM, "malloc refuses what cannot be mapped");

  /* a large block grows by mremap with its contents, and shrinks */
  r = sdu_a_malloc(100000);
  memset(r, 'x', 100000);
  r = sdu_a_realloc(r, 5000000);
  T_OK(r && r[0] == 'x' && r[99999] == 'x', "a large block grows with its contents");
  r[4999999] = 'y';
  r = sdu_a_realloc(r, 70000);
  T_OK(r && r[69999] == 'x' && sdu_a_usable(r) >= 70000, "and shrinks");
  sdu_a_free(r);

  /* aligned requests */
  p = sdu_a_aligned(4096, 10000);
  T_OK(p && !((uintptr_t) p % 4096), "4096-aligned block");
  memset(p, 1, 10000);
  p = sdu_a_realloc(p, 20000);
  T_OK(p && ((char *) p)[9999] == 1, "an aligned block reallocated keeps its bytes");
  sdu_a_free(p);
  errno = 0;
  T_OK(!sdu_a_aligned(48, 10) && errno == EINVAL, "an alignment not a power of two is refused");
  p = sdu_a_aligned(8, 10);
  T_OK(p && !((uintptr_t) p % 16), "a small alignment is a plain block");
  sdu_a_free(p);
  T_OK(sdu_a_realloc(0, 10) != 0, "realloc of 0 is malloc");
  sdu_a_free(0); /* must not crash */
  T_DONE();
}
