/* sdu_cdb.h: lookups in constant cdb tables (libowfat), bounded and close-on-exec */
#ifndef SDU_CDB_H
#define SDU_CDB_H

#include <stddef.h>
#include <cdb.h>
#include <stralloc.h>

#define SDU_CDB_DATA_MAX 65536 /* larger data is refused as a failure (EMSGSIZE) */

/* The file is mapped once at open: a table replaced by rename (cdb -c)
   while it is open keeps answering from the old contents; open again to
   see the new one. */
typedef struct sdu_cdb { struct cdb c; int fd; } sdu_cdb;

/* 0 ok; -1 with errno: open errors, or EPROTO for a file that is not a
   cdb (shorter than its header, or a header pointing outside the file:
   a truncated file is refused here) */
int sdu_cdb_open(sdu_cdb *d, const char *file);
/* 1 hit (val holds the data of the first record), 0 miss,
   -1 temporary failure: read error, record outside the file (EPROTO),
   data over SDU_CDB_DATA_MAX (EMSGSIZE), no memory (ENOMEM).
   Callers turn -1 into 111/451 or fail open, never into "not found". */
int sdu_cdb_get(sdu_cdb *d, const char *key, size_t klen, stralloc *val);
/* the same answer as sdu_cdb_get without fetching the data */
int sdu_cdb_exists(sdu_cdb *d, const char *key, size_t klen);
void sdu_cdb_close(sdu_cdb *d);

#endif
