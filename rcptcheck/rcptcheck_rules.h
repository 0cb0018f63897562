/* rcptcheck_rules.h: local-part rules (glob patterns with a text) and the sender blacklist */
#ifndef RCPTCHECK_RULES_H
#define RCPTCHECK_RULES_H

#include <stddef.h>
#include <stralloc.h>

/* shell-style: * any run, ? one byte, [set] [!set] with ranges, \x literal.
   1 when pat matches all of s. Bounded: no recursion, at worst
   plen * slen steps. */
int rc_glob(const char *pat, size_t plen, const char *s, size_t slen);

typedef struct rc_rule { char *pat; size_t plen; char *text; } rc_rule;
typedef struct rc_rules { rc_rule *r; size_t n, max; } rc_rules;

/* Lines "pattern text words ..." (sdu_config syntax, so quote a pattern
   holding '#' or starting with '"'). 0 ok; -1 with errno, or with *err set
   to a message when the file is bad (the caller reports it with the line). */
int rc_rules_load(rc_rules *rs, const char *file, stralloc *err);
int rc_rules_loadbuf(rc_rules *rs, const char *name, const char *buf, size_t len, stralloc *err);
/* the text of the first rule matching addr, or 0 */
const char *rc_rules_match(const rc_rules *rs, const char *addr, size_t len);
void rc_rules_free(rc_rules *rs);

/* Sender blacklist: lines "entry text words ...". An entry with '@' is a
   whole address; otherwise a domain, which covers its subdomains too
   ("linkedin.com" refuses x@mail.linkedin.com). Compared in lower case. */
typedef struct rc_senders { rc_rule *r; size_t n, max; } rc_senders;

int rc_senders_load(rc_senders *ss, const char *file, stralloc *err);
int rc_senders_loadbuf(rc_senders *ss, const char *name, const char *buf, size_t len, stralloc *err);
/* addr lower case; the text of the entry that refuses it, or 0 */
const char *rc_senders_match(const rc_senders *ss, const char *addr, size_t len);
void rc_senders_free(rc_senders *ss);

#endif
