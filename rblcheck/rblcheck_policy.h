/* rblcheck_policy.h: rblcheck's policy file, and the decision for one client */
#ifndef RBLCHECK_POLICY_H
#define RBLCHECK_POLICY_H

#include <stddef.h>
#include <time.h>
#include <stralloc.h>
#include "sdu_config.h"
#include "sdu_dns.h"
#include "sdu_tag.h"

#define RBLCHECK_LISTS_MAX 32
#define RBLCHECK_NAME_MAX 24     /* a list's name: [A-Za-z0-9_-], first a letter */
#define RBLCHECK_ZONE_MAX 180    /* leaves room for 64 nibbles of an IPv6 name */
#define RBLCHECK_RANGES_MAX 8    /* accepted answer ranges per list */
#define RBLCHECK_RULES_MAX 128
#define RBLCHECK_NODES_MAX 2048  /* condition nodes in all rules */
#define RBLCHECK_DEPTH_MAX 32    /* parentheses and '!' nesting */
#define RBLCHECK_WEIGHT_MAX 1000
#define RBLCHECK_GLOBS_MAX 10000 /* globs read from files, in all */
#define RBLCHECK_TXT_MAX 200     /* printable bytes of a TXT record in a text */
#define RBLCHECK_GREETWAIT_MAX 60000 /* ms: the longest greetwait */

/* actions of a rule, and what was done with a client */
enum {
  RBLCHECK_A_NONE,     /* no rule matched */
  RBLCHECK_A_REJECT,   /* refused with 5xx */
  RBLCHECK_A_TEMPFAIL, /* refused with 4xx */
  RBLCHECK_A_THROTTLE, /* passed on, tagged, THROTTLE_RCPT set */
  RBLCHECK_A_TAG,      /* passed on with the header */
  RBLCHECK_A_ACCEPT,   /* passed on untouched */
  RBLCHECK_A_GREYLIST, /* passed on, tagged, THROTTLE_GREYLIST set */
  RBLCHECK_A_GREETWAIT, /* not a decision: watch for pregreet a while longer, then decide */
  /* only in verdicts */
  RBLCHECK_A_LEAK,     /* a tempfail rule let this connection through, tagged */
  RBLCHECK_A_PASS,     /* on no list, matched by no rule: one exec */
  RBLCHECK_A_FAILCLOSED, /* -c and a list failed: 451 */
  RBLCHECK_A_HARVEST   /* SDU_HARVEST: passed on, tagged, with what would have been done */
};

/* what is known about the client on one list */
enum {
  RBLCHECK_PENDING, /* no answer (yet) */
  RBLCHECK_NO,      /* not listed */
  RBLCHECK_YES,     /* listed */
  RBLCHECK_FAIL,    /* timeout, server failure, no server */
  RBLCHECK_BAD      /* an answer outside the accepted set: an error, never a listing */
};

typedef struct rblcheck_list {
  char name[RBLCHECK_NAME_MAX + 1];
  char zone[RBLCHECK_ZONE_MAX + 1];
  unsigned int weight;
  unsigned int nranges;        /* 0: any 127.0.0.0/8 answer but the error codes */
  unsigned long lo[RBLCHECK_RANGES_MAX], hi[RBLCHECK_RANGES_MAX];
  unsigned int zi;             /* its zone's index: one query per zone */
} rblcheck_list;

typedef struct rblcheck_node {
  int op;
  unsigned int a, b;  /* operands (node indices), list index, or globs */
  unsigned long n;    /* score threshold, glob count */
} rblcheck_node;

typedef struct rblcheck_rule {
  unsigned int cond;        /* node index */
  int action;               /* RBLCHECK_A_REJECT .. RBLCHECK_A_GREYLIST */
  unsigned int percent;     /* tempfail: 0..100 */
  unsigned long throttle;   /* throttle: recipients per connection */
  unsigned long wait;       /* greetwait: milliseconds */
  int pregreet;             /* the condition names pregreet (the log's reason) */
  size_t text;              /* 1 + offset in texts, 0: the default text */
  unsigned long line;
} rblcheck_rule;

/* the arrays grow as they fill, from the heap (rblcheck_policy.c): a
   short policy, read anew for every connection, then lies in a page or two
   instead of touching the start of each array of the largest size (a page
   fault each) */
typedef struct rblcheck_policy {
  unsigned int nlists, nzones, nrules, nnodes;
  unsigned int listcap, rulecap, nodecap;  /* entries allocated */
  unsigned long nglobs;
  int needtxt;      /* a refusal text uses %txt: ask TXT too */
  stralloc globs;   /* NUL-terminated globs, lowercase */
  stralloc texts;   /* NUL-terminated texts of rules */
  unsigned int zonelist[RBLCHECK_LISTS_MAX]; /* per zone: the first list on it */
  rblcheck_list *list;   /* at most RBLCHECK_LISTS_MAX */
  rblcheck_rule *rule;   /* at most RBLCHECK_RULES_MAX */
  rblcheck_node *node;   /* at most RBLCHECK_NODES_MAX */
} rblcheck_policy;

#define RBLCHECK_DEFAULT_REJECT "553 5.7.1 %ip is listed in %lists"
#define RBLCHECK_DEFAULT_TEMPFAIL "451 4.7.1 %ip is listed in %lists, try again later"
#define RBLCHECK_FAILCLOSED_TEXT "451 4.4.3 DNS blocklist lookup failed, try again later"

/* read the policy from c (which the caller opened and frees). 1 ok; 0 a
   mistake in the file: err holds "FILE line N: what" (for sdu_fatal);
   -1 no memory. p may be reused after rblcheck_policy_free. */
int rblcheck_policy_parse(rblcheck_policy *p, sdu_config *c, stralloc *err);
/* open and parse file: 1 ok, 0 mistake (err set), -1 unable to read (errno) */
int rblcheck_policy_load(rblcheck_policy *p, const char *file, stralloc *err);
void rblcheck_policy_free(rblcheck_policy *p);

/* one connection */
typedef struct rblcheck_ctx {
  const rblcheck_policy *p;
  unsigned char state[RBLCHECK_LISTS_MAX];       /* RBLCHECK_PENDING.. per list */
  unsigned char bad[RBLCHECK_LISTS_MAX][4];      /* the answer that was BAD */
  int txtst[RBLCHECK_LISTS_MAX];                 /* per zone: SDU_DNS_* of its TXT */
  const char *txt[RBLCHECK_LISTS_MAX];           /* per zone: its first TXT record */
  size_t txtlen[RBLCHECK_LISTS_MAX];
  const char *rdns;    /* TCPREMOTEHOST, or 0 */
  unsigned int roll;   /* 0..99, random per connection: tempfail P% refuses when roll < P */
  int failclosed;      /* -c */
  int harvest;         /* SDU_HARVEST: nothing is refused */
  int watch;           /* the client is watched for bytes before the greeting */
  int pregreet;        /* it sent some */
  unsigned long early; /* how many were seen */
  int waited;          /* the greetwait is over */
} rblcheck_ctx;

void rblcheck_ctx_init(rblcheck_ctx *x, const rblcheck_policy *p);

typedef struct rblcheck_verdict {
  int rule;            /* the first rule that matched, -1 for none */
  int action;          /* what is done: RBLCHECK_A_* */
  int would;           /* harvest: the refusal not done (else RBLCHECK_A_NONE) */
  int refuse;          /* 1: answer the connection, never start prog */
  int header;          /* 1: pass on through the proxy with the header */
  unsigned long throttle;
  unsigned long greetwait; /* RBLCHECK_A_GREETWAIT: ms to watch, then decide again */
  unsigned int score;
  const char *text;    /* the refusal's template (before %-substitution) */
} rblcheck_verdict;

/* 1 when the verdict is known: the first matching rule is known and, if
   the client is passed on, every list has answered (its names go on); 0 when
   more answers are needed. final: no more answers will come (pending lists
   count as failed; a client that has not talked yet has not pregreeted).
   A greetwait rule that matches a watched client who has not talked, once
   the answers are final, is the verdict RBLCHECK_A_GREETWAIT: watch it
   v->greetwait ms more, set x->waited, decide again. */
int rblcheck_decide(const rblcheck_ctx *x, int final, rblcheck_verdict *v);

/* what one A answer (status as sdu_dnsq's, len/4 addresses) says about list l:
   RBLCHECK_YES, _NO, _FAIL or _BAD (bad4 gets the offending address) */
int rblcheck_classify(const rblcheck_list *l, int status, const char *a, size_t len, unsigned char bad4[4]);

/* copy the results of the queries into x: q[0..nzones) the A queries of
   the zones, then (when txt) their TXT queries in the same order */
void rblcheck_absorb(rblcheck_ctx *x, const sdu_dnsq *q, int txt);

/* the names of the lists the client is on, in policy order, separated by sep */
int rblcheck_lists(stralloc *out, const rblcheck_ctx *x, int sep);
/* names of lists in one state, comma-separated ("" if none) */
int rblcheck_lists_in(stralloc *out, const rblcheck_ctx *x, int state);
/* the template with %ip, %lists, %txt, %% replaced; the caller bounds and
   sanitises the whole (sdu_smtp_fmtreply) */
int rblcheck_text(stralloc *out, const rblcheck_ctx *x, const char *tmpl, const char *ip);
/* the header line "X-RBLCheck: ip=... lists=a,b score=N action=... date=...\n",
   with " mac=HEX" before the line end when k holds a key (sdu_tag.h: the
   MAC of every byte from "ip=" to the blank before "mac="); one physical
   line, never folded. 1 ok, 0 no memory, -1 the crypto library failed */
int rblcheck_header(stralloc *out, const rblcheck_ctx *x, const rblcheck_verdict *v,
  const char *ip, time_t now, const sdu_tagkeys *k);
const char *rblcheck_actionname(int action);

/* 1 when s matches glob ('*' any run, '?' one byte), ASCII case ignored */
int rblcheck_glob(const char *glob, const char *s);
/* "10", "0.5", "2.25": milliseconds, 1 ok (1 ms .. 3600 s), 0 bad */
int rblcheck_seconds(const char *s, unsigned long *ms);
/* $RBLCHECK as rblsmtpd reads $RBLSMTPD: 0 unset (look up), 1 set and empty
   (pass on), 2 refuse permanently, 3 refuse temporarily; for 2 and 3 the
   reply (code included) is put in out */
int rblcheck_envrule(const char *value, stralloc *out);

#endif
