/* sdu_addr.h: the path of MAIL FROM and RCPT TO, parsed to a canonical address */
#ifndef SDU_ADDR_H
#define SDU_ADDR_H

#include <stddef.h>

/* RFC 5321 4.5.3.1; qmail takes more, we keep to the RFC */
#define SDU_LOCAL_MAX 64   /* local part, octets, as we write it */
#define SDU_DOMAIN_MAX 255 /* domain, octets */
#define SDU_LABEL_MAX 63   /* one label of a domain (RFC 1035) */
#define SDU_PATH_MAX 256   /* the path, '<' and '>' included */
#define SDU_ADDR_MAX (SDU_PATH_MAX - 2) /* the canonical address is never longer than the path */

typedef struct sdu_path {
  char addr[SDU_ADDR_MAX + 1]; /* local@domain, 0-terminated; "" for <> */
  size_t len;
  size_t atpos;       /* index of the '@', or len when there is none */
  int null;           /* the path was <> */
  const char *params; /* ESMTP parameters after the path, inside arg, untouched */
  size_t paramslen;   /* 0 when there are none */
  const char *err;    /* on failure: static reply text without the code */
} sdu_path;

/* Parses arg[0..len), the argument of MAIL or RCPT after the verb
   ("FROM:<a@b.example> SIZE=100", "TO: <x@y.example>"); arg need not be
   0-terminated and is never read past len. The verb's "FROM:"/"TO:" is
   matched case-insensitively, blanks after the colon are allowed.
   Canonical form: source routes dropped; domain lower-cased, trailing dot
   removed; local part kept as written, except that a quoted local part
   whose content is a dot-atom loses its quotes and other quoted ones keep
   only the needed backslashes; <postmaster> (RCPT only) gives "postmaster".
   Refused: missing <>, NUL and control bytes anywhere, 8-bit bytes in the
   path (no SMTPUTF8), empty local part or domain, bad dots, domain labels
   other than letter/digit/hyphen, address literals other than IPv4 and
   IPv6, anything over the limits above, <> for RCPT.
   Returns 0, or the SMTP reply code (501 command syntax, 553 address
   syntax) with p->err set to the text ("5.1.3 local part too long"). */
int sdu_smtp_path(const char *arg, size_t len, int ismail, sdu_path *p);

/* ASCII lower case in place */
void sdu_addr_lower(char *s, size_t len);

#endif
