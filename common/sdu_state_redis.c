/* sdu_state_redis.c: the state store on a Redis server, through hiredis.
   Entries are stored as LMDB stores them (an 8-byte big-endian expiry, then
   the bytes; a counter's bytes an 8-byte count) under "table:key", so that
   every read judges expiry by the caller's clock as the LMDB store does;
   each key also carries a Redis expiry (PX) a little past its own, so that
   the server forgets it by itself. Every change of more than one command is
   a Lua script (atomic on the server), sent by its SHA-1 (EVALSHA) and as
   text (EVAL) only when the server does not know it yet. Every call is one
   round trip under a deadline on a non-blocking socket: a server that is
   down, slow, full or read-only, or answers garbage, fails the call, and
   the connection is not used again by this process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "sdu_env.h"
#include "sdu_time.h"
#include "sdu_state_redis.h"

#define HDR 8
#define TIMEOUT_MS 50          /* default deadline of one round trip */
#define TIMEOUT_MAX_MS 600000  /* longest: a server slower than that is down */
#define FLOOR_MS 60000         /* Redis expiry of an entry already expired by the server's clock */
#define SLACK_MS 1000          /* Redis expiry past the entry's own */
#define TTL_MAX (10ULL * 366 * 86400) /* longest Redis expiry, seconds */
#define SCAN_COUNT 1000
#define WALK_MAX 4000000       /* keys a walk or a cleanup looks at */
/* SCAN calls of one walk or cleanup: a real server's call looks at a
   SCAN_COUNT keys at least (or ten times as many empty buckets), so this
   is a database of about 10^8 keys; a server whose cursor never comes
   back to 0, answering no key, would otherwise keep the walk for ever */
#define SCAN_ROUNDS_MAX 100000
#define PASS_MAX 512
/* bytes one call takes from the server: what its answer can be, so that
   an endless one (a bulk of a gigabyte, an array of a hundred million
   integers, each a reply object) stops there: a few integers; a read of
   n entries; a walk's MGET of SCAN_COUNT keys */
#define SMALL_REPLY 4096
#define READ_REPLY(n) ((size_t) (n) * (SDU_STATE_VAL_MAX + HDR + 32) + 1024)
#define BATCH_REPLY(n) ((size_t) (n) * 32 + 1024)
#define RKEY_MAX (SDU_STATE_NAME_MAX + 2 + SDU_STATE_KEY_MAX) /* "table:key" */
/* elements of an array in one answer: what the call asked for (a SCAN of
   SCAN_COUNT may bring a few more keys), checked at the array's length,
   before hiredis makes room for them and a reply object for each (as many
   as a few bytes each can make within the limits above: a gigabyte) */
#define SCAN_KEYS_MAX (16 * SCAN_COUNT)
#define WALK_REPLY_MAX ((size_t) SCAN_COUNT * (SDU_STATE_VAL_MAX + 64 + 2 * RKEY_MAX))

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
typedef size_t nelem_t;
#else
typedef int nelem_t;
#endif

struct sdu_redis {
  redisContext *c;
  redisReplyObjectFunctions fn; /* hiredis's, with createArray through ours */
  void *(*mkarray)(const redisReadTask *task, nelem_t n); /* hiredis's own */
  size_t maxel;          /* elements an array of the answer may have */
  long long toomany;     /* an array longer than maxel: its length, or -1 */
  unsigned int refs;
  unsigned int setup;    /* replies to AUTH and SELECT not read yet */
  int dead;
  unsigned long timeout; /* ms */
  pid_t pid;
  char name[240];
  char local[256];       /* this host's LMDB directory, for sdu_state_txn */
};

/* the scripts; their SHA-1 as SCRIPT LOAD gives it (t_state checks them) */
#define LT "local function lt(a,b) for i=1,8 do local x,y=string.byte(a,i),string.byte(b,i) " \
  "if x~=y then return x<y end end return false end local z=string.rep('\\0',8) "
enum { S_BATCH, S_SWAP, S_CLEAN, S_N };
static const char *const scripts[S_N] = {
  /* KEYS: the keys; ARGV[1] now; then per key: 'i' or 'p', the value (for an
     incr the window's end, and with a hold its end and the limit), the Redis
     expiry in ms (0 none; a hold's "window:hold"). A live counter of the
     wrong size fails the whole batch before anything is written (an
     expired one is absent, as in LMDB). */
  LT "local function enc(n) local t={} for i=8,1,-1 do t[i]=string.char(n%256) n=math.floor(n/256) end "
  "return table.concat(t) end "
  "local function dec(s,a) local n=0 for i=a,a+7 do n=n*256+string.byte(s,i) end return n end "
  "local now=ARGV[1] "
  "for i=1,#KEYS do if ARGV[3*i-1]=='i' then local v=redis.call('GET',KEYS[i]) "
  "if v and #v~=16 and (#v<8 or string.sub(v,1,8)==z or lt(now,string.sub(v,1,8))) then "
  "return redis.error_reply('NOTCOUNTER entry is not a counter') end end end "
  "local out={} "
  "for i=1,#KEYS do local k,v,t=KEYS[i],ARGV[3*i],ARGV[3*i+1] "
  "if ARGV[3*i-1]=='i' then local o=redis.call('GET',k) local e=o and string.sub(o,1,8) local n,px "
  "if o and e~=z and lt(now,e) then n=dec(o,9)+1 else n=1 e=string.sub(v,1,8) px=tonumber(string.match(t,'^%d+')) end "
  "if #v==24 and n==dec(v,17)+1 and lt(e,string.sub(v,9,16)) then e=string.sub(v,9,16) px=tonumber(string.match(t,':(%d+)')) end "
  "if not px then redis.call('SET',k,e..enc(n),'KEEPTTL') elseif px>0 then redis.call('SET',k,e..enc(n),'PX',px) "
  "else redis.call('SET',k,e..enc(n)) end out[i]=n "
  "else local ttl=tonumber(t) if ttl>0 then redis.call('SET',k,v,'PX',ttl) else redis.call('SET',k,v) end out[i]=0 end end "
  "return out",
  /* KEYS[1]; ARGV: now, 'a' (expect absent) or 'v' (expect ARGV[3]), the
     old entry, the new entry, its Redis expiry: 1 swapped, 0 not */
  LT "local o=redis.call('GET',KEYS[1]) "
  "local live=o and #o>=8 and (string.sub(o,1,8)==z or lt(ARGV[1],string.sub(o,1,8))) "
  "if ARGV[2]=='a' then if live then return 0 end elseif not live or o~=ARGV[3] then return 0 end "
  "local ttl=tonumber(ARGV[5]) "
  "if ttl>0 then redis.call('SET',KEYS[1],ARGV[4],'PX',ttl) else redis.call('SET',KEYS[1],ARGV[4]) end "
  "return 1",
  /* KEYS: keys; ARGV[1] now: delete the expired and malformed ones */
  LT "local n=0 for i=1,#KEYS do local o=redis.call('GET',KEYS[i]) "
  "if o and (#o<8 or (string.sub(o,1,8)~=z and not lt(ARGV[1],string.sub(o,1,8)))) then "
  "redis.call('DEL',KEYS[i]) n=n+1 end end return n",
};
static const char *const shas[S_N] = {
  "22365129965dc75910003747351bc242e5329526",
  "32940bb176083789d6bfe78780ba5cbda885429c",
  "3acc2748fef1ce9c7ff60feec38000155f8dfe23",
};

const char *sdu_redis_script(int which, const char **sha)
{
  if (which < 0 || which >= S_N) return 0;
  *sha = shas[which];
  return scripts[which];
}

int sdu_redis_is(const char *name)
{
  return !strncmp(name, "redis://", 8) || !strncmp(name, "unix:", 5);
}

static int failmsg(sdu_state *st, int e, const char *what, const char *why)
{
  snprintf(st->err, sizeof st->err, "unable to %.16s %.320s: %.160s", what, st->where, why);
  errno = e;
  return -1;
}

/* the connection is out of step or gone: not used again by this process */
static int lost(sdu_state *st, int e, const char *what, const char *why)
{
  if (st->rd) st->rd->dead = 1;
  return failmsg(st, e, what, why);
}

/* the server's words in our log line: printable, cut (a newline in an
   error reply would start a forged line) */
static void printable(char *out, size_t outlen, const char *s, size_t len)
{
  size_t i;
  if (len >= outlen) len = outlen - 1;
  for (i = 0; i < len; ++i) out[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
  out[len] = 0;
}

/* an error reply: the connection is still good */
static int refused(sdu_state *st, const char *what, const redisReply *r)
{
  char why[200], text[161];
  int e = EIO;
  if (!strncmp(r->str, "OOM", 3)) e = ENOSPC;
  else if (!strncmp(r->str, "READONLY", 8)) e = EROFS;
  else if (!strncmp(r->str, "NOTCOUNTER", 10)) {
    snprintf(st->err, sizeof st->err, "entry is not a counter: %.320s", st->where);
    errno = EPROTO;
    return -1;
  }
  printable(text, sizeof text, r->str, r->len);
  snprintf(why, sizeof why, "server says: %s", text);
  return failmsg(st, e, what, why);
}

static int waitfd(int fd, short ev, unsigned long long end)
{
  struct pollfd p;
  for (;;) {
    unsigned long long now = sdu_ms();
    int r;
    if (now >= end) return 0;
    p.fd = fd; p.events = ev; p.revents = 0;
    /* at most INT_MAX ms a poll (the loop waits the rest): a longer wait
       cast to int would be negative (for ever) or a wrapped short one */
    r = poll(&p, 1, end - now > INT_MAX ? INT_MAX : (int) (end - now));
    if (r == -1 && errno == EINTR) continue;
    return r;
  }
}

/* hiredis's createArray, refused past maxel (hiredis then says "Out of memory") */
static void *limitarray(const redisReadTask *task, nelem_t n)
{
  struct sdu_redis *r = task->privdata;
  if ((size_t) n > r->maxel) { r->toomany = (long long) n; return 0; }
  return r->mkarray(task, n);
}

static void freeall(redisReply **rep, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; ++i) if (rep[i]) { freeReplyObject(rep[i]); rep[i] = 0; }
}

/* send what is appended, read n replies (after those of AUTH and SELECT)
   of at most max bytes and no array longer than maxel, all before end
   (the caller's deadline, sdu_ms()): 0, or -1 with the connection given up */
static int rt(sdu_state *st, const char *what, unsigned int n, redisReply **rep, size_t max, size_t maxel,
  unsigned long long end)
{
  struct sdu_redis *r = st->rd;
  unsigned int got = 0, i;
  size_t taken = 0;
  int done = 0, w;
  char why[200];
  for (i = 0; i < n; ++i) rep[i] = 0;
  r->maxel = maxel;
  r->toomany = -1;
  if (r->dead) return failmsg(st, EIO, what, "connection failed earlier");
  if (r->pid != getpid()) return lost(st, EIO, what, "connection of another process");
  /* bytes before our question: a reply to nothing, or the server gone
     (EOF): what we read next would not answer us */
  if (r->c->reader->pos < r->c->reader->len) return lost(st, EPROTO, what, "answer out of step");
  if (!r->setup) {
    struct pollfd p;
    p.fd = r->c->fd; p.events = POLLIN; p.revents = 0;
    if (poll(&p, 1, 0) == 1) return lost(st, ECONNRESET, what, "connection closed or out of step");
  }
  while (!done) {
    if (redisBufferWrite(r->c, &done) == REDIS_ERR) return lost(st, EIO, what, r->c->errstr);
    if (done) break;
    w = waitfd(r->c->fd, POLLOUT, end);
    if (w == -1) return lost(st, errno, what, strerror(errno));
    if (!w) goto timeout;
  }
  while (got < n) {
    void *p = 0;
    if (redisGetReplyFromReader(r->c, &p) == REDIS_ERR) {
      freeall(rep, got);
      if (r->toomany >= 0)
        snprintf(why, sizeof why, "bad answer: an array of %lld elements, at most %lu expected", r->toomany,
          (unsigned long) maxel);
      else
        snprintf(why, sizeof why, "bad answer: %s", r->c->errstr);
      return lost(st, EPROTO, what, why);
    }
    if (p) {
      redisReply *x = p;
      if (r->setup) {
        --r->setup;
        if (x->type == REDIS_REPLY_ERROR) {
          char text[161];
          printable(text, sizeof text, x->str, x->len);
          snprintf(why, sizeof why, "AUTH or SELECT refused: %s", text);
          freeReplyObject(x);
          freeall(rep, got);
          return lost(st, EACCES, what, why);
        }
        freeReplyObject(x);
        continue;
      }
      rep[got++] = x;
      continue;
    }
    w = waitfd(r->c->fd, POLLIN, end);
    if (w == -1) { freeall(rep, got); return lost(st, errno, what, strerror(errno)); }
    if (!w) { freeall(rep, got); goto timeout; }
    {
      size_t before = r->c->reader->len;
      if (redisBufferRead(r->c) == REDIS_ERR) {
        freeall(rep, got);
        return lost(st, r->c->err == REDIS_ERR_EOF ? ECONNRESET : EIO, what, r->c->errstr);
      }
      taken += r->c->reader->len - before;
    }
    /* a bulk of a gigabyte, or an endless array: memory is not the server's to take */
    if (taken > max) {
      freeall(rep, got);
      snprintf(why, sizeof why, "answer longer than %lu bytes", (unsigned long) max);
      return lost(st, EMSGSIZE, what, why);
    }
  }
  return 0;
timeout:
  snprintf(why, sizeof why, "no answer within %lu ms", r->timeout);
  return lost(st, ETIMEDOUT, what, why);
}

/* one command, one reply of at most max bytes and maxel elements an array */
static redisReply *cmd(sdu_state *st, const char *what, int argc, const char **argv, const size_t *len,
  size_t max, size_t maxel)
{
  redisReply *rep;
  if (st->rd->dead) { failmsg(st, EIO, what, "connection failed earlier"); return 0; }
  if (redisAppendCommandArgv(st->rd->c, argc, argv, len) != REDIS_OK) {
    failmsg(st, ENOMEM, what, "out of memory");
    return 0;
  }
  if (rt(st, what, 1, &rep, max, maxel, sdu_ms() + st->rd->timeout) == -1) return 0;
  if (rep->type == REDIS_REPLY_ERROR) { refused(st, what, rep); freeReplyObject(rep); return 0; }
  return rep;
}

/* run script which: argv[0] and argv[1] are filled in here (EVALSHA sha),
   argv[2] (the number of keys) and the rest by the caller. One deadline
   for both: a server slow to say NOSCRIPT does not get a second one. */
static redisReply *script(sdu_state *st, const char *what, int which, int argc, const char **argv, size_t *len,
  size_t max, size_t maxel)
{
  unsigned long long end = sdu_ms() + st->rd->timeout;
  redisReply *rep;
  argv[0] = "EVALSHA"; len[0] = 7;
  argv[1] = shas[which]; len[1] = strlen(shas[which]);
  if (st->rd->dead) { failmsg(st, EIO, what, "connection failed earlier"); return 0; }
  if (redisAppendCommandArgv(st->rd->c, argc, argv, len) != REDIS_OK) { failmsg(st, ENOMEM, what, "out of memory"); return 0; }
  if (rt(st, what, 1, &rep, max, maxel, end) == -1) return 0;
  if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
    freeReplyObject(rep);
    argv[0] = "EVAL"; len[0] = 4;
    argv[1] = scripts[which]; len[1] = strlen(scripts[which]);
    if (redisAppendCommandArgv(st->rd->c, argc, argv, len) != REDIS_OK) { failmsg(st, ENOMEM, what, "out of memory"); return 0; }
    if (rt(st, what, 1, &rep, max, maxel, end) == -1) return 0;
  }
  if (rep->type == REDIS_REPLY_ERROR) { refused(st, what, rep); freeReplyObject(rep); return 0; }
  return rep;
}

static int garbage(sdu_state *st, const char *what, redisReply *rep)
{
  if (rep) freeReplyObject(rep);
  return lost(st, EPROTO, what, "answer of an unexpected type");
}

static void pack64(char *p, unsigned long long u)
{
  sdu_state_pack64((unsigned char *) p, u);
}

/* the Redis expiry of an entry expiring at expires, from base: 0 none */
static unsigned long long ttl_ms(unsigned long long expires, unsigned long long base)
{
  unsigned long long d;
  if (!expires) return 0;
  if (expires <= base) return FLOOR_MS;
  d = expires - base;
  if (d > TTL_MAX) d = TTL_MAX;
  return d * 1000 + SLACK_MS;
}

/* "table:key" in buf (at least SDU_STATE_NAME_MAX + 2 + SDU_STATE_KEY_MAX) */
static size_t rkey(char *buf, const sdu_state *st, const char *key, size_t klen)
{
  size_t t = strlen(st->table);
  memcpy(buf, st->table, t);
  buf[t] = ':';
  memcpy(buf + t + 1, key, klen);
  return t + 1 + klen;
}

/* a store opened SDU_STATE_RDONLY (spamgrab -n, -z) writes nothing, as in LMDB */
static int writable(sdu_state *st)
{
  if (!(st->flags & SDU_STATE_RDONLY)) return 1;
  failmsg(st, EROFS, "write", "opened read-only");
  return 0;
}

static int keyok(sdu_state *st, size_t klen)
{
  if (klen >= 1 && klen <= SDU_STATE_KEY_MAX) return 1;
  snprintf(st->err, sizeof st->err, "key not 1 to 511 bytes long: %.320s", st->where);
  errno = EINVAL;
  return 0;
}

/* the address: redis://[host][:port][/db][?opt&opt] or unix:/path[?opt&opt];
   options timeout=50ms, db=N, passfile=FILE, local=DIR */
static int readpass(sdu_state *st, const char *file, char *pass)
{
  int fd = open(file, O_RDONLY | O_CLOEXEC), e;
  ssize_t n;
  char *p;
  if (fd == -1) {
    e = errno;
    snprintf(st->err, sizeof st->err, "unable to read the Redis password file %.200s: %s", file, strerror(e));
    errno = e;
    return -1;
  }
  n = read(fd, pass, PASS_MAX);
  e = errno;
  close(fd);
  if (n < 0) {
    snprintf(st->err, sizeof st->err, "unable to read the Redis password file %.200s: %s", file, strerror(e));
    errno = e;
    return -1;
  }
  pass[n] = 0;
  if ((p = strchr(pass, '\n'))) *p = 0;
  if ((p = strchr(pass, '\r'))) *p = 0;
  if (!*pass || (size_t) n >= PASS_MAX) {
    snprintf(st->err, sizeof st->err, "Redis password file %.200s: empty, or longer than 511 bytes", file);
    errno = EINVAL;
    return -1;
  }
  return 0;
}

static int bad(sdu_state *st, const char *why)
{
  snprintf(st->err, sizeof st->err, "bad Redis address %.200s: %s", st->dir, why);
  errno = EINVAL;
  return -1;
}

/* a decimal number with an optional unit ms or s, in ms, from 1 ms to
   TIMEOUT_MAX_MS */
static int scanms(const char *s, unsigned long *ms)
{
  unsigned long n = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (n > 100000000UL) return 0;
    n = n * 10 + (unsigned long) (*p - '0');
  }
  if (p == s) return 0;
  if (!strcmp(p, "s")) n *= 1000;
  else if (*p && strcmp(p, "ms")) return 0;
  if (!n || n > TIMEOUT_MAX_MS) return 0;
  *ms = n;
  return 1;
}

int sdu_redis_open(sdu_state *st, const char *addr, const char *table, int flags)
{
  char buf[512], host[256], pass[PASS_MAX + 1], *opts, *o, *next;
  const char *path = 0, *passfile, *e;
  unsigned long port = 6379, db = 0, v;
  struct sdu_redis *r;
  int unixsock = !strncmp(addr, "unix:", 5);
  (void) flags;
  snprintf(st->table, sizeof st->table, "%s", table);
  if (strlen(addr) >= sizeof buf) return bad(st, "too long");
  strcpy(buf, addr);
  r = calloc(1, sizeof *r);
  if (!r) { snprintf(st->err, sizeof st->err, "out of memory"); errno = ENOMEM; return -1; }
  r->timeout = TIMEOUT_MS;
  e = sdu_env_get("SDU_REDIS_TIMEOUT");
  if (e && *e && !scanms(e, &r->timeout)) { free(r); return bad(st, "SDU_REDIS_TIMEOUT is not a duration of at most 600s such as 50ms"); }
  passfile = sdu_env_get("SDU_REDIS_PASSFILE");
  snprintf(r->local, sizeof r->local, "/var/lib/sdu");
  opts = strchr(buf, '?');
  if (opts) *opts++ = 0;
  if (unixsock) {
    path = buf + 5;
    if (*path != '/') { free(r); return bad(st, "unix: needs an absolute path"); }
  } else {
    char *h = buf + 8, *slash = strchr(h, '/'), *colon;
    if (strchr(h, '@')) { free(r); return bad(st, "a password in the address: name a file with passfile= instead"); }
    if (slash) {
      *slash = 0;
      if (slash[1]) {
        char *end;
        db = strtoul(slash + 1, &end, 10);
        if (*end || db > 10000) { free(r); return bad(st, "database is not a number"); }
      }
    }
    if (*h == '[') { /* [v6]:port */
      char *rb = strchr(h, ']');
      if (!rb) { free(r); return bad(st, "no ] after an IPv6 address"); }
      *rb = 0;
      colon = rb[1] == ':' ? rb + 1 : 0;
      ++h;
    } else {
      colon = strchr(h, ':');
      if (colon) *colon = 0;
    }
    if (colon) {
      char *end;
      port = strtoul(colon + 1, &end, 10);
      if (*end || !port || port > 65535) { free(r); return bad(st, "port is not a number"); }
    }
    if (strlen(h) >= sizeof host) { free(r); return bad(st, "host name too long"); }
    strcpy(host, *h && strcmp(h, "localhost") ? h : "127.0.0.1");
    /* a name would be looked up before the deadline starts, by a resolver
       that may wait seconds (and a static glibc's needs its shared NSS
       modules): an address only */
    {
      unsigned char a[16];
      if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1) {
        free(r);
        return bad(st, "not an IP address (a host name is not looked up: give its address, or localhost)");
      }
    }
  }
  for (o = opts; o && *o; o = next) {
    next = strchr(o, '&');
    if (next) *next++ = 0;
    if (!strncmp(o, "timeout=", 8)) { if (!scanms(o + 8, &r->timeout)) { free(r); return bad(st, "timeout is not a duration of at most 600s such as 50ms"); } }
    else if (!strncmp(o, "db=", 3)) {
      char *end;
      v = strtoul(o + 3, &end, 10);
      if (*end || v > 10000 || end == o + 3) { free(r); return bad(st, "db is not a number"); }
      db = v;
    }
    else if (!strncmp(o, "passfile=", 9)) passfile = o + 9;
    else if (!strncmp(o, "local=", 6)) snprintf(r->local, sizeof r->local, "%s", o + 6);
    else { free(r); return bad(st, "unknown option (timeout=, db=, passfile=, local=)"); }
  }
  *pass = 0;
  if (passfile && *passfile && readpass(st, passfile, pass) == -1) { free(r); return -1; }
  if (unixsock) snprintf(r->name, sizeof r->name, "unix:%.200s", path);
  else snprintf(r->name, sizeof r->name, "redis://%.200s:%lu/%lu", host, port, db);
  snprintf(st->where, sizeof st->where, "table %.64s in %.240s", table, r->name);
  r->c = unixsock ? redisConnectUnixNonBlock(path) : redisConnectNonBlock(host, (int) port);
  if (!r->c || r->c->err) {
    snprintf(st->err, sizeof st->err, "unable to connect to %.240s: %s", r->name, r->c ? r->c->errstr : "out of memory");
    if (r->c) redisFree(r->c);
    free(r);
    errno = ECONNREFUSED;
    return -1;
  }
  fcntl(r->c->fd, F_SETFD, FD_CLOEXEC);
  r->fn = *r->c->reader->fn;
  r->mkarray = r->fn.createArray;
  r->fn.createArray = limitarray;
  r->c->reader->fn = &r->fn;
  r->c->reader->privdata = r;
  r->pid = getpid();
  r->refs = 1;
  st->rd = r;
  /* AUTH and SELECT go out with the first command: no round trip of their own */
  if (*pass) {
    const char *av[2]; size_t al[2];
    av[0] = "AUTH"; al[0] = 4; av[1] = pass; al[1] = strlen(pass);
    if (redisAppendCommandArgv(r->c, 2, av, al) != REDIS_OK) { sdu_redis_close(st); errno = ENOMEM; return -1; }
    ++r->setup;
  }
  memset(pass, 0, sizeof pass);
  if (db) {
    char d[24];
    const char *av[2]; size_t al[2];
    snprintf(d, sizeof d, "%lu", db);
    av[0] = "SELECT"; al[0] = 6; av[1] = d; al[1] = strlen(d);
    if (redisAppendCommandArgv(r->c, 2, av, al) != REDIS_OK) { sdu_redis_close(st); errno = ENOMEM; return -1; }
    ++r->setup;
  }
  return 0;
}

int sdu_redis_open_table(sdu_state *st, sdu_state *base, const char *table)
{
  snprintf(st->table, sizeof st->table, "%s", table);
  snprintf(st->where, sizeof st->where, "table %.64s in %.240s", table, base->rd->name);
  st->rd = base->rd;
  ++st->rd->refs;
  return 0;
}

void sdu_redis_close(sdu_state *st)
{
  struct sdu_redis *r = st->rd;
  if (st->local) { sdu_state_close(st->local); free(st->local); st->local = 0; }
  st->rd = 0;
  if (!r || --r->refs) return;
  /* a child of fork leaves the parent's socket alone: only the fd goes */
  if (r->pid != getpid()) { close(r->c->fd); r->c->fd = -1; }
  redisFree(r->c);
  free(r);
}

int sdu_redis_local(sdu_state *st, sdu_state **local)
{
  if (!st->local) {
    sdu_state *l = malloc(sizeof *l);
    if (!l) { snprintf(st->err, sizeof st->err, "out of memory"); errno = ENOMEM; return -1; }
    if (sdu_state_open(l, st->rd->local, st->table, st->flags) == -1) {
      int e = errno;
      memcpy(st->err, l->err, sizeof st->err);
      free(l);
      errno = e;
      return -1;
    }
    st->local = l;
  }
  *local = st->local;
  return 0;
}

int sdu_redis_getn(sdu_state *st, sdu_state_read *r, unsigned int n, unsigned long long now)
{
  char k[SDU_STATE_READ_MAX][RKEY_MAX];
  const char *av[1 + SDU_STATE_READ_MAX];
  size_t al[1 + SDU_STATE_READ_MAX];
  redisReply *rep;
  unsigned int i;
  if (n > SDU_STATE_READ_MAX) {
    snprintf(st->err, sizeof st->err, "more than 16 keys in one read: %.320s", st->where);
    errno = EINVAL;
    return -1;
  }
  for (i = 0; i < n; ++i) {
    if (!keyok(st, r[i].klen)) return -1;
    r[i].found = 0;
  }
  if (!n) return 0;
  av[0] = "MGET"; al[0] = 4;
  for (i = 0; i < n; ++i) { av[1 + i] = k[i]; al[1 + i] = rkey(k[i], st, r[i].key, r[i].klen); }
  rep = cmd(st, "read", (int) n + 1, av, al, READ_REPLY(n), n);
  if (!rep) return -1;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) return garbage(st, "read", rep);
  for (i = 0; i < n; ++i) {
    redisReply *v = rep->element[i];
    unsigned long long exp;
    if (v->type == REDIS_REPLY_NIL) continue;
    if (v->type != REDIS_REPLY_STRING) return garbage(st, "read", rep);
    if (v->len < HDR || v->len - HDR > SDU_STATE_VAL_MAX) {
      freeReplyObject(rep);
      snprintf(st->err, sizeof st->err, "database corrupt: entry of a wrong size: %.320s", st->where);
      errno = EPROTO;
      return -1;
    }
    exp = sdu_state_unpack64((const unsigned char *) v->str);
    if (exp && now >= exp) continue;
    if (r[i].val && !stralloc_copyb(r[i].val, v->str + HDR, v->len - HDR)) {
      freeReplyObject(rep);
      return failmsg(st, ENOMEM, "read", "out of memory");
    }
    r[i].found = 1;
    r[i].expires = exp;
  }
  freeReplyObject(rep);
  return 0;
}

/* through the batch's script too: the client sends no GET or SET of its
   own, so that INFO commandstats tells its round trips (EVALSHA, MGET)
   from the commands the scripts run */
int sdu_redis_put(sdu_state *st, const char *key, size_t klen, const char *val, size_t vlen,
  unsigned long long expires)
{
  sdu_state_op op;
  memset(&op, 0, sizeof op);
  op.st = st; op.key = key; op.klen = klen; op.val = val; op.vlen = vlen; op.expires = expires;
  return sdu_redis_batch(&op, 1, sdu_now());
}

int sdu_redis_del(sdu_state *st, const char *key, size_t klen)
{
  char k[RKEY_MAX];
  const char *av[2];
  size_t al[2];
  redisReply *rep;
  long long n;
  if (!writable(st) || !keyok(st, klen)) return -1;
  av[0] = "DEL"; al[0] = 3;
  av[1] = k; al[1] = rkey(k, st, key, klen);
  rep = cmd(st, "write", 2, av, al, SMALL_REPLY, 0);
  if (!rep) return -1;
  /* the keys deleted, of one */
  if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0 || rep->integer > 1) return garbage(st, "write", rep);
  n = rep->integer;
  freeReplyObject(rep);
  return n > 0;
}

/* every op of the batch in one script: 3 + n keys + 1 + 3n arguments */
int sdu_redis_batch(sdu_state_op *ops, unsigned int n, unsigned long long now)
{
  sdu_state *st = ops[0].st;
  size_t per = RKEY_MAX + 3 * HDR + 48, *al = 0;
  const char **av = 0;
  char *arena = 0, *p, nk[24], nowb[HDR];
  unsigned int i, argc = 4 + 4 * n;
  redisReply *rep;
  int r = -1;
  for (i = 0; i < n; ++i) {
    if (!writable(ops[i].st) || !keyok(st, ops[i].klen)) { if (ops[i].st != st) memcpy(st->err, ops[i].st->err, sizeof st->err); return -1; }
    if (ops[i].st->rd != st->rd) { snprintf(st->err, sizeof st->err, "batch over two stores: %.320s", st->where); errno = EINVAL; return -1; }
    if (ops[i].incr && !ops[i].window) { snprintf(st->err, sizeof st->err, "counter window of 0 seconds: %.320s", st->where); errno = EINVAL; return -1; }
    if (!ops[i].incr && ops[i].vlen > SDU_STATE_VAL_MAX) { snprintf(st->err, sizeof st->err, "value longer than 65536 bytes: %.320s", st->where); errno = EMSGSIZE; return -1; }
  }
  {
    size_t total = 0;
    for (i = 0; i < n; ++i) total += per + (ops[i].incr ? 0 : ops[i].vlen);
    av = malloc(argc * sizeof *av);
    al = malloc(argc * sizeof *al);
    arena = malloc(total);
    if (!av || !al || !arena) { failmsg(st, ENOMEM, "write", "out of memory"); goto out; }
  }
  snprintf(nk, sizeof nk, "%u", n);
  pack64(nowb, now);
  p = arena;
  for (i = 0; i < n; ++i) {
    sdu_state_op *op = &ops[i];
    av[3 + i] = p; al[3 + i] = rkey(p, op->st, op->key, op->klen);
    p += al[3 + i];
  }
  av[3 + n] = nowb; al[3 + n] = HDR;
  for (i = 0; i < n; ++i) {
    sdu_state_op *op = &ops[i];
    unsigned long long exp, ttl;
    unsigned int a = 4 + n + 3 * i;
    av[a] = op->incr ? "i" : "p"; al[a] = 1;
    if (op->incr) {
      exp = sdu_later(now, op->window);
      pack64(p, exp);
      av[a + 1] = p; al[a + 1] = HDR;
      p += HDR;
      ttl = (unsigned long long) (op->window > TTL_MAX ? TTL_MAX : op->window) * 1000 + SLACK_MS;
      if (op->hold) { /* the hold's end and the limit; its Redis expiry after the window's */
        unsigned long long h = (unsigned long long) (op->hold > TTL_MAX ? TTL_MAX : op->hold) * 1000 + SLACK_MS;
        pack64(p, sdu_later(now, op->hold));
        pack64(p + HDR, op->limit);
        al[a + 1] += 2 * HDR;
        p += 2 * HDR;
        al[a + 2] = (size_t) snprintf(p, 48, "%llu:%llu", ttl, h);
        av[a + 2] = p;
        p += 48;
        continue;
      }
    } else {
      pack64(p, op->expires);
      if (op->vlen) memcpy(p + HDR, op->val, op->vlen);
      av[a + 1] = p; al[a + 1] = HDR + op->vlen;
      p += HDR + op->vlen;
      ttl = ttl_ms(op->expires, sdu_now());
    }
    al[a + 2] = (size_t) snprintf(p, 24, "%llu", ttl);
    av[a + 2] = p;
    p += 24;
  }
  av[2] = nk; al[2] = strlen(nk);
  rep = script(st, "write", S_BATCH, (int) argc, av, al, BATCH_REPLY(n), n);
  if (!rep) goto out;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) { garbage(st, "write", rep); goto out; }
  for (i = 0; i < n; ++i)
    if (rep->element[i]->type != REDIS_REPLY_INTEGER || rep->element[i]->integer < 0) { garbage(st, "write", rep); goto out; }
  for (i = 0; i < n; ++i) ops[i].count = (unsigned long) rep->element[i]->integer;
  freeReplyObject(rep);
  r = 0;
out:
  free(av); free(al); free(arena);
  return r;
}

int sdu_redis_swap(sdu_state *st, const char *key, size_t klen, const char *old, size_t oldlen,
  unsigned long long oldexp, int absent, const char *val, size_t vlen, unsigned long long expires,
  unsigned long long now)
{
  char k[RKEY_MAX], nowb[HDR], px[24], *o, *v;
  const char *av[9];
  size_t al[9];
  redisReply *rep;
  long long n;
  if (!writable(st) || !keyok(st, klen)) return -1;
  if (vlen > SDU_STATE_VAL_MAX || oldlen > SDU_STATE_VAL_MAX) { snprintf(st->err, sizeof st->err, "value longer than 65536 bytes: %.320s", st->where); errno = EMSGSIZE; return -1; }
  o = malloc(HDR + oldlen);
  v = malloc(HDR + vlen);
  if (!o || !v) { free(o); free(v); return failmsg(st, ENOMEM, "write", "out of memory"); }
  pack64(o, oldexp); if (oldlen) memcpy(o + HDR, old, oldlen);
  pack64(v, expires); if (vlen) memcpy(v + HDR, val, vlen);
  pack64(nowb, now);
  snprintf(px, sizeof px, "%llu", ttl_ms(expires, sdu_now()));
  av[3] = k; al[3] = rkey(k, st, key, klen);
  av[4] = nowb; al[4] = HDR;
  av[5] = absent ? "a" : "v"; al[5] = 1;
  av[6] = o; al[6] = absent ? HDR : HDR + oldlen;
  av[7] = v; al[7] = HDR + vlen;
  av[8] = px; al[8] = strlen(px);
  av[2] = "1"; al[2] = 1;
  rep = script(st, "write", S_SWAP, 9, av, al, SMALL_REPLY, 0);
  free(o); free(v);
  if (!rep) return -1;
  if (rep->type != REDIS_REPLY_INTEGER) return garbage(st, "write", rep);
  n = rep->integer;
  freeReplyObject(rep);
  return n == 1;
}

/* the keys of st's table, SCAN_COUNT at a time: fn(keys) for each batch */
static int scan(sdu_state *st, const char *what, int (*fn)(sdu_state *st, redisReply *keys, void *ctx), void *ctx)
{
  char cursor[32] = "0", pat[2 * SDU_STATE_NAME_MAX + 4], count[16];
  const char *av[6];
  size_t al[6], i, j = 0, seen = 0, pre = strlen(st->table);
  unsigned long rounds = 0;
  for (i = 0; st->table[i]; ++i) {
    char c = st->table[i];
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pat[j++] = '\\';
    pat[j++] = c;
  }
  pat[j++] = ':'; pat[j++] = '*'; pat[j] = 0;
  snprintf(count, sizeof count, "%d", SCAN_COUNT);
  do {
    redisReply *rep, *keys;
    int r;
    if (++rounds > SCAN_ROUNDS_MAX) return failmsg(st, EFBIG, what, "SCAN not done after 100000 calls");
    av[0] = "SCAN"; al[0] = 4;
    av[1] = cursor; al[1] = strlen(cursor);
    av[2] = "MATCH"; al[2] = 5;
    av[3] = pat; al[3] = j;
    av[4] = "COUNT"; al[4] = 5;
    av[5] = count; al[5] = strlen(count);
    rep = cmd(st, what, 6, av, al, WALK_REPLY_MAX, SCAN_KEYS_MAX);
    if (!rep) return -1;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING
      || rep->element[0]->len >= sizeof cursor || rep->element[1]->type != REDIS_REPLY_ARRAY)
      return garbage(st, what, rep);
    memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
    cursor[rep->element[0]->len] = 0;
    keys = rep->element[1];
    for (i = 0; i < keys->elements; ++i) {
      redisReply *k = keys->element[i];
      if (k->type != REDIS_REPLY_STRING) return garbage(st, what, rep);
      /* MATCH answers none but "table:..."; one that does not start so is
         another table's (or another program's), and the server not to be
         trusted: a walk would cut its first bytes off blindly, a cleanup
         delete it */
      if (k->len <= pre || memcmp(k->str, st->table, pre) || k->str[pre] != ':') {
        freeReplyObject(rep);
        return lost(st, EPROTO, what, "bad answer: a key outside the table");
      }
    }
    seen += keys->elements;
    r = keys->elements ? fn(st, keys, ctx) : 0;
    freeReplyObject(rep);
    if (r) return r;
    if (seen > WALK_MAX) return failmsg(st, EFBIG, what, "more than 4000000 keys in the table");
  } while (strcmp(cursor, "0"));
  return 0;
}

struct clean { unsigned long long now; unsigned long removed; };

static int cleanfn(sdu_state *st, redisReply *keys, void *ctx)
{
  struct clean *cl = ctx;
  const char **av;
  size_t *al, i, n = keys->elements;
  char nk[24], nowb[HDR];
  redisReply *rep;
  av = malloc((n + 4) * sizeof *av);
  al = malloc((n + 4) * sizeof *al);
  if (!av || !al) { free(av); free(al); return failmsg(st, ENOMEM, "clean up", "out of memory"); }
  snprintf(nk, sizeof nk, "%lu", (unsigned long) n);
  av[2] = nk; al[2] = strlen(nk);
  for (i = 0; i < n; ++i) { av[3 + i] = keys->element[i]->str; al[3 + i] = keys->element[i]->len; }
  pack64(nowb, cl->now);
  av[3 + n] = nowb; al[3 + n] = HDR;
  rep = script(st, "clean up", S_CLEAN, (int) (n + 4), av, al, SMALL_REPLY, 0);
  free(av); free(al);
  if (!rep) return -1;
  /* the keys deleted, of the n given: a negative count cast would be a huge one */
  if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0 || (unsigned long long) rep->integer > n)
    return garbage(st, "clean up", rep);
  cl->removed += (unsigned long) rep->integer;
  freeReplyObject(rep);
  return 0;
}

int sdu_redis_cleanup(sdu_state *st, unsigned long long now, unsigned long *removed)
{
  struct clean cl;
  int r;
  if (removed) *removed = 0;
  if (!writable(st)) return -1;
  cl.now = now; cl.removed = 0;
  r = scan(st, "clean up", cleanfn, &cl);
  if (removed) *removed = cl.removed;
  return r ? -1 : 0;
}

struct entry { char *k; size_t klen; char *v; size_t vlen; };
struct walk { struct entry *e; size_t n, max; int err; };

static int walkfn(sdu_state *st, redisReply *keys, void *ctx)
{
  struct walk *w = ctx;
  const char **av;
  size_t *al, i, n = keys->elements, pre = strlen(st->table) + 1;
  redisReply *rep;
  av = malloc((n + 1) * sizeof *av);
  al = malloc((n + 1) * sizeof *al);
  if (!av || !al) { free(av); free(al); return failmsg(st, ENOMEM, "read", "out of memory"); }
  av[0] = "MGET"; al[0] = 4;
  for (i = 0; i < n; ++i) { av[1 + i] = keys->element[i]->str; al[1 + i] = keys->element[i]->len; }
  rep = cmd(st, "read", (int) (n + 1), av, al, WALK_REPLY_MAX, n);
  free(av); free(al);
  if (!rep) return -1;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) return garbage(st, "read", rep);
  if (w->n + n > w->max) {
    size_t m = w->max * 2 + n + 16;
    struct entry *e = realloc(w->e, m * sizeof *e);
    if (!e) { freeReplyObject(rep); return failmsg(st, ENOMEM, "read", "out of memory"); }
    w->e = e; w->max = m;
  }
  for (i = 0; i < n; ++i) {
    redisReply *v = rep->element[i];
    struct entry *e;
    if (v->type == REDIS_REPLY_NIL) continue; /* gone since the scan */
    if (v->type != REDIS_REPLY_STRING || keys->element[i]->len <= pre) return garbage(st, "read", rep);
    e = &w->e[w->n];
    e->klen = keys->element[i]->len - pre;
    e->vlen = v->len;
    e->k = malloc(e->klen + e->vlen + 1);
    if (!e->k) { freeReplyObject(rep); return failmsg(st, ENOMEM, "read", "out of memory"); }
    memcpy(e->k, keys->element[i]->str + pre, e->klen);
    e->v = e->k + e->klen;
    memcpy(e->v, v->str, v->len);
    ++w->n;
  }
  freeReplyObject(rep);
  return 0;
}

static int bykey(const void *a, const void *b)
{
  const struct entry *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int sdu_redis_walk(sdu_state *st, unsigned long long now,
  int (*fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    unsigned long long expires), void *ctx)
{
  struct walk w;
  size_t i;
  int r;
  memset(&w, 0, sizeof w);
  r = scan(st, "read", walkfn, &w);
  if (!r) {
    qsort(w.e, w.n, sizeof *w.e, bykey);
    for (i = 0; i < w.n; ++i) {
      unsigned long long exp;
      if (w.e[i].vlen < HDR) { /* the walk stops at it, as in LMDB */
        snprintf(st->err, sizeof st->err, "database corrupt: entry of a wrong size: %.320s", st->where);
        errno = EPROTO;
        r = -1;
        break;
      }
      exp = sdu_state_unpack64((const unsigned char *) w.e[i].v);
      if (exp && now >= exp) continue;
      r = fn(ctx, w.e[i].k, w.e[i].klen, w.e[i].v + HDR, w.e[i].vlen - HDR, exp);
      if (r) break;
    }
  }
  for (i = 0; i < w.n; ++i) free(w.e[i].k);
  free(w.e);
  return r;
}
