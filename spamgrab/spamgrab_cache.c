/* spamgrab_cache.c: the host cache (known spam hosts, report times) and the per-recipient cap, in LMDB */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <scan.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include "sdu_time.h"
#include "spamgrab_cache.h"

/* root (its cron's -z, a person's -n, -r or -s) opening the state of
   another user (alias): the LMDB files it made there (lock.mdb even for
   a reader, data.mdb on a fresh directory) go to the directory's owner,
   or that user's spamgrab could not open them and every double-bounce
   would be 111 until qmail gives up. Only a plain file of root's with one
   link, opened without following a symbolic link and changed through
   that descriptor: a link to another of root's files, put there by the
   directory's owner, is left alone. errno kept. */
static void giveback(const char *dir)
{
  static const char *const files[] = { "data.mdb", "lock.mdb" };
  struct stat d, f;
  char path[4096];
  unsigned int i;
  int e = errno;
  if (geteuid() != 0 || stat(dir, &d) == -1 || d.st_uid == 0) { errno = e; return; }
  for (i = 0; i < sizeof files / sizeof files[0]; ++i) {
    int fd, n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    if (n < 0 || (size_t) n >= sizeof path) continue;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd == -1) continue;
    if (fstat(fd, &f) == 0 && S_ISREG(f.st_mode) && f.st_uid == 0 && f.st_nlink == 1)
      (void) !fchown(fd, d.st_uid, d.st_gid);
    close(fd);
  }
  errno = e;
}

int sg_cache_open(sg_cache *c, const char *dir, int rdonly)
{
  memset(c, 0, sizeof *c);
  /* No flush per commit: a claim is seen by every other process the moment
     it commits (what keeps reports single while spamgrab runs side by side
     and on qmail-local's retries); only a crash of the machine itself can
     lose the last claims, and the cost is one duplicate report or one
     forgotten host, never mail. The message in the review Maildir is still
     flushed before spamgrab says it is done. */
  if (sdu_state_open(&c->hosts, dir, SG_TABLE_HOSTS, rdonly ? SDU_STATE_RDONLY : SDU_STATE_NOSYNC) == -1) {
    giveback(dir);
    return -1;
  }
  giveback(dir);
  if (sdu_state_open_table(&c->cap, &c->hosts, SG_TABLE_CAP) == -1) {
    memcpy(c->hosts.err, c->cap.err, sizeof c->hosts.err);
    sdu_state_close(&c->hosts);
    return -1;
  }
  c->open = 1;
  return 0;
}

const char *sg_cache_error(const sg_cache *c)
{
  return sdu_state_error(&c->hosts);
}

void sg_cache_close(sg_cache *c)
{
  if (!c->open) return;
  sdu_state_close(&c->cap);
  sdu_state_close(&c->hosts);
  c->open = 0;
}

int sg_host_fmt(char *out, size_t max, const sg_host *h)
{
  /* snprintf: libowfat's fmt_* are declared pure, so their writes may be dropped */
  int n = snprintf(out, max, "%llu %llu %llu %lu %s", h->first, h->last, h->reported, h->seen,
    *h->lists ? h->lists : "-");
  return n < 0 || (size_t) n >= max ? -1 : n;
}

int sg_host_scan(const char *s, size_t len, sg_host *h)
{
  char buf[4 * 24 + SG_CACHE_LISTS + 8];
  size_t i = 0, k;
  unsigned long long *f[3];
  int j;
  if (len >= sizeof buf) return 0;
  memcpy(buf, s, len);
  buf[len] = 0;
  f[0] = &h->first; f[1] = &h->last; f[2] = &h->reported;
  for (j = 0; j < 3; ++j) {
    k = scan_ulonglong(buf + i, f[j]);
    if (!k || buf[i + k] != ' ') return 0;
    i += k + 1;
  }
  k = scan_ulong(buf + i, &h->seen);
  if (!k || buf[i + k] != ' ') return 0;
  i += k + 1;
  if (!strcmp(buf + i, "-")) *h->lists = 0;
  else {
    if (strlen(buf + i) > SG_CACHE_LISTS) return 0;
    strcpy(h->lists, buf + i);
  }
  return 1;
}

static size_t key(char *out, const sdu_ip *ip)
{
  return sdu_ip_fmt(out, ip);
}

int sg_cache_get(sg_cache *c, const sdu_ip *ip, unsigned long long now, sg_host *h,
  unsigned long long *expires)
{
  char k[SDU_IP_FMT];
  stralloc v = { 0 };
  int r = sdu_state_get(&c->hosts, k, key(k, ip), &v, now, expires);
  if (r == 1 && !sg_host_scan(v.s, v.len, h)) r = 0; /* a malformed entry is no entry */
  stralloc_free(&v);
  return r;
}

int sg_cache_put(sg_cache *c, const sdu_ip *ip, const sg_host *h, unsigned long long expires,
  const char *const *rcpt, unsigned int n, unsigned long long now, unsigned long cap, int *ok)
{
  char k[SDU_IP_FMT], v[4 * 24 + SG_CACHE_LISTS + 8];
  sdu_state_op op[SG_CACHE_RCPT_MAX + 1];
  unsigned int i;
  int len = sg_host_fmt(v, sizeof v, h);
  if (len < 0 || n > SG_CACHE_RCPT_MAX) { errno = EINVAL; return -1; }
  memset(op, 0, sizeof op);
  op[0].st = &c->hosts;
  op[0].key = k;
  op[0].klen = key(k, ip);
  op[0].val = v;
  op[0].vlen = (size_t) len;
  op[0].expires = expires;
  for (i = 0; i < n; ++i) {
    op[i + 1].st = &c->cap;
    op[i + 1].incr = 1;
    op[i + 1].key = rcpt[i];
    op[i + 1].klen = strlen(rcpt[i]);
    if (op[i + 1].klen > SDU_STATE_KEY_MAX) op[i + 1].klen = SDU_STATE_KEY_MAX;
    op[i + 1].window = 86400;
  }
  if (sdu_state_batch(op, n + 1, now) == -1) return -1;
  for (i = 0; i < n; ++i) ok[i] = op[i + 1].count <= cap;
  return 0;
}

int sg_cache_restore(sg_cache *c, const sdu_ip *ip, const sg_host *old, unsigned long long expires)
{
  char k[SDU_IP_FMT], v[4 * 24 + SG_CACHE_LISTS + 8];
  int n;
  if (!old) return sdu_state_del(&c->hosts, k, key(k, ip)) == -1 ? -1 : 0;
  n = sg_host_fmt(v, sizeof v, old);
  if (n < 0) { errno = EINVAL; return -1; }
  return sdu_state_put(&c->hosts, k, key(k, ip), v, (size_t) n, expires);
}

typedef struct zonectx { buffer *out; int err, v6; } zonectx;

static int zoneline(void *ctx, const char *k, size_t klen, const char *v, size_t vlen, unsigned long long expires)
{
  zonectx *z = ctx;
  char ipbuf[SDU_IP_FMT];
  sdu_ip ip;
  (void) v; (void) vlen; (void) expires;
  if (klen >= sizeof ipbuf) return 0;
  memcpy(ipbuf, k, klen);
  ipbuf[klen] = 0;
  if (!sdu_ip_parse(&ip, ipbuf) || ip.v6 != z->v6) return 0; /* ip4set takes IPv4 only, ip6trie IPv6 */
  if (buffer_put(z->out, ipbuf, klen) == -1 || buffer_puts(z->out, "\n") == -1) { z->err = errno; return 1; }
  return 0;
}

int sg_cache_zone(sg_cache *c, unsigned long long now, const char *text, int v6, buffer *out)
{
  zonectx z;
  int r;
  z.out = out;
  z.err = 0;
  z.v6 = !!v6;
  if (buffer_puts(out, "# spamgrab: hosts that sent us spam that caused double-bounces\n:127.0.0.2:") == -1 ||
      buffer_puts(out, text) == -1 || buffer_puts(out, "\n") == -1) return -1;
  r = c ? sdu_state_walk(&c->hosts, now, zoneline, &z) : 0;
  if (r == -1) return -1;
  if (z.err) { errno = z.err; return -1; }
  return buffer_flush(out);
}

/* the claim: read the host's entry, decide, and write it back only if
   nobody changed it in between (sdu_state_swap: one transaction in LMDB, a
   script on Redis), else read again: of several processes, or several MX
   hosts sharing one Redis, one claims a due report */
#define CLAIM_TRIES 20

int sg_cache_claim(sg_cache *c, const sdu_ip *ip, unsigned long long now, unsigned long interval,
  unsigned long long expires, int force, int *claimed)
{
  char k[SDU_IP_FMT], buf[4 * 24 + SG_CACHE_LISTS + 8];
  size_t klen = key(k, ip);
  stralloc old = { 0 };
  unsigned long long oldexp = 0;
  sg_host h;
  int i, r = -1, len, found;
  *claimed = 0;
  for (i = 0; i < CLAIM_TRIES; ++i) {
    found = sdu_state_get(&c->hosts, k, klen, &old, now, &oldexp);
    if (found == -1) break;
    memset(&h, 0, sizeof h);
    if (found == 1 && !sg_host_scan(old.s, old.len, &h)) memset(&h, 0, sizeof h); /* malformed: as if absent */
    if (!force && h.reported && now < sdu_later(h.reported, interval)) { r = 0; break; }
    if (!h.first) h.first = now;
    h.reported = now;
    len = sg_host_fmt(buf, sizeof buf, &h);
    if (len < 0) { errno = EINVAL; break; }
    r = sdu_state_swap(&c->hosts, k, klen, old.s, found == 1 ? old.len : 0, oldexp, found != 1,
      buf, (size_t) len, expires, now);
    if (r == -1) break;
    if (r == 1) { *claimed = 1; r = 0; break; }
    r = -1;
  }
  if (i == CLAIM_TRIES) {
    snprintf(c->hosts.err, sizeof c->hosts.err, "host entry changed %d times while claiming it", CLAIM_TRIES);
    errno = EAGAIN;
  }
  stralloc_free(&old);
  return r;
}
