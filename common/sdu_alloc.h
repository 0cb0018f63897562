/* sdu_alloc.h: the allocator of the musl build (sdu_alloc.c), under its own names */
#ifndef SDU_ALLOC_H
#define SDU_ALLOC_H

#include <stddef.h>

void *sdu_a_malloc(size_t n);
void sdu_a_free(void *p);
void *sdu_a_calloc(size_t m, size_t n);
void *sdu_a_realloc(void *p, size_t n);
void *sdu_a_aligned(size_t align, size_t n); /* align a power of two */
size_t sdu_a_usable(void *p);

#endif
