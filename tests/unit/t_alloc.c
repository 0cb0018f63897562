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
    case 6: return 1900 + next() % 2400;    /* both sides of the page class */
    case 7: return 60000 + next() % 200000; /* both sides of the large limit */
    default: return next() % 3000;
  }
}

int main(void)
{
  unsigned int i, round, bad = 0, misaligned = 0;
  void *p, *q;
  char *r;

  /* a block never handed out is zero as it came from the kernel: calloc
     leaves its pages untouched (mincore: not resident) */
  {
    /* first of all, while nothing has been handed out */
    unsigned char vec[1];
    char *z = sdu_a_calloc(1, 30000);
    char *mid = (char *) (((uintptr_t) z + 16384) & ~(uintptr_t) 4095);
    T_OK(z && mincore(mid, 4096, vec) == 0 && !(vec[0] & 1), "calloc of a fresh block touches none of its pages");
    for (i = 0; i < 30000 && !z[i]; ++i) ;
    T_EQI(i, 30000, "and it is zero");
    memset(z, 0xcd, 30000);
    sdu_a_free(z);
    z = sdu_a_calloc(3, 10000);
    for (i = 0; i < 30000 && !z[i]; ++i) ;
    T_EQI(i, 30000, "a calloc that reuses it writes the zeroes");
    sdu_a_free(z);
  }

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

  /* the classes: powers of two and the halfway steps, header included;
     every size gets the least that holds it */
  {
    size_t n, b, want, badc = 0, c;
    for (n = 1; n <= 65520; ++n) {
      if (pageclass(n)) continue;
      c = classof(n);
      b = c < NCLASS ? classsize(c) : 0;
      for (want = 32; want < n + ALIGN; ) want = (want & (want - 1)) ? (want / 3) * 4 : want / 2 * 3;
      if (b != want || b % ALIGN || (c && classsize(c - 1) >= n + ALIGN)) ++badc;
    }
    T_EQI(badc, 0, "each size in the least class of 32, 48, 64, 96, ... 64 KiB that holds it and the header");
    T_OK(classof(65521) == NCLASS, "65521 bytes and more: a mapping of their own");
    p = sdu_a_malloc(1408);
    T_EQI(sdu_a_usable(p), 1536 - ALIGN, "1408 bytes take a block of 1536, not 2048");
    sdu_a_free(p);
    p = sdu_a_malloc(328);
    q = sdu_a_malloc(328);
    T_OK(p && q && sdu_a_usable(p) == 384 - ALIGN, "328 bytes take a block of 384");
    sdu_a_free(p);
    T_OK(sdu_a_malloc(300) == p, "a freed 384 block is the next one of its class");
    sdu_a_free(p);
    sdu_a_free(q);
  }

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

  /* 2033 to 4096 bytes: a page of its own, nothing else in it */
  {
    char *a = sdu_a_malloc(4096), *b = sdu_a_malloc(2100), *c;
    T_OK(a && b && !((uintptr_t) a % 4096) && !((uintptr_t) b % 4096) && a != b, "4096 and 2100 bytes: a page each, page-aligned");
    T_OK(sdu_a_usable(a) == 4096 && sdu_a_usable(b) == 4096, "a page block holds 4096 bytes");
    c = sdu_a_malloc(2032);
    T_OK(c && ((uintptr_t) c % 4096) != 0, "2032 bytes: a class block (the header fits in its 2048)");
    sdu_a_free(c);
    memset(a, 'a', 4096);
    T_OK(sdu_a_realloc(a, 3000) == a, "a page block reallocated within the class stays");
    c = sdu_a_realloc(a, 10000);
    T_OK(c && c[0] == 'a' && c[2999] == 'a' && c[4095] == 'a', "and moves with its bytes when it grows");
    sdu_a_free(c);
    sdu_a_free(b);
    c = sdu_a_malloc(3000);
    T_OK(c == b, "a freed page is the next one handed out");
    memset(c, 'x', 4096);
    sdu_a_free(c);
    c = sdu_a_calloc(1, 4000);
    for (i = 0; i < 4000 && !c[i]; ++i) ;
    T_OK(c == b && i == 4000, "calloc of a reused page gives zeroes");
    c = sdu_a_realloc(c, 100);
    T_OK(c && ((uintptr_t) c % 4096) != 0, "shrunk below the class: a class block");
    sdu_a_free(c);
  }

  /* a freed large block is kept for the next malloc of its size (no
     munmap and mmap); calloc takes a new mapping, zero */
  r = sdu_a_malloc(1 << 20);
  memset(r, 'k', 1 << 20);
  sdu_a_free(r);
  q = sdu_a_malloc((1 << 20) - 100);
  T_OK(q == (void *) r, "a freed large block is kept and handed out again");
  sdu_a_free(q);
  p = sdu_a_calloc(1, 1 << 20);
  T_OK(p && p != q, "a large calloc does not take a kept block");
  for (i = 0; i < (1u << 20) && !((char *) p)[i]; ++i) ;
  T_EQI(i, 1u << 20, "and is zero");
  sdu_a_free(p);
  {
    unsigned char vec[1];
    char *base = (char *) q - 16;   /* the mapping's start, before the header */
    T_OK(mincore(base, 4096, vec) == 0, "the kept block is still mapped");
    q = sdu_a_malloc(64 << 20);
    base = (char *) q - 16;
    T_OK(q && mincore(base, 4096, vec) == 0, "a block larger than what is kept");
    sdu_a_free(q);
    T_OK(mincore(base, 4096, vec) == -1 && errno == ENOMEM, "is unmapped when freed");
  }

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
