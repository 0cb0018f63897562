/* sdu-chain.c: rblcheck, throttle and rcptcheck in one binary, installed
   under their own names as links to it; a link whose next program is
   another link of it runs that one in the same process (sdu-chain(1)) */
#include "sdu_smtp.h"
#include "sdu_links.h"

static const sdu_applet links[] = {
  { "rblcheck", rblcheck_main },
  { "throttle", throttle_main },
  { "rcptcheck", rcptcheck_main },
  { 0, 0 }
};

int main(int argc, char **argv)
{
  return sdu_chain_main(links, argc, argv);
}
