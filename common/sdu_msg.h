/* sdu_msg.h: fatal and warning messages on fd 2, exit codes, decision log */
#ifndef SDU_MSG_H
#define SDU_MSG_H

#include <stddef.h>
#include <errmsg.h>
#include <stralloc.h>
#include "sdu_hot.h"


#define SDU_EXIT_PERM 100 /* usage or permanent configuration error */
#define SDU_EXIT_TEMP 111 /* temporary or system error */

/* errmsg's carp writes to fd 2, prefixed by the name given to sdu_iam */
#define sdu_fatal(code, ...) do { carp("fatal: ", __VA_ARGS__); sdu_exit(code); } while (0)
#define sdu_fatalsys(code, ...) do { carpsys("fatal: ", __VA_ARGS__); sdu_exit(code); } while (0)
#define sdu_warn(...) carp("warning: ", __VA_ARGS__)
#define sdu_warnsys(...) carpsys("warning: ", __VA_ARGS__)

void sdu_iam(const char *prog); /* also: getopt says nothing itself (opterr = 0) */
/* decimal digits of u into dest (0: only count them); returns the length.
   Debian's fmt.h declares libowfat's fmt_ulong pure, which lets the
   compiler assume it writes nothing: use this one instead */
#define SDU_FMT_ULONG 21
size_t sdu_fmt_ulong(char *dest, unsigned long u);
const char *sdu_prog(void);
void sdu_nomem(void);
void sdu_usage(const char *usage);
/* exit(code), after sdu_exit_hook: links of the chain waiting in this
   process to stand in the middle see a downstream that failed */
void sdu_exit(int code);
extern void (*sdu_exit_hook)(int code);

/* printable copy of s[0..len), cut to max bytes; anything outside
   0x21..0x7e (and space unless keepspace) becomes '_' */
int sdu_printable(stralloc *out, const char *s, size_t len, size_t max, int keepspace);

/* one decision per line: "prog: k=v k=v\n", written in one write(2) */
typedef struct sdu_log { stralloc sa; } sdu_log;
void sdu_log_start(sdu_log *l);
void sdu_log_kv(sdu_log *l, const char *key, const char *value);
void sdu_log_kvb(sdu_log *l, const char *key, const char *value, size_t len);
void sdu_log_kvu(sdu_log *l, const char *key, unsigned long value);
/* " k=v k=v" that every later line of this process ends with: the
   proxy's tls= and cipher= once the client started TLS ("" for none) */
void sdu_log_session(const char *fields);
/* writes the line to fd (2 in programs), then frees it */
int sdu_log_emit(sdu_log *l, int fd);
/* the engine's own decisions, one line on fd 2: "ip=IP action=A [would=W]
   reason=R" (the proxy's bare LF and non-SMTP refusals, the responder's) */
void sdu_log_decision(const char *ip, const char *action, const char *would, const char *reason);

#define SDU_LOG_VALUE_MAX 256

#endif
