/* sdu_links.h: the links of the chain, one binary (sdu-chain(1)) */
#ifndef SDU_LINKS_H
#define SDU_LINKS_H

int rblcheck_main(int argc, char **argv);
int throttle_main(int argc, char **argv);
int rcptcheck_main(int argc, char **argv);

#endif
