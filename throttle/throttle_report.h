/* throttle_report.h: reading the decision lines of all sdu links back, for sdu-report */
#ifndef THROTTLE_REPORT_H
#define THROTTLE_REPORT_H

#include <stddef.h>
#include <stralloc.h>
#include "sdu_ip.h"

#define TR_FIELDS 32     /* key=value pairs looked at per line */
#define TR_LINE_MAX 4096 /* longer lines are not decision lines */
#define TR_PROGS 16      /* links told apart; more are counted as the last */
#define TR_LISTS_MAX 64  /* bytes of a host's lists kept */
#define TR_NAME_MAX 80   /* a tally's name */
#define TR_HOSTS_MAX (1UL << 17) /* hosts counted one by one (about 90 MB); the rest only in the totals */
#define TR_TRIPLETS_MAX (1UL << 18) /* triplets followed one by one (at most 8 MB) */
#define TR_TALLIES_MAX 100 /* names in one tally (by list, by reason, ...), "other" included */

typedef struct tr_field { const char *k, *v; size_t klen, vlen; } tr_field;

/* one line "[@tai64n ]prog: k=v k=v ..." */
typedef struct tr_line {
  int stamped; unsigned long long when; /* the @tai64n stamp, as Unix seconds */
  const char *prog; size_t proglen;
  tr_field f[TR_FIELDS]; unsigned int n;
} tr_line;

/* 1 a decision line (prog, then only key=value words), 0 anything else */
int tr_parse(tr_line *l, const char *s, size_t len);
/* "@4000000068..." (25 bytes at least): 1 and the Unix seconds, 0 not a stamp */
int tr_tai64n(const char *s, size_t len, unsigned long long *secs);
/* the value of key, or 0 */
const char *tr_get(const tr_line *l, const char *key, size_t *vlen);

/* what a decision line is about; the summary (tr_stats) and the metrics
   (tm_metrics) read the lines through this one reader */
enum { TR_K_NONE, TR_K_CONN, TR_K_RCPT, TR_K_SENDER, TR_K_GREY, TR_K_SPAMGRAB };
typedef struct tr_dec {
  tr_line l;
  int kind;                    /* TR_K_ */
  const char *ip, *action;     /* not for TR_K_SPAMGRAB */
  size_t iplen, alen;
  int harvest, refused;        /* action=harvest; a refusing action (reject, tempfail, ...) */
  char q[TR_LINE_MAX + 64];    /* spamgrab's line out of qmail-send's, when l points here */
} tr_dec;
/* a raw log line (no newline): its kind (d->kind), TR_K_NONE not a decision */
int tr_decision(tr_dec *d, const char *line, size_t len);
/* a counter's value (msgs=3): at most 9 digits read */
unsigned long tr_num(const char *v, size_t len);
/* 1 action is a refusal */
int tr_refuses(const char *action, size_t alen);

typedef struct tr_host {
  char ip[SDU_IP_FMT];
  int v6, used;
  unsigned long conn[TR_PROGS]; /* connection lines per link: a connection is seen by every link it passes */
  unsigned long refused, would, rcptrefused;
  char lists[TR_LISTS_MAX];
  char why[TR_NAME_MAX];        /* the last refusal: "rblcheck:reject" */
} tr_host;

typedef struct tr_tally { char name[TR_NAME_MAX]; unsigned long n; } tr_tally;
typedef struct tr_tallies { tr_tally *t; unsigned int len, a; } tr_tallies;

/* a greylisted triplet: the first 8 bytes of its hash; TR_GREYLISTED it was
   refused as new (or late), TR_CAMEBACK a later line names it */
#define TR_GREYLISTED 1
#define TR_CAMEBACK 2
typedef struct tr_triplet { unsigned long long h; int flags; } tr_triplet;

/* the chart of the HTML summary: connections per hour, the last TR_HOURS hours */
#define TR_HOURS 24
typedef struct tr_hour {
  unsigned long conn[TR_PROGS];    /* connection lines per link */
  unsigned long refused[TR_PROGS]; /* refused for good (reject) per link */
  unsigned long tempfail;          /* refused for now (tempfail, failclosed), any link */
  unsigned long greylisted;        /* greylisted and nothing passed (greylisted=, msgs=0) */
} tr_hour;

typedef struct tr_stats {
  unsigned long long since;     /* lines stamped earlier are skipped (0: none) */
  tr_host *h; size_t hcap, hlen;
  tr_host over;                 /* the hosts past TR_HOSTS_MAX, all in one (never among the worst) */
  unsigned long overhosts;      /* lines about them */
  char prog[TR_PROGS][32]; unsigned int nprogs;
  tr_tallies bylink, bylist, byrule, byreason, rcptby;
  tr_tallies sgreason, sgby;    /* spamgrab: why it passed a message, the foreign "by" names */
  unsigned long sglines;        /* spamgrab's decision lines */
  unsigned long lines, used, old, refused, would, rcptrefused, rcptaccepted, rcptwould,
    sendersrefused, msgs;
  unsigned long nonsmtp;        /* clients whose first line was HTTP (reason=nonsmtp) */
  unsigned long long first, last; /* stamps of the first and last line used */
  /* throttle's greylisting decisions (grey=), per recipient */
  unsigned long greynew, greyearly, greylate, greypass, greyknown, greyauto, greywould;
  tr_triplet *trip; size_t tripcap, triplen; /* open addressing, tripcap a power of 2 */
  tr_triplet tripover; unsigned long tripsover; /* the decisions about triplets past TR_TRIPLETS_MAX */
  unsigned long long hourend;     /* the chart's end (a full hour after the clock), 0 no chart */
  tr_hour hour[TR_HOURS];         /* hour[TR_HOURS - 1] ends at hourend */
} tr_stats;

void tr_init(tr_stats *s, unsigned long long since);
/* count connections per hour too, for the TR_HOURS hours up to now */
void tr_chart(tr_stats *s, unsigned long long now);
/* one raw log line (no newline): 1 used, 0 skipped, -1 no memory. Also
   spamgrab's lines as qmail-send logs them ("delivery 7: success:
   spamgrab:_kind=double_ip=-_action=pass_..._by=0/did_0+0+1/") */
int tr_feed(tr_stats *s, const char *line, size_t len);
void tr_free(tr_stats *s);

/* connections of a host: the most any one link saw */
unsigned long tr_conns(const tr_host *h);
unsigned long tr_total_conns(const tr_stats *s);

/* the worst hosts: listed, or refused a connection, with at least minconn connections,
   ranked by connections (then refusals, then address); at most max of them.
   *out is malloc'ed (free it); returns how many, or -1 no memory */
long tr_worst(const tr_stats *s, unsigned long minconn, unsigned long max, tr_host ***out);

enum { TR_TABLE, TR_NFT, TR_TCPRULES };
/* appends the hosts in the given form: 1 ok, 0 no memory; nft elements
   carry the timeout text ("6h") */
int tr_format(stralloc *out, tr_host **h, long n, int form, const char *timeout);
/* the tallies, most first (then by name) */
void tr_sort(tr_tallies *t);
/* the triplets greylisted, and those of them no later line named */
void tr_grey_gone(const tr_stats *s, unsigned long *trips, unsigned long *gone);
/* "2023-11-14 22:13:20" (UTC): 1 ok, 0 no memory */
int tr_fmtime(stralloc *out, unsigned long long t);
/* appends the morning summary: 1 ok, 0 no memory */
int tr_summary(stralloc *out, const tr_stats *s, unsigned long long now);

#endif
