/* throttle_store.h: throttle's counters, slots and lists in the LMDB state store */
#ifndef THROTTLE_STORE_H
#define THROTTLE_STORE_H

#include <stddef.h>
#include "sdu_addr.h"
#include "sdu_state.h"
#include "throttle_rules.h"

/* All of throttle lives in one table of the state directory; the first key
   byte says what an entry is: 'r' a connection-rate counter, 'c' a
   concurrency slot, 's' a remembered (client, sender) pair, 'b' a bounce
   counter (held once over its limit), 'g' a greylisted triplet, 'a' a client
   network's count of passed triplets (the automatic whitelist). Every function returns -1 on a store error
   (the reason in sdu_state_error), for the caller to fail open. */
#define THROTTLE_TABLE "throttle"

/* count this connection of client ckey: 1 over r's limit, 0 within; *count
   is the number in the window including this one */
int throttle_rate_hit(sdu_state *st, const char *ckey, size_t cklen,
  unsigned long long now, const throttle_rate *r, unsigned long *count);

/* Take a concurrency slot for pid: in one write transaction, count the
   client's slots whose process is alive (alive(pid) != 0) and not expired,
   delete the others, and add ours (expiring at now + ttl) unless limit are
   taken already. 1 over the limit (no slot taken), 0 slot taken; *count is
   the number of live slots including ours. A slot is freed when its process
   is gone: a process keeps its pid across exec, so the slot lasts as long
   as the connection, with nobody having to remove it. */
int throttle_conc_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long pid,
  unsigned long limit, unsigned long long now, unsigned long ttl,
  int (*alive)(unsigned long pid), unsigned long *count);
/* Both checks at the start of a connection in one write transaction (one
   lock, one commit): count it against rate (unless rate is 0) and, unless
   limit is 0, take a slot as throttle_conc_enter does with *limit; when over the rate
   the slot is looked at only if always. The bits THROTTLE_OVER_RATE and
   THROTTLE_OVER_CONC of the result say which limit is passed; *conn and
   *conc are the counts (0 for a check not made). */
#define THROTTLE_OVER_RATE 1
#define THROTTLE_OVER_CONC 2
int throttle_conn_enter(sdu_state *st, const char *ckey, size_t cklen, unsigned long long now,
  const throttle_rate *rate, unsigned long pid, const unsigned long *limit, unsigned long ttl,
  int (*alive)(unsigned long pid), int always, unsigned long *conn, unsigned long *conc);
/* kill(pid, 0) finds it (or it belongs to another user) */
int throttle_alive(unsigned long pid);

/* a sender's key (lower case) into out (THROTTLE_SENDER_KEY bytes): the
   sender, or for one longer than SDU_ADDR_MAX its first SDU_ADDR_MAX bytes
   and a hash of it all, a key longer than any that fits can have; its
   length */
#define THROTTLE_SENDER_HASH 16
#define THROTTLE_SENDER_KEY (SDU_ADDR_MAX + THROTTLE_SENDER_HASH)
size_t throttle_sender_key(char *out, const char *sender, size_t slen);
/* the (client, sender key) pair: 1 remembered, 0 not */
int throttle_bl_check(sdu_state *st, const char *ckey, size_t cklen,
  const char *skey, size_t sklen, unsigned long long now);
int throttle_bl_add(sdu_state *st, const char *ckey, size_t cklen,
  const char *skey, size_t sklen, unsigned long long expires);

/* a bounce to rcpt (lower case): 1 refuse it (held, or the one over the
   limit, which starts a hold until now + hold), 0 let it pass */
int throttle_bounce(sdu_state *st, const char *rcpt, size_t len,
  unsigned long long now, const throttle_rate *limit, unsigned long hold);

/* Greylisting. A triplet is (client network, sender, recipient), the
   network the IPv4 /24 or the IPv6 /64; a bounce is keyed without the sender.
   Its key is a 16-byte hash (two FNV-1a 64 lanes): fixed size, whatever the
   addresses' length. The hash is not keyed: a spammer who crafts a
   collision with a triplet that passed gets past greylisting, nothing more. */
#define THROTTLE_GREY_HASH 16
#define THROTTLE_GREY_NET_MAX 9 /* '4' + 3 bytes, or '6' + 8 bytes */
typedef struct throttle_grey {
  unsigned long delay;      /* a retry passes this long after first sight ... */
  unsigned long lifetime;   /* ... and before this */
  unsigned long awlcount;   /* a network whose triplets passed this often ... */
  unsigned long awltime;    /* ... passes for this long since its last pass;
                               a passed triplet is remembered as long */
} throttle_grey;
/* a triplet as the store holds it */
typedef struct throttle_grey_entry {
  unsigned char hash[THROTTLE_GREY_HASH];
  int passed;                  /* 0 pending since first, 1 passed */
  unsigned long long first;    /* first sight */
  unsigned long long expires;
} throttle_grey_entry;
/* the decisions, as the log names them (throttle_grey_name) */
enum { THROTTLE_GREY_NEW, THROTTLE_GREY_EARLY, THROTTLE_GREY_LATE,
  THROTTLE_GREY_PASS, THROTTLE_GREY_KNOWN, THROTTLE_GREY_AUTO };
const char *throttle_grey_name(int decision);
/* the refusals: new, early and late */
#define THROTTLE_GREY_REFUSES(d) ((d) <= THROTTLE_GREY_LATE)
size_t throttle_grey_net(char *out, const sdu_ip *ip);
void throttle_grey_triplet(unsigned char *out, const char *net, size_t nlen,
  const char *sender, size_t slen, const char *rcpt, size_t rlen);
/* 32 lower-case hex digits and a \0 */
void throttle_grey_hex(char *out33, const unsigned char *hash);
/* 1 the network is on the automatic whitelist, 0 not */
int throttle_grey_auto(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  unsigned long long now);
/* look the triplet up and record it: a decision. A new triplet, or one
   seen lifetime ago or more (late), is recorded with now as its first
   sight; one in the window (PASS) is remembered as passed for awltime
   after its last use (KNOWN; the expiry is moved on at most once per
   awltime / 35: early, known and auto are reads, mostly). */
int throttle_grey_check(sdu_state *st, const throttle_grey *g, const unsigned char *hash,
  unsigned long long now);
/* count one pass for the network, unless one was counted less than delay
   ago (its entry lives awltime from the last count) */
int throttle_grey_count(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  unsigned long long now);
/* what a RCPT needs, in one read and at most one write (two round trips
   to Redis): the network's automatic whitelist (THROTTLE_GREY_AUTO), else
   throttle_grey_check; then, with count, throttle_grey_count unless the
   decision refuses */
int throttle_grey_decide(sdu_state *st, const throttle_grey *g, const char *net, size_t nlen,
  const unsigned char *hash, int count, unsigned long long now);

/* record n triplets (those expired at now are left out) in one write: a
   bulk load (bench/greylist, sdu-state-copy): 0, -1 */
int throttle_grey_put(sdu_state *st, const throttle_grey_entry *e, unsigned int n, unsigned long long now);
/* An LMDB store keeps its triplets in a hash table, the table
   THROTTLE_GREY_TABLE of its directory (throttle_store.c); a Redis store,
   in an entry each ('g' and the hash) in the throttle table. Given a chunk
   of that hash table as sdu_state_walk hands it over, its live triplets
   into out (room for THROTTLE_GREY_CHUNK): their number, or -1 for an
   entry that is no chunk */
#define THROTTLE_GREY_TABLE "throttle_grey"
#define THROTTLE_GREY_CHUNK 63
int throttle_grey_unpack(const char *key, size_t klen, const char *val, size_t vlen, unsigned long long now,
  throttle_grey_entry *out);

#endif
