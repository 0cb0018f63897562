/* sdu_exec.c: the exec of the next program in the chain (sdu_env.h); an
   object of its own, so that a program that never runs a next one (spamgrab)
   does not link the proxy and TLS that a link of the chain may need */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <buffer.h>
#include "sdu_env.h"
#include "sdu_msg.h"
#include "sdu_smtp.h"

void sdu_exec_next(char **argv)
{
  int r;
  /* anything buffered for fd 1 or 2 would be lost across exec */
  buffer_flush(buffer_1);
  buffer_flush(buffer_2);
  /* the next link of this binary runs here; links waiting in the middle
     start the program themselves (sdu-chain(1)) */
  r = sdu_chain_next(argv);
  if (r >= 0) exit(r);
  /* a path: no search (musl's execvp reads $PATH first all the same, its
     name a string on a page a connection touches for nothing else); a
     file the kernel does not run (a script without #!) goes on to execvp,
     which runs it as glibc's does, with /bin/sh */
  if (!strchr(argv[0], '/') || (execve(argv[0], argv, environ) == -1 && errno == ENOEXEC))
    execvp(argv[0], argv);
  sdu_fatalsys(SDU_EXIT_TEMP, "unable to run ", argv[0]);
}
