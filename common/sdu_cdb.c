/* sdu_cdb.c: lookups in constant cdb tables (libowfat), bounded and close-on-exec */
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uint32.h>
#include "sdu_cdb.h"

/* Every hash table the header names must lie inside the file: then a
   lookup reads at most the whole table, even in a damaged file (a slot
   count pointing outside would let cdb_findnext wrap around for 2^32 rounds) */
static int header_ok(sdu_cdb *d)
{
  struct stat st;
  unsigned char h[2048];
  unsigned int i;
  if (fstat(d->fd, &st) == -1) return 0;
  if (st.st_size < 2048 || (uint64_t) st.st_size > 0xffffffffULL) { errno = EPROTO; return 0; }
  if (cdb_read(&d->c, h, sizeof h, 0) == -1) return 0;
  for (i = 0; i < 256; ++i) {
    uint32 pos, slots;
    uint32_unpack((const char *) h + 8 * i, &pos);
    uint32_unpack((const char *) h + 8 * i + 4, &slots);
    if (!slots) continue;
    if (pos < 2048 || (uint64_t) pos + (uint64_t) slots * 8 > (uint64_t) st.st_size) { errno = EPROTO; return 0; }
  }
  return 1;
}

int sdu_cdb_open(sdu_cdb *d, const char *file)
{
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  d->fd = -1;
  if (fd == -1) return -1;
  /* cdb_init frees a previous map: start from a clean struct */
  memset(&d->c, 0, sizeof d->c);
  cdb_init(&d->c, fd);
  d->fd = fd;
  if (!header_ok(d)) {
    int e = errno;
    sdu_cdb_close(d);
    errno = e;
    return -1;
  }
  return 0;
}

int sdu_cdb_exists(sdu_cdb *d, const char *key, size_t klen)
{
  int r;
  if (d->fd < 0) { errno = EBADF; return -1; }
  r = cdb_find(&d->c, (const unsigned char *) key, klen);
  return r < 0 ? -1 : r > 0;
}

int sdu_cdb_get(sdu_cdb *d, const char *key, size_t klen, stralloc *val)
{
  int r = sdu_cdb_exists(d, key, klen);
  uint32 dlen;
  if (r != 1) return r;
  dlen = cdb_datalen(&d->c);
  if (dlen > SDU_CDB_DATA_MAX) { errno = EMSGSIZE; return -1; }
  /* stralloc_ready(.., 0) would leave s unallocated: keep s valid for callers */
  if (!stralloc_ready(val, dlen ? dlen : 1)) { errno = ENOMEM; return -1; }
  if (cdb_read(&d->c, (unsigned char *) val->s, dlen, cdb_datapos(&d->c)) == -1) return -1;
  val->len = dlen;
  return 1;
}

void sdu_cdb_close(sdu_cdb *d)
{
  if (d->fd < 0) return;
  cdb_free(&d->c);
  close(d->fd);
  d->fd = -1;
}
