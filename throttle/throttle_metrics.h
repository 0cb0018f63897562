/* throttle_metrics.h: counters of the sdu links' decision lines, kept from run to
   run, as Prometheus's text format for node_exporter's textfile collector */
#ifndef THROTTLE_METRICS_H
#define THROTTLE_METRICS_H

#include <stddef.h>
#include <stralloc.h>

#define TM_VALUE_MAX 32 /* a label value's bytes */
#define TM_VOCAB 64     /* values of one label, "other" included */
#define TM_LISTS 32     /* list names kept as they come (the operator's lists); the rest are "other" */
#define TM_SERIES 2048  /* series in all: far above what the bounded labels allow */

/* the values one label takes: a fixed known set and "other", or (lists) the
   first TM_LISTS names seen and "other" */
typedef struct tm_vocab {
  char v[TM_VOCAB][TM_VALUE_MAX + 1];
  unsigned int n, open; /* open: names are added as they come, up to TM_LISTS */
} tm_vocab;

typedef struct tm_series { unsigned short metric, a, b; int used; unsigned long long n; } tm_series;

enum { TM_L_NONE = -1, TM_L_LINK, TM_L_ACTION, TM_L_REASON, TM_L_LIST, TM_L_GREY, TM_L_KIND, TM_LABELS };

typedef struct tm_metrics {
  tm_vocab voc[TM_LABELS];
  tm_series s[TM_SERIES];   /* open addressing on (metric, a, b) */
  unsigned int nseries;
  unsigned long long last;  /* the latest stamp read, Unix seconds (0 none) */
} tm_metrics;

void tm_init(tm_metrics *m);
/* one raw log line (no newline): 1 a decision counted, 0 not one */
int tm_feed(tm_metrics *m, const char *line, size_t len);
/* the counters as lines "c metric a b n" and "last secs" for the state file:
   1 ok, 0 no memory */
int tm_save(stralloc *out, const tm_metrics *m);
/* one line of the state file: 1 taken, 0 not such a line (or malformed) */
int tm_load(tm_metrics *m, const char *line, size_t len);
/* the exposition text: 1 ok, 0 no memory */
int tm_prom(stralloc *out, const tm_metrics *m);
/* the names of the metrics written, one per call: i from 0, 0 past the last */
const char *tm_name(unsigned int i);

#endif
