/* spamgrab_conf.h: spamgrab's configuration file and its defaults */
#ifndef SPAMGRAB_CONF_H
#define SPAMGRAB_CONF_H

#include <stralloc.h>
#include "sdu_tag.h"

#define SG_HOSTS_MAX 64
#define SG_LISTS_N 32
#define SG_OPS_MAX 16
#define SG_ZONES_MAX 8
#define SG_ARGS_MAX 16

typedef struct sg_operator { const char *list, *addr; } sg_operator;
typedef struct sg_czone { const char *zone; int perip; } sg_czone;

typedef struct sg_conf {
  const char *hosts[SG_HOSTS_MAX + 1]; /* our host names, 0-terminated */
  unsigned int nhosts;
  const char *qmail;                /* qmail's root, for control/me and control/locals */
  const char *state;                /* state directory (LMDB) */
  const char *review;               /* Maildir for operator reports */
  const char *from;                 /* From: and envelope sender of reports */
  const char *inject[SG_ARGS_MAX + 1]; /* program and its first arguments */
  int sendmail;                     /* inject is "sendmail -t" style: recipients from To: */
  const char *dialup[SG_LISTS_N + 1];  /* rblcheck lists that mean dial-up */
  sg_operator ops[SG_OPS_MAX];
  unsigned int nops;
  sg_czone zones[SG_ZONES_MAX];
  unsigned int nzones;
  const char *psl;                  /* Public Suffix List file, 0 for libpsl's newest */
  const char *zonetext;             /* the TXT of the -z zone */
  int ptr;                          /* ask the reverse DNS anew */
  unsigned long hold;               /* seconds a host stays known */
  unsigned long interval;           /* seconds between two reports about a host */
  unsigned long cap;                /* reports per recipient per day */
  unsigned long maxsize;            /* bytes of a message attached to a report */
  unsigned long maxmessage;         /* larger input is left to a person */
  unsigned long dnstimeout;         /* milliseconds for all contact lookups */
  const char *tagkey;               /* the site key file that checks rblcheck's tag, 0 for none */
  sdu_tagkeys keys;                 /* its keys, once sg_conf_keys has read them */
  unsigned long giveup;             /* seconds after qmail-send made it: no more 111 for the contact */
  void *keep[3];                    /* what the strings above point into */
  unsigned int nkeep;
} sg_conf;

void sg_conf_defaults(sg_conf *c);
/* read file (its strings stay allocated): 1 ok, 0 error described in err
   (errno set when it is a system error, else 0) */
int sg_conf_read(sg_conf *c, const char *file, stralloc *err);
/* without "me" lines: the names in control/me and control/locals under c->qmail;
   1 ok, 0 error in err (a missing file is no error) */
int sg_conf_qmailhosts(sg_conf *c, stralloc *err);
/* c->tagkey's keys into c->keys (none without tagkey): 1 read, 0 bad
   format, -1 unreadable (errno), the message in err (sdu_tagkeys_load) */
int sg_conf_keys(sg_conf *c, stralloc *err);
/* 1 when list is one of the dial-up lists */
/* release what sg_conf_read and sg_conf_qmailhosts allocated */
void sg_conf_free(sg_conf *c);
int sg_conf_isdialup(const sg_conf *c, const char *list, unsigned long len);

#endif
