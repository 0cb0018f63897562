/* t_throttle_metrics.c: sdu-report's counters: labels bounded, the state kept, the text format */
#include <stdlib.h>
#include <string.h>
#include "sdu_t.h"
#include "../../throttle/throttle_metrics.h"

int main(void)
{
  T_DONE();
}
