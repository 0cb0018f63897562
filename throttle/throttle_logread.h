/* throttle_logread.h: log files line by line for sdu-report, whole or only what
   is new since the last run (multilog's directories and their rotation) */
#ifndef THROTTLE_LOGREAD_H
#define THROTTLE_LOGREAD_H

#include <stddef.h>
#include <stralloc.h>

#define TL_BUF 65536 /* a longer line is no decision line: skipped */
#define TL_HEAD 64   /* bytes at a file's start that tell it from another on the same inode */

/* one line without its newline: 0 go on, -1 stop (no memory) */
typedef int (*tl_linefn)(void *ctx, const char *line, size_t len);

/* where the last run stopped in a source (a multilog directory or a file) */
typedef struct tl_pos {
  int known;                        /* 0: never read, read it all */
  unsigned long long dev, ino, off; /* the file being written (current) and the bytes read of it */
  unsigned long long head;          /* hash of its first min(off, TL_HEAD) bytes */
  unsigned long long last, lastns;  /* the latest stamp read (TAI64N label, nanoseconds), 0 none */
} tl_pos;

/* reads fd from its offset to the end. live: stop after the last newline (a
   line still being written is read next time); *used gets the bytes taken.
   1 done, 0 read error (errno), -1 fn stopped */
int tl_feed(int fd, int live, tl_linefn fn, void *ctx, unsigned long long *used);

/* reads what is new in path since *pos and moves *pos on: a file, or a
   multilog directory whose current was renamed to @tai64n.s (or .u) since:
   the rest of that file (found by its inode and head), the files rotated
   after it, then the new current from its start. When the file is gone, or
   a processor rewrote it, the rotated files named after the last stamp read
   and current, skipping lines stamped up to that stamp.
   1 done, 0 system error (errno; what names the file), -1 fn stopped */
int tl_source(const char *path, tl_pos *pos, tl_linefn fn, void *ctx, stralloc *what);

/* 1 a rotated multilog file's name (@ + 24 hex digits + .s or .u) */
int tl_rotated(const char *name);

#endif
