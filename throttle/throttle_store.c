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

/* The triplets of an LMDB store lie in a hash table of their own, not in
   an entry each: among a million triplets an entry of its own cost the
   binary searches of a branch and a leaf page, 6-8 cache lines from memory
   (bench/greylist). The table is n chunks, the entries of the table
   THROTTLE_GREY_TABLE (n is its count of entries, which the transaction
   knows without a page read): chunk c under 4 bytes, c big-endian, a
   value small enough to lie in its leaf, two to a page (an overflow page
   of its own would be one page fault more in a new process): past its
   expiry (0: a cleanup leaves it) GSLOTS slots of 32 bytes: the hash (16
   bytes), the expiry (8; 0 an empty slot), the first sight (8; the top
   bit set once the triplet passed). A triplet's chunk is linear
   hashing's: the hash's first 4 bytes modulo 2^(L+1), or modulo 2^L when
   that is n or more (2^L <= n < 2^(L+1)); its slot the next 4 bytes modulo
   GSLOTS, or the first one after that holds it or is empty (linear
   probing). A lookup reads the chunk's node and the slot's line. A write
   rebuilds the chunk from its live slots (the expired ones go, so that
   probing never runs over dead slots) and, when the chunk it wrote looks
   full enough, splits chunk n - 2^L into itself and chunk n: n grows by
   one, the table with the triplets a chunk at a time (it never shrinks).
   Full enough: GSPLIT slots in use, or half as many in a chunk split
   already at this level (it holds half the hashes an unsplit one holds).
   A million triplets: 33,978 chunks, 29 slots in use on average, the
   fullest 54 of 63 (bench/greylist's fill): a full chunk, which loses the
   slot that expires first, is rare enough. Redis stores keep an entry a
   triplet, 'g' and the hash in the table itself (its value: 'p' pending
   or 'P' passed, then the first sight, 8 bytes), as LMDB stores did before
   2026-12: those are still read when the hash table does not hold the
   triplet. */
#define GSLOT 32
#define GSLOTS THROTTLE_GREY_CHUNK
#define GVAL (GSLOTS * GSLOT) /* 2016: with the expiry and the key, a node of 2036 bytes, two in a leaf */
#define GSPLIT 44
#define GCHUNKS_MAX 0x80000000UL
#define PASSED 0x8000000000000000ULL
#define ENTRY 8            /* the store's expiry before every value */

/* the entries' bytes are read into buffers kept for the process */
static stralloc rbuf, abuf;

/* the network's entry: the count of its passes, 4 bytes, then when the
   last was counted, 8 bytes */
static void awlscan(const char *v, size_t len, int found, unsigned long *count, unsigned long long *last)
{
  *count = 0;
  *last = 0;
  if (found && len == 12) {
    *count = get32(v);
    *last = sdu_state_unpack64((const unsigned char *) v + 4);
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

/* the decision on the triplet t (found: live), and in w what to record,
   if anything (*put) */
static int tripdecide(const throttle_grey *g, int found, const throttle_grey_entry *t,
  unsigned long long now, throttle_grey_entry *w, int *put)
{
  int d;
  *put = 0;
  if (found && t->passed) {
    /* remembered awltime since its last use: the expiry moves on at most
       once per awltime / 35 (a day of 35), so that a known triplet is
       mostly a read */
    if (t->expires && t->expires >= sdu_later(now, g->awltime - g->awltime / 35)) return THROTTLE_GREY_KNOWN;
    d = THROTTLE_GREY_KNOWN;
  }
  else if (!found || t->first > now) d = THROTTLE_GREY_NEW;
  else if (now - t->first < g->delay) return THROTTLE_GREY_EARLY; /* nothing to write */
  else if (now - t->first < g->lifetime) d = THROTTLE_GREY_PASS;
  else d = THROTTLE_GREY_LATE;
  memcpy(w->hash, t->hash, THROTTLE_GREY_HASH);
  if (d == THROTTLE_GREY_NEW || d == THROTTLE_GREY_LATE) {
    /* kept a lifetime past the window, so that a late retry is told from a new triplet */
    w->passed = 0;
    w->first = now;
    w->expires = sdu_later(sdu_later(now, g->lifetime), g->lifetime);
  } else {
    w->passed = 1;
    w->first = t->first;
    w->expires = sdu_later(now, g->awltime);
  }
  *put = 1;
  return d;
}

/* a triplet's own entry ('g'): its key, its value, and back */
static void oldkey(char *k, const unsigned char *hash)
{
  k[0] = K_GREY;
  memcpy(k + 1, hash, THROTTLE_GREY_HASH);
}

static void oldval(char *v, const throttle_grey_entry *e)
{
  v[0] = e->passed ? 'P' : 'p';
  sdu_state_pack64((unsigned char *) v + 1, e->first);
}

/* 1 when v (len bytes, expiring at expires) is a triplet's, in *e */
static int oldscan(const char *v, size_t len, unsigned long long expires, throttle_grey_entry *e)
{
  if (len != 9 || (v[0] != 'p' && v[0] != 'P')) return 0;
  e->passed = v[0] == 'P';
  e->first = sdu_state_unpack64((const unsigned char *) v + 1);
  e->expires = expires;
  return 1;
}

/* the table's chunks, n (1 to GCHUNKS_MAX), in txn */
static int tabsize(MDB_txn *txn, unsigned int gdbi, unsigned long *n)
{
  MDB_stat ms;
  int rc = mdb_stat(txn, gdbi, &ms);
  if (rc) return rc;
  if (ms.ms_entries > GCHUNKS_MAX) return MDB_CORRUPTED;
  *n = ms.ms_entries ? (unsigned long) ms.ms_entries : 1;
  return 0;
}

/* 2^L */
static unsigned long level(unsigned long n)
{
  unsigned long m = 1;
  while (m <= n / 2) m <<= 1;
  return m;
}

static unsigned long chunkof(const unsigned char *hash, unsigned long n)
{
  unsigned long x = get32((const char *) hash), m = level(n);
  x &= 2 * m - 1;
  return x < n ? x : x & (m - 1);
}


/* chunk c's slots in txn, or *slots 0 for a chunk never written */
static int chunkget(MDB_txn *txn, unsigned int dbi, unsigned long c, const unsigned char **slots)
{
  char k[4];
  MDB_val key, d;
  int rc;
  put32(k, c);
  key.mv_size = sizeof k; key.mv_data = k;
  *slots = 0;
  rc = mdb_get(txn, dbi, &key, &d);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  if (d.mv_size != ENTRY + GVAL) return MDB_CORRUPTED;
  *slots = (const unsigned char *) d.mv_data + ENTRY;
  return 0;
}

/* the value (its expiry 0) with chunk c's slots; flags MDB_APPEND for a new last chunk */
static int chunkput(MDB_txn *txn, unsigned int dbi, unsigned long c, unsigned char *val, unsigned int flags)
{
  char k[4];
  MDB_val key, d;
  put32(k, c);
  key.mv_size = sizeof k; key.mv_data = k;
  d.mv_size = ENTRY + GVAL; d.mv_data = val;
  return mdb_put(txn, dbi, &key, &d, flags);
}

static unsigned int slot0(const unsigned char *hash)
{
  return (unsigned int) (get32((const char *) hash + 4) % GSLOTS);
}

/* hash's slot in slots, or -1 */
static int slotfind(const unsigned char *slots, const unsigned char *hash)
{
  unsigned int i = slot0(hash), n;
  for (n = 0; n < GSLOTS; ++n) {
    const unsigned char *s = slots + i * GSLOT;
    if (!sdu_state_unpack64(s + 16)) return -1; /* empty: probing ends */
    if (!memcmp(s, hash, THROTTLE_GREY_HASH)) return (int) i;
    if (++i == GSLOTS) i = 0;
  }
  return -1;
}

static void slotscan(const unsigned char *s, throttle_grey_entry *e)
{
  unsigned long long f = sdu_state_unpack64(s + 24);
  memcpy(e->hash, s, THROTTLE_GREY_HASH);
  e->expires = sdu_state_unpack64(s + 16);
  e->passed = (f & PASSED) != 0;
  e->first = f & ~PASSED;
}

/* e into the first empty slot from its own on: slots has one */
static void slotadd(unsigned char *slots, const unsigned char *hash, unsigned long long expires,
  unsigned long long first)
{
  unsigned int i = slot0(hash);
  while (sdu_state_unpack64(slots + i * GSLOT + 16)) if (++i == GSLOTS) i = 0;
  memcpy(slots + i * GSLOT, hash, THROTTLE_GREY_HASH);
  sdu_state_pack64(slots + i * GSLOT + 16, expires);
  sdu_state_pack64(slots + i * GSLOT + 24, first);
}

static void slotcopy(unsigned char *to, const unsigned char *s)
{
  slotadd(to, s, sdu_state_unpack64(s + 16), sdu_state_unpack64(s + 24));
}

static int slotlive(const unsigned char *s, unsigned long long now)
{
  return now < sdu_state_unpack64(s + 16);
}

/* the triplet hash in txn, in the hash table gdbi (0: none) or else in an
   entry of its own in dbi: *found 1 (and *t) when live */
static int tripfind(MDB_txn *txn, unsigned int dbi, unsigned int gdbi, const unsigned char *hash,
  unsigned long long now, int *found, throttle_grey_entry *t)
{
  char k[1 + THROTTLE_GREY_HASH];
  const unsigned char *slots = 0;
  unsigned long n;
  MDB_val key, d;
  int rc, i;
  *found = 0;
  memcpy(t->hash, hash, THROTTLE_GREY_HASH);
  if (gdbi && ((rc = tabsize(txn, gdbi, &n)) || (rc = chunkget(txn, gdbi, chunkof(hash, n), &slots)))) return rc;
  if (slots && (i = slotfind(slots, hash)) >= 0) {
    slotscan(slots + i * GSLOT, t);
    *found = slotlive(slots + i * GSLOT, now);
    return 0;
  }
  oldkey(k, hash);
  key.mv_size = sizeof k; key.mv_data = k;
  rc = mdb_get(txn, dbi, &key, &d);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  if (d.mv_size < ENTRY) return MDB_CORRUPTED;
  if (oldscan((const char *) d.mv_data + ENTRY, d.mv_size - ENTRY, sdu_state_unpack64(d.mv_data), t))
    *found = !t->expires || now < t->expires;
  return 0;
}

/* split chunk n - 2^L into itself and chunk n (made even when empty: the
   table's entries count its chunks) */
static int split(MDB_txn *txn, unsigned int gdbi, unsigned long n, unsigned long long now)
{
  unsigned char a[ENTRY + GVAL], b[ENTRY + GVAL];
  const unsigned char *slots;
  unsigned long s = n - level(n);
  unsigned int i;
  int rc;
  if ((rc = chunkget(txn, gdbi, s, &slots))) return rc;
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  if (slots)
    for (i = 0; i < GSLOTS; ++i) {
      const unsigned char *sl = slots + i * GSLOT;
      if (slotlive(sl, now)) slotcopy((chunkof(sl, n + 1) == n ? b : a) + ENTRY, sl);
    }
  if ((rc = chunkput(txn, gdbi, s, a, 0))) return rc;
  return chunkput(txn, gdbi, n, b, MDB_APPEND); /* leaves filled, not split in halves */
}

/* record e in its chunk */
static int tripput(MDB_txn *txn, unsigned int gdbi, const throttle_grey_entry *e, unsigned long long now)
{
  unsigned char val[ENTRY + GVAL];
  const unsigned char *slots;
  unsigned long n, c, m;
  unsigned int i, live = 0, drop = GSLOTS;
  unsigned long long least = 0;
  int rc;
  if ((rc = tabsize(txn, gdbi, &n))) return rc;
  c = chunkof(e->hash, n);
  if ((rc = chunkget(txn, gdbi, c, &slots))) return rc;
  memset(val, 0, sizeof val);
  if (slots) {
    /* the live slots but e's; when they fill the chunk, the first to expire goes too */
    for (i = 0; i < GSLOTS; ++i) {
      const unsigned char *s = slots + i * GSLOT;
      if (!slotlive(s, now) || !memcmp(s, e->hash, THROTTLE_GREY_HASH)) continue;
      if (++live == 1 || sdu_state_unpack64(s + 16) < least) { least = sdu_state_unpack64(s + 16); drop = i; }
    }
    if (live < GSLOTS) drop = GSLOTS;
    else --live;
    for (i = 0; i < GSLOTS; ++i) {
      const unsigned char *s = slots + i * GSLOT;
      if (i != drop && slotlive(s, now) && memcmp(s, e->hash, THROTTLE_GREY_HASH)) slotcopy(val + ENTRY, s);
    }
  }
  slotadd(val + ENTRY, e->hash, e->expires, (e->first & ~PASSED) | (e->passed ? PASSED : 0));
  if ((rc = chunkput(txn, gdbi, c, val, 0))) return rc;
  m = level(n);
  ++live;
  if (c < n - m || c >= m) live *= 2; /* split at this level already */
  return live >= GSPLIT && n < GCHUNKS_MAX ? split(txn, gdbi, n, now) : 0;
}

/* what a decision writes, in one transaction */
struct greywrite {
  const throttle_grey_entry *e;
  unsigned int n, gdbi;
  const sdu_state_op *awl;
  unsigned long long now;
};

static int greywrite_fn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct greywrite *w = ctx;
  unsigned int i;
  int rc = 0;
  for (i = 0; i < w->n && !rc; ++i)
    if (w->e[i].expires > w->now) rc = tripput(txn, w->gdbi, &w->e[i], w->now);
  if (!rc && w->awl) {
    unsigned char v[ENTRY + 12];
    MDB_val key, d;
    sdu_state_pack64(v, w->awl->expires);
    memcpy(v + ENTRY, w->awl->val, 12);
    key.mv_size = w->awl->klen; key.mv_data = (void *) w->awl->key;
    d.mv_size = sizeof v; d.mv_data = v;
    rc = mdb_put(txn, dbi, &key, &d, 0);
  }
  return rc;
}

#define OPS 64 /* entries of a Redis batch */

/* greywrite on Redis, a function of its own: its arrays (8 KB) stay off
   the stack of an LMDB store's writes, where they cost page faults */
static int __attribute__((noinline)) greybatch(sdu_state *st, const throttle_grey_entry *e, unsigned int n,
  const sdu_state_op *awl, unsigned long long now)
{
  char k[OPS][1 + THROTTLE_GREY_HASH], v[OPS][9];
  sdu_state_op op[OPS + 1];
  unsigned int i = 0, j, m;
  do {
    for (j = 0; j < OPS && i + j < n; ++j) {
      oldkey(k[j], e[i + j].hash);
      oldval(v[j], &e[i + j]);
      memset(&op[j], 0, sizeof op[j]);
      op[j].st = st; op[j].key = k[j]; op[j].klen = sizeof k[j]; op[j].val = v[j]; op[j].vlen = 9;
      op[j].expires = e[i + j].expires;
    }
    m = j;
    if (awl && i + j == n) op[m++] = *awl;
    if (m && sdu_state_batch(op, m, now) == -1) return -1;
    i += j;
  } while (i < n);
  return 0;
}

/* record the triplets e[0..n) and the network's count awl (unless 0) */
static int greywrite(sdu_state *st, const throttle_grey_entry *e, unsigned int n, const sdu_state_op *awl,
  unsigned long long now)
{
  struct greywrite w;
  if (sdu_state_shared(st)) return greybatch(st, e, n, awl, now);
  w.e = e; w.n = n; w.awl = awl; w.now = now; w.gdbi = 0;
  if (n && sdu_state_sub(st, THROTTLE_GREY_TABLE, &w.gdbi) == -1) return -1;
  return sdu_state_txn(st, greywrite_fn, &w);
}

/* the network's entry (unless ak is 0) and the triplet's, read in one go */
struct greyread {
  const char *ak;
  size_t akn;
  unsigned int gdbi;
  const unsigned char *hash;
  unsigned long long now;
  int afound, found;
  char av[12];
  throttle_grey_entry t;
};

static int greyread_fn(void *ctx, MDB_txn *txn, unsigned int dbi)
{
  struct greyread *r = ctx;
  MDB_val key, d;
  int rc;
  r->afound = 0;
  if (r->ak) {
    key.mv_size = r->akn; key.mv_data = (void *) r->ak;
    rc = mdb_get(txn, dbi, &key, &d);
    if (rc && rc != MDB_NOTFOUND) return rc;
    /* live as the store says: expiry 0 is never */
    if (!rc && d.mv_size == ENTRY + 12 && (!sdu_state_unpack64(d.mv_data) || r->now < sdu_state_unpack64(d.mv_data))) {
      memcpy(r->av, (const char *) d.mv_data + ENTRY, 12);
      r->afound = 1;
    }
  }
  return tripfind(txn, dbi, r->gdbi, r->hash, r->now, &r->found, &r->t);
}

static int greyread(sdu_state *st, struct greyread *r)
{
  char kg[1 + THROTTLE_GREY_HASH];
  sdu_state_read rd[2];
  unsigned int n = 0;
  if (!sdu_state_shared(st)) {
    r->gdbi = 0;
    if (sdu_state_sub(st, THROTTLE_GREY_TABLE, &r->gdbi) == -1) return -1;
    return sdu_state_view(st, greyread_fn, r);
  }
  memset(rd, 0, sizeof rd);
  if (r->ak) { rd[0].key = r->ak; rd[0].klen = r->akn; rd[0].val = &abuf; ++n; }
  oldkey(kg, r->hash);
  rd[n].key = kg; rd[n].klen = sizeof kg; rd[n].val = &rbuf;
  if (sdu_state_getn(st, rd, n + 1, r->now) == -1) return -1;
  r->afound = r->ak && rd[0].found && abuf.len == 12;
  if (r->afound) memcpy(r->av, abuf.s, 12);
  memcpy(r->t.hash, r->hash, THROTTLE_GREY_HASH);
  r->found = rd[n].found && oldscan(rbuf.s, rbuf.len, rd[n].expires, &r->t);
  return 0;
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
  awlscan(abuf.s, abuf.len, r, &count, &last);
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
  awlscan(abuf.s, abuf.len, r, &count, &last);
  if (!awlcount(st, g, k, n, count, last, now, v, &op)) return 0;
  return sdu_state_batch(&op, 1, now);
}

/* the decision on hash, with the network's count unless net is 0 */
static int decide(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  const unsigned char *hash, int count, unsigned long long now)
{
  char ka[KEYMAX], va[12];
  struct greyread r;
  throttle_grey_entry w;
  sdu_state_op op;
  unsigned long passes;
  unsigned long long last;
  int d, put = 0, awl = 0;
  r.ak = net ? ka : 0;
  r.akn = net ? mkkey(ka, K_AWL, net, nlen, 0, 0) : 0;
  r.hash = hash; r.now = now;
  if (greyread(st, &r) == -1) return -1;
  awlscan(r.av, 12, r.afound, &passes, &last);
  if (net && g->awlcount && passes >= g->awlcount) d = THROTTLE_GREY_AUTO;
  else d = tripdecide(g, r.found, &r.t, now, &w, &put);
  if (net && count && !THROTTLE_GREY_REFUSES(d) && awlcount(st, g, ka, r.akn, passes, last, now, va, &op)) awl = 1;
  if ((put || awl) && greywrite(st, &w, (unsigned int) put, awl ? &op : 0, now) == -1) return -1;
  return d;
}

int throttle_grey_check(sdu_state *st, const throttle_grey *g, const unsigned char *hash,
  unsigned long long now)
{
  return decide(st, g, 0, 0, hash, 0, now);
}

int throttle_grey_decide(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  const unsigned char *hash, int count, unsigned long long now)
{
  return decide(st, g, net, nlen, hash, count, now);
}

int throttle_grey_put(sdu_state *st, const throttle_grey_entry *e, unsigned int n, unsigned long long now)
{
  return n ? greywrite(st, e, n, 0, now) : 0;
}

int throttle_grey_unpack(const char *key, size_t klen, const char *val, size_t vlen, unsigned long long now,
  throttle_grey_entry *out)
{
  const unsigned char *slots = (const unsigned char *) val;
  unsigned int i;
  int n = 0;
  (void) key;
  if (klen != 4 || vlen != GVAL) return -1;
  for (i = 0; i < GSLOTS; ++i)
    if (slotlive(slots + i * GSLOT, now)) slotscan(slots + i * GSLOT, &out[n++]);
  return n;
}
