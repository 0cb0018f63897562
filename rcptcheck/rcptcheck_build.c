/* rcptcheck_build.c: the recipient table written atomically with cdb_make, and the plain list */
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fmt.h>
#include <buffer.h>
#include <uint32.h>
#include "sdu_addr.h"
#include "sdu_msg.h"
#include "rcptcheck_table.h"
#include "rcptcheck_build.h"

static size_t hash(const char *s, size_t len)
{
  size_t h = 2166136261u, i;
  for (i = 0; i < len; ++i) { h ^= (unsigned char) s[i]; h *= 16777619u; }
  return h;
}

/* slots hold the length in front of the bytes */
static int slot_eq(const char *slot, const char *s, size_t len)
{
  size_t l;
  memcpy(&l, slot, sizeof l);
  return l == len && !memcmp(slot + sizeof l, s, len);
}

static size_t find(const rc_set *set, const char *s, size_t len)
{
  size_t i = hash(s, len) & (set->size - 1);
  while (set->slot[i] && !slot_eq(set->slot[i], s, len)) i = (i + 1) & (set->size - 1);
  return i;
}

int rc_set_has(const rc_set *set, const char *s, size_t len)
{
  return set->size && set->slot[find(set, s, len)] != 0;
}

int rc_set_add(rc_set *set, const char *s, size_t len)
{
  size_t i;
  char *e;
  if (2 * (set->n + 1) > set->size) {
    rc_set bigger;
    size_t j;
    bigger.size = set->size ? 2 * set->size : 256;
    bigger.n = set->n;
    bigger.slot = calloc(bigger.size, sizeof *bigger.slot);
    if (!bigger.slot) return -1;
    for (j = 0; j < set->size; ++j)
      if (set->slot[j]) {
        size_t l;
        memcpy(&l, set->slot[j], sizeof l);
        bigger.slot[find(&bigger, set->slot[j] + sizeof l, l)] = set->slot[j];
      }
    free(set->slot);
    *set = bigger;
  }
  i = find(set, s, len);
  if (set->slot[i]) return 0;
  e = malloc(sizeof len + len);
  if (!e) return -1;
  memcpy(e, &len, sizeof len);
  memcpy(e + sizeof len, s, len);
  set->slot[i] = e;
  ++set->n;
  return 1;
}

void rc_set_free(rc_set *set)
{
  size_t i;
  for (i = 0; i < set->size; ++i) free(set->slot[i]);
  free(set->slot);
  set->slot = 0; set->n = set->size = 0;
}

/* libowfat's cdb_make leaves its hash lists to the caller */
static void cm_free(struct cdb_make *cm)
{
  struct cdb_hplist *x;
  while ((x = cm->head)) { cm->head = x->next; free(x); }
  free(cm->split);
  cm->split = 0;
}

/* one record into the file; all but the first (the check record) are summed */
static int put(rc_build *b, const char *key, size_t klen, const char *val, size_t vlen)
{
  unsigned char h[8];
  size_t i;
  if (klen > 0xffffffffUL - vlen) { errno = EOVERFLOW; return -1; }
  if (b->total) {
    unsigned long long s = b->sum;
    uint32_pack((char *) h, (uint32) klen);
    uint32_pack((char *) h + 4, (uint32) vlen);
    for (i = 0; i < 8; ++i) { s ^= h[i]; s *= RC_FNV_PRIME; }
    for (i = 0; i < klen; ++i) { s ^= (unsigned char) key[i]; s *= RC_FNV_PRIME; }
    for (i = 0; i < vlen; ++i) { s ^= (unsigned char) val[i]; s *= RC_FNV_PRIME; }
    b->sum = s;
    b->bytes += 8 + klen + vlen;
    b->last = b->cm.pos;
  }
  if (cdb_make_add(&b->cm, (const unsigned char *) key, klen, (const unsigned char *) val, vlen) == -1) return -1;
  ++b->total;
  return 0;
}

/* v in exactly width digits of base */
static void fixed(char *out, unsigned long long v, unsigned int base, int width)
{
  while (width-- > 0) { out[width] = "0123456789abcdef"[v % base]; v /= base; }
}

/* the check record's text; the same length whatever the numbers */
static void checktext(char *out, const rc_build *b)
{
  size_t n = sizeof RC_CHECK_HEAD - 1;
  memcpy(out, RC_CHECK_HEAD, n);
  fixed(out + n, b->total, 10, 10); n += 10;
  memcpy(out + n, " bytes=", 7); n += 7;
  fixed(out + n, b->bytes, 10, 10); n += 10;
  memcpy(out + n, " last=", 6); n += 6;
  fixed(out + n, b->last, 10, 10); n += 10;
  memcpy(out + n, " sum=", 5); n += 5;
  fixed(out + n, b->sum, 16, 16);
}

int rc_build_start(rc_build *b, const char *file, int dedupe)
{
  char num[FMT_ULONG], check[RC_CHECK_LEN];
  memset(b, 0, sizeof *b);
  b->file = file;
  b->dedupe = dedupe;
  b->fd = -1;
  if (!stralloc_copys(&b->tmp, file) || !stralloc_cats(&b->tmp, ".tmp.")
      || !stralloc_catb(&b->tmp, num, sdu_fmt_ulong(num, (unsigned long) getpid())) || !stralloc_0(&b->tmp)) {
    errno = ENOMEM; return -1;
  }
  b->fd = open(b->tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (b->fd == -1) return -1;
  if (cdb_make_start(&b->cm, b->fd) == -1) { int e = errno; rc_build_abort(b); errno = e; return -1; }
  /* the check record comes first, where a reader finds it without a lookup;
     its numbers are filled in by rc_build_finish */
  b->sum = RC_FNV_START;
  checktext(check, b);
  if (put(b, RC_CHECK, sizeof RC_CHECK - 1, check, sizeof check) == -1) { int e = errno; rc_build_abort(b); errno = e; return -1; }
  return 0;
}

int rc_build_cover(rc_build *b, const char *dom, size_t len)
{
  return rc_set_add(&b->domains, dom, len) == -1 ? (errno = ENOMEM, -1) : 0;
}

int rc_build_add(rc_build *b, const char *key, size_t klen, const char *val, size_t vlen)
{
  size_t at;
  if (b->dedupe) {
    int r = rc_set_add(&b->keys, key, klen);
    if (r == -1) { errno = ENOMEM; return -1; }
    if (!r) return 0;
  }
  for (at = klen; at > 0 && key[at - 1] != '@'; --at) ;
  if (at && rc_build_cover(b, key + at, klen - at) == -1) return -1;
  if (put(b, key, klen, val, vlen) == -1) return -1;
  ++b->records;
  return 0;
}

int rc_build_me(rc_build *b, const char *name, size_t len, const char **why)
{
  int r = rc_build_canon(&b->work, "x", 1, name, len, why);
  if (r) return r;
  if (!stralloc_copyb(&b->me, b->work.s + 2, b->work.len - 2)) { errno = ENOMEM; return -1; }
  return 0;
}

int rc_build_finish(rc_build *b)
{
  size_t i;
  char check[RC_CHECK_LEN];
  if (b->me.len && put(b, RC_ME, sizeof RC_ME - 1, b->me.s, b->me.len) == -1) return -1;
  for (i = 0; i < b->domains.size; ++i) {
    char *d = b->domains.slot[i];
    size_t l;
    if (!d) continue;
    memcpy(&l, d, sizeof l);
    if (!stralloc_copys(&b->work, RC_MARK) || !stralloc_catb(&b->work, d + sizeof l, l)) { errno = ENOMEM; return -1; }
    if (put(b, b->work.s, b->work.len, "", 0) == -1) return -1;
  }
  /* the last record */
  if (put(b, RC_MARK, 2, RC_MARK_VALUE, sizeof RC_MARK_VALUE - 1) == -1) return -1;
  if (cdb_make_finish(&b->cm) == -1) return -1;
  cm_free(&b->cm);
  /* the check record's data, after its 8-byte head and key */
  checktext(check, b);
  {
    ssize_t w = pwrite(b->fd, check, sizeof check, 2048 + 8 + sizeof RC_CHECK - 1);
    if (w != (ssize_t) sizeof check) { if (w >= 0) errno = EIO; return -1; }
  }
  if (fsync(b->fd) == -1) return -1;
  if (close(b->fd) == -1) { b->fd = -1; return -1; }
  b->fd = -1;
  if (rename(b->tmp.s, b->file) == -1) return -1;
  rc_set_free(&b->keys);
  rc_set_free(&b->domains);
  stralloc_free(&b->tmp);
  stralloc_free(&b->work);
  stralloc_free(&b->me);
  return 0;
}

void rc_build_abort(rc_build *b)
{
  cm_free(&b->cm);
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
  if (b->tmp.s) unlink(b->tmp.s);
  rc_set_free(&b->keys);
  rc_set_free(&b->domains);
  stralloc_free(&b->tmp);
  stralloc_free(&b->work);
  stralloc_free(&b->me);
}

int rc_build_canon(stralloc *out, const char *local, size_t llen, const char *dom, size_t dlen, const char **why)
{
  char buf[SDU_PATH_MAX + 8];
  sdu_path p;
  size_t n = 0;
  if (!local) { local = "x"; llen = 1; }
  if (llen + dlen + 6 > sizeof buf) { *why = "address too long"; return 1; }
  memcpy(buf, "TO:<", 4); n = 4;
  memcpy(buf + n, local, llen); n += llen;
  buf[n++] = '@';
  memcpy(buf + n, dom, dlen); n += dlen;
  buf[n++] = '>';
  if (sdu_smtp_path(buf, n, 0, &p)) {
    /* "5.1.3 local part too long": the words are enough here */
    *why = p.err && p.err[0] >= '0' && p.err[0] <= '9' && p.err[1] == '.' ? p.err + 6 : p.err;
    return 1;
  }
  sdu_addr_lower(p.addr, p.len);
  if (!stralloc_copyb(out, p.addr, p.len)) { errno = ENOMEM; return -1; }
  return 0;
}

static int blank(char c) { return c == ' ' || c == '\t'; }

int rc_build_line(rc_build *b, const char *line, size_t len, const char **why)
{
  size_t i = 0, e, at, v;
  const char *val = "";
  size_t vlen = 0;
  int r;

  while (len && (blank(line[len - 1]) || line[len - 1] == '\r')) --len;
  while (i < len && blank(line[i])) ++i;
  if (i == len || line[i] == '#') return 0;
  for (e = i; e < len && !blank(line[e]); ++e) ;
  for (v = e; v < len && blank(line[v]); ++v) ;
  if (v < len && line[v] != '#') {
    if (line[v] != '-') { *why = "after the address only -text may follow"; return 1; }
    val = line + v; vlen = len - v;
    if (vlen > RC_TEXT_MAX + 1) { *why = "refusal text too long"; return 1; }
    for (at = 0; at < vlen; ++at)
      if ((unsigned char) val[at] < 32 || (unsigned char) val[at] > 126) { *why = "control or 8-bit byte in the text"; return 1; }
  }
  for (at = e; at > i && line[at - 1] != '@'; --at) ;
  if (at == i) {
    /* a bare domain: covered, nothing else */
    if (vlen) { *why = "a domain line takes no text (write @domain -text)"; return 1; }
    r = rc_build_canon(&b->work, 0, 0, line + i, e - i, why);
    if (r) return r;
    return rc_build_cover(b, b->work.s + 2, b->work.len - 2);
  }
  --at; /* the '@' */
  if (at == i) {
    r = rc_build_canon(&b->work, 0, 0, line + at + 1, e - at - 1, why);
    if (r) return r;
    /* "x@domain" to "@domain" */
    return rc_build_add(b, b->work.s + 1, b->work.len - 1, val, vlen);
  }
  r = rc_build_canon(&b->work, line + i, at - i, line + at + 1, e - at - 1, why);
  if (r) return r;
  return rc_build_add(b, b->work.s, b->work.len, val, vlen);
}

static void badline(const char *name, unsigned long n, const char *why)
{
  char num[FMT_ULONG];
  num[sdu_fmt_ulong(num, n)] = 0;
  sdu_warn(name, " line ", num, ": ", why);
}

int rc_build_list(rc_build *b, int fd, const char *name, unsigned long *bad)
{
  static char buf[65536];
  size_t len = 0, pos, start;
  unsigned long n = 0;
  int skipping = 0, eof = 0;

  while (!eof) {
    ssize_t got = read(fd, buf + len, sizeof buf - len);
    if (got < 0) { if (errno == EINTR) continue; return -1; }
    if (got == 0) { eof = 1; if (len && buf[len - 1] != '\n') buf[len++] = '\n'; }
    else len += (size_t) got;
    start = 0;
    for (pos = 0; pos < len; ++pos) {
      const char *why;
      int r;
      if (buf[pos] != '\n') continue;
      ++n;
      if (skipping) { skipping = 0; start = pos + 1; continue; }
      if (memchr(buf + start, 0, pos - start)) { why = "NUL byte"; r = 1; }
      else if (pos - start > RC_LINE_MAX) { why = "line too long"; r = 1; }
      else r = rc_build_line(b, buf + start, pos - start, &why);
      if (r == -1) return -1;
      if (r == 1) { ++*bad; if (*bad <= 100) badline(name, n, why); }
      start = pos + 1;
    }
    if (start == 0 && len == sizeof buf) {
      /* a line longer than the buffer: bad, skipped to its end */
      ++*bad;
      if (*bad <= 100) badline(name, n + 1, "line too long");
      skipping = 1;
      len = 0;
      continue;
    }
    memmove(buf, buf + start, len - start);
    len -= start;
  }
  return 0;
}
