/* spamgrab_parse.h: double-bounces taken apart: the original, our Received line, the rblcheck tag */
#ifndef SPAMGRAB_PARSE_H
#define SPAMGRAB_PARSE_H

#include <stddef.h>
#include "sdu_ip.h"

#define SG_MIME_DEPTH 6      /* nested multiparts followed */
#define SG_FIELD_MAX 2048    /* header field bytes looked at once unfolded */
#define SG_RCPT_MAX 16       /* original recipients remembered */
#define SG_ADDR_MAX 254
#define SG_HOST_MAX 255
#define SG_LISTS_MAX 255     /* rblcheck list names, comma-separated */
#define SG_DATE_MAX 63

typedef struct sg_span { const char *s; size_t len; } sg_span;

/* what the input is */
enum {
  SG_GARBAGE = 0,   /* no header block, not a mail message */
  SG_OTHER,         /* a message, but no bounce we know */
  SG_SINGLE,        /* an ordinary bounce: for a person */
  SG_TRUNCATED,     /* a double-bounce whose original could not be found */
  SG_DOUBLE         /* a double-bounce with its original */
};

/* the client as our own hosts saw it */
typedef struct sg_client {
  int found;                        /* our trusted Received line was found */
  sdu_ip ip;
  char ip_s[SDU_IP_FMT];
  char rdns[SG_HOST_MAX + 1];       /* tcpserver's name of the client, "unknown" */
  char helo[SG_HOST_MAX + 1];
  char by[SG_HOST_MAX + 1];         /* our host that wrote the line */
  char date[SG_DATE_MAX + 1];       /* the date of our Received line */
  int tag;                          /* a trusted X-RBLCheck tag was found */
  char lists[SG_LISTS_MAX + 1];     /* its lists, comma-separated, "" for none */
  int untrusted_tags;               /* X-RBLCheck headers ignored */
  sg_span tagline;                  /* that tag's value, its first physical line only */
  const char *tagstate;             /* for the log: trusted none nomac badmac stale (sg_tag_check) */
} sg_client;

typedef struct sg_parsed {
  int kind;
  sg_span inner;                    /* the inner bounce (SG_DOUBLE, SG_TRUNCATED) */
  sg_span orig;                     /* the original message (or only its headers) */
  int headers_only;
  char mailfrom[SG_ADDR_MAX + 1];   /* the original's envelope sender, "" unknown */
  char rcpt[SG_RCPT_MAX][SG_ADDR_MAX + 1]; /* its recipients at our hosts */
  unsigned int nrcpt;
  sg_client client;
} sg_parsed;

/* the header block of msg: *hlen bytes of fields, the body starting at *body
   (len when there is none); 1 when msg starts with a header field or an
   empty line (a message without fields), 0 when it does not */
int sg_split(const char *msg, size_t len, size_t *hlen, size_t *body);

/* the next field of a header block from *pos: name (without ':') and raw value
   (folding kept, without the final line end); lines that are no field are
   skipped. 1 found, 0 at the end. */
int sg_field_next(const char *h, size_t hlen, size_t *pos, sg_span *name, sg_span *value);
/* the first field called name (case-insensitive) */
int sg_field_find(const char *h, size_t hlen, const char *name, sg_span *value);
/* value unfolded into out (line ends and tabs become spaces, outer blanks
   removed), cut to max - 1 bytes, NUL-terminated; returns the length */
size_t sg_unfold(char *out, size_t max, const char *v, size_t len);

/* the original inside a bounce message (headers and body): the last
   message/rfc822 (else text/rfc822-headers) part of a MIME bounce, or what
   follows a known "copy of the message" line. 1 found, 0 not. */
int sg_original(const char *bounce, size_t len, sg_span *orig, int *headers_only);

/* the parts of a Received field as qmail-smtpd writes it
   ("from RDNS (HELO h) (info@IP) by HOST with SMTP; DATE"), also with
   "[IP]" as other MTAs write it: 1 parsed, 0 not of that form */
typedef struct sg_received {
  sdu_ip ip;
  char rdns[SG_HOST_MAX + 1], helo[SG_HOST_MAX + 1], by[SG_HOST_MAX + 1];
  char date[SG_DATE_MAX + 1];
} sg_received;
int sg_received_parse(const char *v, size_t len, sg_received *r);

/* rblcheck's tag "ip=192.0.2.7 lists=dul,pbl action=throttle" (words
   key=value; lists comma-separated, "-" for none; unknown keys ignored):
   1 with ip and lists ("" for none) set, 0 malformed. The one place that
   knows the tag's format. */
int sg_tag_parse(const char *v, size_t len, sdu_ip *ip, char *lists, size_t listsmax);

/* the client from the original's header block: the topmost Received line
   written "by" one of hosts (0-terminated list, compared case-insensitively),
   above which only lines of our own hosts may stand; the X-RBLCheck tag only
   when it is the field right below that line and names the same address
   (read from its first physical line: rblcheck never folds it; its MAC is
   checked apart, by sg_tag_check) */
int sg_client_find(const char *h, size_t hlen, const char *const *hosts, sg_client *c);

/* the whole input: a double-bounce (or, when manual, the spam itself);
   p->kind says what was found, p->client.found whether the client is known.
   Returns p->kind. */
int sg_parse(sg_parsed *p, const char *msg, size_t len, int manual, const char *const *hosts);

#endif
