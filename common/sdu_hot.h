/* sdu_hot.h: the section of the variables a chain link writes at every connection */
#ifndef SDU_HOT_H
#define SDU_HOT_H

/* The small variables a chain link writes at every connection, in one
   section of their own (sdu_hot) that the linker places whole after .data:
   spread over .bss between the DNS state, the policy and the stdio
   buffers they cost a page fault each (~9 us on a virtual machine) at
   every exec; together one or two. Only writable, non-const variables. */
#define SDU_HOT __attribute__((section("sdu_hot")))

/* Arrays on pages of their own (a link touches the first page or few of
   them). The musl build (SDU_PAGES_SECTION, Makefile) puts them in a
   section of their own that chain/musl.ld places after .bss, so that .bss
   needs no page alignment and begins in the page of .data's last bytes,
   the one the kernel writes at exec anyway. A name in .lbss makes it
   NOBITS (zeros take no room in the file) and other links place it after
   .bss too; elsewhere the arrays are .bss, aligned. */
#ifdef SDU_PAGES_SECTION
#define SDU_PAGES __attribute__((section(".lbss.sdu_pages"), aligned(4096)))
#else
#define SDU_PAGES __attribute__((aligned(4096)))
#endif

#endif
