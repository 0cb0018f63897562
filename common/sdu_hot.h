/* sdu_hot.h: the section of the variables a chain link writes at every connection */
#ifndef SDU_HOT_H
#define SDU_HOT_H

/* The small variables a chain link writes at every connection, in one
   section of their own (sdu_hot) that the linker places whole after .data:
   spread over .bss between the DNS state, the policy and the stdio
   buffers they cost a page fault each (~9 us on a virtual machine) at
   every exec; together one or two. Only writable, non-const variables. */
#define SDU_HOT __attribute__((section("sdu_hot")))

#endif
