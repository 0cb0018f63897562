/* throttle_store.c: throttle's counters, slots and lists in the state store */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <lmdb.h>
#include "sdu_addr.h"
#include "sdu_time.h"
#include "throttle_store.h"

#define KEYMAX (1 + THROTTLE_CKEY_MAX + THROTTLE_SENDER_KEY + 1)

/* what byte 0 of a key says */
#define K_RATE 'r'
#define K_CONC 'c'
#define K_SENDER 's'
#define K_BOUNCE 'b' /* held once over the limit ('h', a hold of its own, before 2026-12) */

static size_t mkkey(char *k, char kind, const char *a, size_t alen, const char *b, size_t blen)
{
  k[0] = kind;
  memcpy(k + 1, a, alen);
  if (blen) memcpy(k + 1 + alen, b, blen);
  return 1 + alen + blen;
}

int throttle_rate_hit(sdu_state *st, const char *ckey, size_t cklen,
  unsigned long long now, const throttle_rate *r, unsigned long *count)
{
  char k[KEYMAX];
  size_t n = mkkey(k, K_RATE, ckey, cklen, 0, 0);
  if (sdu_state_incr(st, k, n, now, r->window, count) == -1) return -1;
  return *count > r->count;
}

int throttle_alive(unsigned long pid)
{
  if (!pid || pid > 0x7fffffffUL) return 0;
  return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}

/* The slots are read and written here with LMDB itself, in one write
   transaction (the common store has no prefix scan), in the store's own
   entry format: an 8-byte big-endian expiry, then the caller's bytes (none
   here), so that sdu_state_cleanup and sdu_state_get treat them as theirs. */
/* the client's slots: count the live ones, delete the others, add pid's
   unless limit are taken; an LMDB code */
static int conc_in(MDB_txn *txn, unsigned int dbi, const char *ckey, size_t cklen,
  unsigned long pid, unsigned long limit, unsigned long long now, unsigned long ttl,
  int (*alive)(unsigned long pid), unsigned long *count, int *over)
{
  char k[KEYMAX];
  unsigned char exp[8];
  size_t plen = mkkey(k, K_CONC, ckey, cklen, 0, 0);
  MDB_cursor *c;
  MDB_val key, val;
  unsigned long live = 0;
  int rc = mdb_cursor_open(txn, dbi, &c);
  if (rc) return rc;
  key.mv_data = k;
  key.mv_size = plen;
  for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); !rc;
       rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    const unsigned char *kp = key.mv_data;
    unsigned long p;
    if (key.mv_size < plen || memcmp(kp, k, plen)) break;
    if (key.mv_size != plen + 4) continue; /* another client's longer key */
    p = ((unsigned long) kp[plen] << 24) | ((unsigned long) kp[plen + 1] << 16)
      | ((unsigned long) kp[plen + 2] << 8) | kp[plen + 3];
    if (p != pid && val.mv_size >= 8 && now < sdu_state_unpack64(val.mv_data) && alive(p)) { ++live; continue; }
    rc = mdb_cursor_del(c, 0);
    if (rc) break;
  }
  mdb_cursor_close(c);
  if (rc && rc != MDB_NOTFOUND) return rc;
  *over = live >= limit;
  if (!*over) {
    k[plen] = (char) (pid >> 24); k[plen + 1] = (char) (pid >> 16);
    k[plen + 2] = (char) (pid >> 8); k[plen + 3] = (char) pid;
    key.mv_data = k;
    key.mv_size = plen + 4;
    sdu_state_pack64(exp, now + ttl);
    val.mv_data = exp;
    val.mv_size = sizeof exp;
    rc = mdb_put(txn, dbi, &key, &val, 0);
    if (rc) return rc;
    ++live;
  }
  *count = *over ? live + 1 : live;
  return 0;
}

/* what throttle_conn_enter hands to the transaction and gets back */
struct enter {
  const char *ckey; size_t cklen;
  unsigned long long now;
  const throttle_rate *rate;
  unsigned long pid, ttl;
  const unsigned long *limit;
  int (*alive)(unsigned long pid);
  int always;
  unsigned long conn, conc;
  int result;
};

static int enter_in(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct enter *e = ctx;
  char k[KEYMAX];
  int rc, over;
  e->result = 0; e->conn = e->conc = 0;
  if (e->rate) {
    size_t n = mkkey(k, K_RATE, e->ckey, e->cklen, 0, 0);
    rc = sdu_state_txn_incr(txn, dbi, k, n, e->now, e->rate->window, &e->conn);
    if (rc) return rc;
    if (e->conn > e->rate->count) {
      e->result |= THROTTLE_OVER_RATE;
      if (!e->always) return 0;
    }
  }
  if (e->limit) {
    rc = conc_in(txn, dbi, e->ckey, e->cklen, e->pid, *e->limit, e->now, e->ttl, e->alive, &e->conc, &over);
    if (rc) return rc;
    if (over) e->result |= THROTTLE_OVER_CONC;
  }
  return 0;
}

int throttle_conn_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long long now,
  const throttle_rate *rate, unsigned long pid, const unsigned long *limit, unsigned long ttl,
  int (*alive)(unsigned long pid), int always, unsigned long *conn, unsigned long *conc)
{
  struct enter e;
  unsigned long n = 0;
  int over = 0;
  /* a store shared by several hosts counts the rate there, and the slots,
     which are this host's processes, in this host's own table */
  if (sdu_state_shared(st) && rate) {
    over = throttle_rate_hit(st, ckey, cklen, now, rate, &n);
    if (over == -1) return -1;
    if ((over && !always) || !limit) { *conn = n; *conc = 0; return over ? THROTTLE_OVER_RATE : 0; }
    rate = 0;
  }
  e.ckey = ckey; e.cklen = cklen; e.now = now; e.rate = rate;
  e.pid = pid; e.limit = limit; e.ttl = ttl; e.alive = alive; e.always = always;
  if (sdu_state_txn(st, enter_in, &e) == -1) return -1;
  *conn = e.conn + n;
  *conc = e.conc;
  return e.result | (over ? THROTTLE_OVER_RATE : 0);
}

int throttle_conc_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long pid,
  unsigned long limit, unsigned long long now, unsigned long ttl,
  int (*alive)(unsigned long pid), unsigned long *count)
{
  unsigned long conn;
  int r;
  r = throttle_conn_enter(st, ckey, cklen, now, 0, pid, &limit, ttl, alive, 0, &conn, count);
  return r == -1 ? -1 : (r & THROTTLE_OVER_CONC) != 0;
}

static size_t pairkey(char *k, const char *ckey, size_t cklen, const char *skey, size_t sklen)
{
  if (sklen > THROTTLE_SENDER_KEY) sklen = THROTTLE_SENDER_KEY;
  return mkkey(k, K_SENDER, ckey, cklen, skey, sklen);
}

int throttle_bl_check(sdu_state *st, const char *ckey, size_t cklen,
  const char *skey, size_t sklen, unsigned long long now)
{
  char k[KEYMAX];
  return sdu_state_get(st, k, pairkey(k, ckey, cklen, skey, sklen), 0, now, 0);
}

int throttle_bl_add(sdu_state *st, const char *ckey, size_t cklen,
  const char *skey, size_t sklen, unsigned long long expires)
{
  char k[KEYMAX];
  return sdu_state_put(st, k, pairkey(k, ckey, cklen, skey, sklen), "", 0, expires);
}

/* one counter per recipient, held once over the limit: one write, one
   round trip to Redis */
int throttle_bounce(sdu_state *st, const char *rcpt, size_t len,
  unsigned long long now, const throttle_rate *limit, unsigned long hold)
{
  char k[KEYMAX];
  sdu_state_op op;
  if (len > SDU_ADDR_MAX) len = SDU_ADDR_MAX;
  memset(&op, 0, sizeof op);
  op.st = st;
  op.incr = 1;
  op.key = k;
  op.klen = mkkey(k, K_BOUNCE, rcpt, len, 0, 0);
  op.window = limit->window;
  op.limit = limit->count;
  op.hold = hold;
  if (sdu_state_batch(&op, 1, now) == -1) return -1;
  return op.count > limit->count;
}

/* greylisting */
#define K_GREY 'g'
#define K_AWL 'a'

const char *throttle_grey_name(int d)
{
  static const char *const n[] = { "new", "early", "late", "pass", "known", "auto" };
  return d >= 0 && d <= THROTTLE_GREY_AUTO ? n[d] : "?";
}

size_t throttle_grey_net(char *out, const sdu_ip *ip)
{
  size_t n = ip->v6 ? 8 : 3;
  out[0] = ip->v6 ? '6' : '4';
  memcpy(out + 1, ip->a, n);
  return n + 1;
}

static void fnv(unsigned long long *h, const void *p, size_t len)
{
  const unsigned char *c = p;
  size_t i;
  for (i = 0; i < len; ++i) {
    h[0] = (h[0] ^ c[i]) * 0x100000001b3ULL;
    h[1] = (h[1] ^ c[i]) * 0x100000001b3ULL;
  }
}

/* the two lanes' last mix into 16 bytes, so that every output bit depends
   on every input byte */
static void fnvout(unsigned char *out, const unsigned long long *h)
{
  int i, j;
  for (i = 0; i < 2; ++i) {
    unsigned long long x = h[i] ^ (h[1 - i] >> 29);
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    for (j = 0; j < 8; ++j) out[i * 8 + j] = (unsigned char) (x >> (56 - 8 * j));
  }
}

void throttle_grey_triplet(unsigned char *out, const char *net, size_t nlen,
  const char *sender, size_t slen, const char *rcpt, size_t rlen)
{
  unsigned long long h[2] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };
  unsigned char len[2];
  /* each part behind its length, so that no two triplets read alike */
  len[0] = (unsigned char) nlen; fnv(h, len, 1); fnv(h, net, nlen);
  len[0] = (unsigned char) (slen >> 8); len[1] = (unsigned char) slen; fnv(h, len, 2); fnv(h, sender, slen);
  len[0] = (unsigned char) (rlen >> 8); len[1] = (unsigned char) rlen; fnv(h, len, 2); fnv(h, rcpt, rlen);
  fnvout(out, h);
}

/* the hash as a triplet's, not keyed: a sender crafted to share another's
   key must come from the same client and begin with the same SDU_ADDR_MAX
   bytes */
size_t throttle_sender_key(char *out, const char *sender, size_t slen)
{
  unsigned long long h[2] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };
  if (slen <= SDU_ADDR_MAX) { memcpy(out, sender, slen); return slen; }
  memcpy(out, sender, SDU_ADDR_MAX);
  fnv(h, sender, slen);
  fnvout((unsigned char *) out + SDU_ADDR_MAX, h);
  return THROTTLE_SENDER_KEY;
}

void throttle_grey_hex(char *out, const unsigned char *hash)
{
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 0; i < THROTTLE_GREY_HASH; ++i) {
    out[2 * i] = hex[hash[i] >> 4];
    out[2 * i + 1] = hex[hash[i] & 15];
  }
  out[2 * THROTTLE_GREY_HASH] = 0;
}

static unsigned long get32(const char *p)
{
  const unsigned char *u = (const unsigned char *) p;
  return ((unsigned long) u[0] << 24) | ((unsigned long) u[1] << 16) | ((unsigned long) u[2] << 8) | u[3];
}

static void put32(char *p, unsigned long v)
{
  p[0] = (char) (v >> 24); p[1] = (char) (v >> 16); p[2] = (char) (v >> 8); p[3] = (char) v;
}

/* the entries' bytes are read into buffers kept for the process */
static stralloc rbuf, abuf;

/* the network's entry: the count of its passes, 4 bytes, then when the
   last was counted, 8 bytes */
static void awlscan(const stralloc *v, int found, unsigned long *count, unsigned long long *last)
{
  *count = 0;
  *last = 0;
  if (found && v->len == 12) {
    *count = get32(v->s);
    *last = sdu_state_unpack64((const unsigned char *) v->s + 4);
  }
}

/* the network's count, one pass more, in op (with its bytes in v): 0 when
   one was counted less than delay ago: a burst of mail is one pass, and a
   busy network costs a write every few minutes, not one per message */
static int awlcount(sdu_state *st, const throttle_grey *g, const char *k, size_t kn, unsigned long count,
  unsigned long long last, unsigned long long now, char *v, sdu_state_op *op)
{
  if (count && last <= now && now - last < g->delay) return 0;
  if (count < 0xffffffffUL) ++count;
  put32(v, count);
  sdu_state_pack64((unsigned char *) v + 4, now);
  memset(op, 0, sizeof *op);
  op->st = st; op->key = k; op->klen = kn; op->val = v; op->vlen = 12; op->expires = sdu_later(now, g->awltime);
  return 1;
}

/* the triplet's entry, 'p' (pending) or 'P' (passed), then the first
   sight, 8 bytes: the decision, and in op (its bytes in v) what to write,
   if anything (*put) */
static int tripdecide(sdu_state *st, const throttle_grey *g, const char *k, const stralloc *val,
  int found, unsigned long long expires, unsigned long long now, char *v, sdu_state_op *op, int *put)
{
  unsigned long long first = 0;
  char state = 0;
  int d;
  *put = 0;
  if (found && val->len == 9) {
    state = val->s[0];
    first = sdu_state_unpack64((const unsigned char *) val->s + 1);
  }
  if (state == 'P') {
    /* remembered awltime since its last use: the expiry moves on at most
       once per awltime / 35 (a day of 35), so that a known triplet is
       mostly a read */
    if (expires && expires >= sdu_later(now, g->awltime - g->awltime / 35)) return THROTTLE_GREY_KNOWN;
    d = THROTTLE_GREY_KNOWN;
  }
  else if (state != 'p' || first > now) d = THROTTLE_GREY_NEW;
  else if (now - first < g->delay) return THROTTLE_GREY_EARLY; /* nothing to write */
  else if (now - first < g->lifetime) d = THROTTLE_GREY_PASS;
  else d = THROTTLE_GREY_LATE;
  memset(op, 0, sizeof *op);
  op->st = st; op->key = k; op->klen = 1 + THROTTLE_GREY_HASH; op->val = v; op->vlen = 9;
  if (d == THROTTLE_GREY_NEW || d == THROTTLE_GREY_LATE) {
    /* kept a lifetime past the window, so that a late retry is told from a new triplet */
    v[0] = 'p';
    sdu_state_pack64((unsigned char *) v + 1, now);
    op->expires = sdu_later(sdu_later(now, g->lifetime), g->lifetime);
  } else {
    v[0] = 'P';
    sdu_state_pack64((unsigned char *) v + 1, first);
    op->expires = sdu_later(now, g->awltime);
  }
  *put = 1;
  return d;
}

int throttle_grey_auto(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  unsigned long long now)
{
  char k[KEYMAX];
  unsigned long count;
  unsigned long long last;
  int r;
  if (!g->awlcount) return 0;
  r = sdu_state_get(st, k, mkkey(k, K_AWL, net, nlen, 0, 0), &abuf, now, 0);
  if (r == -1) return -1;
  awlscan(&abuf, r, &count, &last);
  return count >= g->awlcount;
}

int throttle_grey_count(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  unsigned long long now)
{
  char k[KEYMAX], v[12];
  size_t n = mkkey(k, K_AWL, net, nlen, 0, 0);
  unsigned long count;
  unsigned long long last;
  sdu_state_op op;
  int r = sdu_state_get(st, k, n, &abuf, now, 0);
  if (r == -1) return -1;
  awlscan(&abuf, r, &count, &last);
  if (!awlcount(st, g, k, n, count, last, now, v, &op)) return 0;
  return sdu_state_batch(&op, 1, now);
}

int throttle_grey_check(sdu_state *st, const throttle_grey *g, const unsigned char *hash,
  unsigned long long now)
{
  char k[1 + THROTTLE_GREY_HASH], v[9];
  unsigned long long expires = 0;
  sdu_state_op op;
  int r, d, put;
  k[0] = K_GREY;
  memcpy(k + 1, hash, THROTTLE_GREY_HASH);
  r = sdu_state_get(st, k, sizeof k, &rbuf, now, &expires);
  if (r == -1) return -1;
  d = tripdecide(st, g, k, &rbuf, r, expires, now, v, &op, &put);
  if (put && sdu_state_batch(&op, 1, now) == -1) return -1;
  return d;
}

int throttle_grey_decide(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  const unsigned char *hash, int count, unsigned long long now)
{
  char ka[KEYMAX], kg[1 + THROTTLE_GREY_HASH], va[12], vg[9];
  sdu_state_read rd[2];
  sdu_state_op op[2];
  unsigned long passes;
  unsigned long long last;
  unsigned int n = 0;
  int d, put;
  memset(rd, 0, sizeof rd);
  rd[0].key = ka; rd[0].klen = mkkey(ka, K_AWL, net, nlen, 0, 0); rd[0].val = &abuf;
  kg[0] = K_GREY;
  memcpy(kg + 1, hash, THROTTLE_GREY_HASH);
  rd[1].key = kg; rd[1].klen = sizeof kg; rd[1].val = &rbuf;
  if (sdu_state_getn(st, rd, 2, now) == -1) return -1;
  awlscan(&abuf, rd[0].found, &passes, &last);
  if (g->awlcount && passes >= g->awlcount) d = THROTTLE_GREY_AUTO;
  else {
    d = tripdecide(st, g, kg, &rbuf, rd[1].found, rd[1].expires, now, vg, &op[0], &put);
    if (put) ++n;
  }
  if (count && !THROTTLE_GREY_REFUSES(d) && awlcount(st, g, ka, rd[0].klen, passes, last, now, va, &op[n])) ++n;
  if (n && sdu_state_batch(op, n, now) == -1) return -1;
  return d;
}
