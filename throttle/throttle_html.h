/* throttle_html.h: the morning summary as a self-contained HTML page (inline
   CSS and SVG, no script, no font or image from elsewhere), or a mail with it */
#ifndef THROTTLE_HTML_H
#define THROTTLE_HTML_H

#include <stralloc.h>
#include "throttle_report.h"

/* the page: the summary's numbers, the chart of the last TR_HOURS hours
   (tr_chart), the worst hosts. 1 ok, 0 no memory */
int tr_html(stralloc *out, const tr_stats *s, tr_host **worst, long n, unsigned long long now);
/* a MIME message for qmail-inject or sendmail -t: To: to, the summary as text
   and as the page (multipart/alternative), 7-bit. 1 ok, 0 no memory */
int tr_mail(stralloc *out, const tr_stats *s, tr_host **worst, long n, unsigned long long now, const char *to);
/* 1 to can stand in a To: line (printable, no line break, not too long) */
int tr_mail_address_ok(const char *to);

#endif
