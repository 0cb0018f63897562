/* rcptcheck_expire.h: dated (user.date.DD-MM-YYYY) and counted (user.N.count) addresses */
#ifndef RCPTCHECK_EXPIRE_H
#define RCPTCHECK_EXPIRE_H

#include <stddef.h>
#include <time.h>

#define RC_COUNT_MAX 1000000UL

enum { RC_FORM_NONE, RC_FORM_DATE, RC_FORM_COUNT };

typedef struct rc_form {
  int kind;
  size_t baselen;      /* the user's local part is local[0..baselen) */
  unsigned long count; /* RC_FORM_COUNT: messages accepted */
  int year, month, day; /* RC_FORM_DATE */
} rc_form;

/* recognises the two forms in a local part (the part before '@');
   returns the kind (RC_FORM_NONE for anything else, bad dates included) */
int rc_form_parse(const char *local, size_t len, rc_form *f);
/* 1 while a dated address is still valid: until the end of its day, local
   time; 0 after */
int rc_form_date_ok(const rc_form *f, time_t now);

#endif
