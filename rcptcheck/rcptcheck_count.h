/* rcptcheck_count.h: the counts of counted addresses, kept in the LMDB state store */
#ifndef RCPTCHECK_COUNT_H
#define RCPTCHECK_COUNT_H

#include "sdu_state.h"
#include "rcptcheck_session.h"

#define RC_COUNT_TABLE "rcptcount"
#define RC_COUNT_KEEP (400UL * 86400) /* a count is forgotten this long after its first message */

typedef struct rc_count { sdu_state st; stralloc val; } rc_count;

/* opens table RC_COUNT_TABLE in dir and fills c: 0 ok, -1 (sdu_state_error;
   c is filled all the same, with a get and add that fail) */
int rc_count_open(rc_count *k, const char *dir, rc_counter *c);
void rc_count_close(rc_count *k);

#endif
