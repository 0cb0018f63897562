/* sdu_alloc.c: malloc for the musl build (make LIBC=musl links it in place of
   musl's own). musl's allocator gives a group of blocks back to the kernel
   (munmap) as soon as its last block is freed; a chain link starts, reads
   its config, frees, and so unmaps and maps again a dozen times before its
   first reply, and every munmap on a machine with more than one CPU is a TLB
   shootdown to the others: ~60 us a start on the test machines. This one
   keeps what it got:
   - a free list per size class (powers of two and the halfway steps
     between them: 32, 48, 64, 96, ... 64 KiB, header included; a block
     wastes an eighth of itself on average, not a quarter, so that a link's
     start-up fits in fewer pages), blocks carved from 256 KiB areas, reused
     LIFO, never returned;
   - requests of 2,033 to 4,096 bytes (LMDB's pages) a page each, from areas
     of pages, no header in them: a 4 KiB block behind a header would touch
     two pages; free knows them by their address;
   - larger blocks mappings of their own, grown with mremap; on free the
     newest few (4, 8 MiB in all) are kept for the next malloc of their size
     (the proxy's buffers: a munmap at the end of every connection otherwise),
     the rest unmapped.
   calloc writes no block never handed out: pages the kernel gave are zero,
   and a page never touched costs no fault. Memory is bounded by the peak of
   each class and of pages, plus what is kept. One lock (the programs are
   single-threaded; LMDB only starts threads to copy an env).
   Built with SDU_ALLOC_TEST the functions are static sdu_a_ ones and not
   malloc: tests/unit/t_alloc includes this file so, in every build. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#ifndef SDU_ALLOC_TEST
#include <malloc.h>
#endif
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include "sdu_hot.h"
#ifdef SDU_ALLOC_TEST
#define API static  /* the test's own copy, beside the library's */
#else
#define API
#include "sdu_alloc.h"
#endif

#define ALIGN 16
#define MINSHIFT 5                 /* 32 bytes, header included: room for the free list link */
#define MAXSHIFT 16                /* 64 KiB: larger blocks are mappings */
#define NCLASS (2 * (MAXSHIFT - MINSHIFT) + 1) /* 2^k, then 3 * 2^(k-1) */
#define AREA (256 * 1024)

/* every block starts with this, ALIGN bytes before the pointer handed out */
struct head {
  size_t size;  /* small: the class's whole block size; large: the mapping's length */
  void *base;   /* small: 0; large: where the mapping starts */
};

struct freeblock { struct freeblock *next; };

#define PAGE 4096                  /* requests of 2033 to 4096 bytes: a page each */
#define PAGEAREAS 16               /* areas of pages at most; then class blocks */
#define KEEP 4                     /* freed large blocks kept */
#define KEEPMAX (8 << 20)          /* and their bytes at most */

/* in the section of the variables every exec writes (sdu_hot.h) */
#define HOT SDU_HOT
HOT static struct freeblock *freelist[NCLASS];
HOT static char *pagearea[PAGEAREAS];  /* areas of whole pages, no header in them */
HOT static unsigned int npageareas;
HOT static size_t pageleft;            /* in the last page area */
HOT static struct freeblock *freepages;
HOT static struct head *kept[KEEP];    /* freed mappings, whole */
HOT static size_t keptbytes;
HOT static char *area;
HOT static size_t arealeft;
HOT static volatile int lock;
/* The first area of each kind is in .bss, not mapped: a link that starts,
   reads its config and goes on never calls mmap. Mapped areas lie in a
   region of their own, far from the program's: the kernel gives it page
   tables of its own (zeroed at the first touch, freed at exit: about a
   page fault's cost each on a virtual machine), and each mmap is a system
   call and a mapping more to undo at exec. Pages of .bss never touched
   cost nothing. */
SDU_PAGES static char firstarea[AREA];
SDU_PAGES static char firstpages[AREA];
HOT static int firstused, firstpagesused;

static void take(void) { while (__atomic_test_and_set(&lock, __ATOMIC_ACQUIRE)) ; }
static void give(void) { __atomic_clear(&lock, __ATOMIC_RELEASE); }

static struct head *headof(void *p) { return (struct head *) ((char *) p - ALIGN); }

/* the bytes of class c's blocks: 32, 48, 64, 96, 128, ... (all multiples of ALIGN) */
static size_t classsize(unsigned int c)
{
  return (c & 1 ? (size_t) 3 << (MINSHIFT - 1) : (size_t) 1 << MINSHIFT) << (c / 2);
}

/* the class whose blocks hold n bytes and the header; NCLASS: too large */
static unsigned int classof(size_t n)
{
  size_t b;
  unsigned int k;
  if (n > ((size_t) 1 << MAXSHIFT) - ALIGN) return NCLASS;
  b = n + ALIGN;
  if (b <= (size_t) 1 << MINSHIFT) return 0;
  /* 2^k < b <= 2^(k+1): 3 * 2^(k-1) if that holds it, else 2^(k+1) */
  k = (unsigned int) (sizeof (unsigned long) * 8 - 1) - (unsigned int) __builtin_clzl((unsigned long) (b - 1));
  if (b <= (size_t) 3 << (k - 1)) return 2 * (k - MINSHIFT) + 1;
  return 2 * (k + 1 - MINSHIFT);
}

/* zero: the bytes must be zero (a kept mapping is not) */
static void *maplarge(size_t n, size_t align, int zero)
{
  size_t len, pad = align > ALIGN ? align : 0;
  char *base, *p;
  struct head *h;
  if (n > SIZE_MAX - ALIGN - pad - 4096) { errno = ENOMEM; return 0; }
  len = (n + ALIGN + pad + 4095) & ~(size_t) 4095;
  if (!pad && !zero) {
    /* a kept mapping of the size, or up to twice it */
    unsigned int i;
    take();
    for (i = KEEP; i-- > 0; )
      if (kept[i] && kept[i]->size >= len && kept[i]->size / 2 <= len) {
        h = kept[i];
        keptbytes -= h->size;
        for (; i + 1 < KEEP; ++i) kept[i] = kept[i + 1];
        kept[KEEP - 1] = 0;
        give();
        return (char *) h + ALIGN;
      }
    give();
  }
  base = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) { errno = ENOMEM; return 0; }
  p = base + ALIGN;
  if (pad) p = (char *) (((uintptr_t) p + align - 1) & ~(uintptr_t) (align - 1));
  h = headof(p);
  h->size = len;
  h->base = base;
  return p;
}

/* *fresh: the block was never handed out, its bytes are zero */
static void *small(unsigned int c, int *fresh)
{
  size_t b = classsize(c);
  struct head *h;
  take();
  if (freelist[c]) {
    struct freeblock *f = freelist[c];
    freelist[c] = f->next;
    give();
    *fresh = 0;
    return f;
  }
  *fresh = 1;
  if (arealeft < b) {
    /* what is left of the old area goes to the lists, largest first */
    while (arealeft >= classsize(0)) {
      unsigned int k = NCLASS - 1;
      while (classsize(k) > arealeft) --k;
      h = (struct head *) area;
      h->size = classsize(k);
      h->base = 0;
      ((struct freeblock *) (area + ALIGN))->next = freelist[k];
      freelist[k] = (struct freeblock *) (area + ALIGN);
      area += h->size;
      arealeft -= h->size;
    }
    if (!firstused) { firstused = 1; area = firstarea; }
    else area = mmap(0, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) { area = 0; arealeft = 0; give(); errno = ENOMEM; return 0; }
    arealeft = AREA;
  }
  h = (struct head *) area;
  area += b;
  arealeft -= b;
  give();
  h->size = b;
  h->base = 0;
  return (char *) h + ALIGN;
}

/* A block of 4 KiB with a header before it spans two pages and touches
   both: LMDB's pages (one per page written, and its page buffer) would
   cost a page fault more each. Such requests get a page of their own from
   areas of pages; free knows them by their address. */
static int ispage(const void *p)
{
  unsigned int i;
  if ((uintptr_t) p & (PAGE - 1)) return 0;
  for (i = 0; i < npageareas; ++i)
    if ((uintptr_t) p - (uintptr_t) pagearea[i] < AREA) return 1;
  return 0;
}

/* 0: no page (the areas are all used): take a class block */
static void *page(int *fresh)
{
  char *p;
  take();
  if (freepages) {
    struct freeblock *f = freepages;
    freepages = f->next;
    give();
    *fresh = 0;
    return f;
  }
  if (!pageleft) {
    if (npageareas == PAGEAREAS) { give(); return 0; }
    if (!firstpagesused) { firstpagesused = 1; p = firstpages; }
    else p = mmap(0, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { give(); return 0; }
    pagearea[npageareas++] = p;
    pageleft = AREA;
  }
  p = pagearea[npageareas - 1] + (AREA - pageleft);
  pageleft -= PAGE;
  give();
  *fresh = 1;
  return p;
}

static int pageclass(size_t n)
{
  return n > PAGE / 2 - ALIGN && n <= PAGE;
}

/* a block of n bytes; *fresh: never handed out before, zero */
static void *block(size_t n, int *fresh)
{
  unsigned int c = classof(n);
  void *p;
  if (pageclass(n) && (p = page(fresh))) return p;
  if (c < NCLASS) return small(c, fresh);
  *fresh = 1;
  return maplarge(n, 0, 0);
}

API void *sdu_a_malloc(size_t n)
{
  int fresh;
  return block(n, &fresh);
}

API void sdu_a_free(void *p)
{
  struct head *h;
  unsigned int c;
  if (!p) return;
  if (ispage(p)) {
    take();
    ((struct freeblock *) p)->next = freepages;
    freepages = p;
    give();
    return;
  }
  h = headof(p);
  if (h->base) {
    /* kept whole when it starts at its mapping (not an aligned block) */
    struct head *old[KEEP];
    unsigned int i, n = 0;
    if ((char *) h != (char *) h->base || h->size > KEEPMAX) { munmap(h->base, h->size); return; }
    /* the newest is kept; the oldest make room (kept[0] is the oldest) */
    take();
    while (kept[0] && (kept[KEEP - 1] || keptbytes + h->size > KEEPMAX)) {
      old[n++] = kept[0];
      keptbytes -= kept[0]->size;
      for (i = 0; i + 1 < KEEP; ++i) kept[i] = kept[i + 1];
      kept[KEEP - 1] = 0;
    }
    for (i = 0; kept[i]; ++i) ;
    kept[i] = h;
    keptbytes += h->size;
    give();
    for (i = 0; i < n; ++i) munmap(old[i], old[i]->size);
    return;
  }
  c = classof(h->size - ALIGN);
  take();
  ((struct freeblock *) p)->next = freelist[c];
  freelist[c] = p;
  give();
}

API size_t sdu_a_usable(void *p)
{
  struct head *h;
  if (!p) return 0;
  if (ispage(p)) return PAGE;
  h = headof(p);
  if (h->base) return h->size - (size_t) ((char *) p - (char *) h->base);
  return h->size - ALIGN;
}

API void *sdu_a_calloc(size_t m, size_t n)
{
  void *p;
  int fresh;
  if (n && m > SIZE_MAX / n) { errno = ENOMEM; return 0; }
  /* a new mapping is zero already, and stays untouched until used (LMDB
     callocs 2 MiB of dirty list per environment and uses a little); so is
     a block never handed out before */
  if (classof(m * n) == NCLASS) return maplarge(m * n, 0, 1);
  p = block(m * n, &fresh);
  if (p && !fresh) memset(p, 0, m * n);
  return p;
}

API void *sdu_a_realloc(void *p, size_t n)
{
  struct head *h;
  size_t have;
  void *q;
  if (!p) return sdu_a_malloc(n);
  if (!n) { sdu_a_free(p); return 0; }
  if (ispage(p)) {
    if (pageclass(n)) return p;
    q = sdu_a_malloc(n);
    if (!q) return 0;
    memcpy(q, p, n < PAGE ? n : PAGE);
    sdu_a_free(p);
    return q;
  }
  h = headof(p);
  have = sdu_a_usable(p);
  if (h->base && (char *) p == (char *) h->base + ALIGN && classof(n) == NCLASS) {
    /* a mapping of its own grows or shrinks in place, or moves without a copy */
    size_t len;
    char *nb;
    if (n > SIZE_MAX - ALIGN - 4096) { errno = ENOMEM; return 0; }
    len = (n + ALIGN + 4095) & ~(size_t) 4095;
    if (len == h->size) return p;
    nb = mremap(h->base, h->size, len, MREMAP_MAYMOVE);
    if (nb == MAP_FAILED) { errno = ENOMEM; return 0; }
    h = (struct head *) nb;
    h->size = len;
    h->base = nb;
    return nb + ALIGN;
  }
  if (n <= have && (h->base || n > have / 2)) return p;
  q = sdu_a_malloc(n);
  if (!q) return 0;
  memcpy(q, p, n < have ? n : have);
  sdu_a_free(p);
  return q;
}

API void *sdu_a_aligned(size_t align, size_t n)
{
  if (!align || (align & (align - 1))) { errno = EINVAL; return 0; }
  if (align <= ALIGN) return sdu_a_malloc(n);
  return maplarge(n, align, 0);
}

#ifndef SDU_ALLOC_TEST
void *malloc(size_t n) { return sdu_a_malloc(n); }
void free(void *p) { sdu_a_free(p); }
void *calloc(size_t m, size_t n) { return sdu_a_calloc(m, n); }
void *realloc(void *p, size_t n) { return sdu_a_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { return sdu_a_aligned(align, n); }
void *memalign(size_t align, size_t n) { return sdu_a_aligned(align, n); }
size_t malloc_usable_size(void *p) { return sdu_a_usable(p); }
int posix_memalign(void **res, size_t align, size_t n)
{
  void *p;
  if (align < sizeof (void *)) return EINVAL;
  p = sdu_a_aligned(align, n);
  if (!p) return errno;
  *res = p;
  return 0;
}
#endif
