/* sdu-maxrss.c: run a program and print its peak resident memory (KiB) on fd 2,
   so that tests and benchmarks can check that memory stays bounded */
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fmt.h>
#include <buffer.h>
#include "sdu_msg.h"
#include "sdu_env.h"

int main(int argc, char **argv)
{
  struct rusage ru;
  int status;
  pid_t pid;
  char num[SDU_FMT_ULONG];

  sdu_iam("sdu-maxrss");
  if (argc < 2) sdu_usage("sdu-maxrss prog [ arg ... ]");
  pid = fork();
  if (pid == -1) sdu_fatalsys(111, "unable to fork");
  if (pid == 0) sdu_exec_next(argv + 1);
  if (waitpid(pid, &status, 0) == -1) sdu_fatalsys(111, "unable to wait");
  getrusage(RUSAGE_CHILDREN, &ru);
  num[sdu_fmt_ulong(num, (unsigned long) ru.ru_maxrss)] = 0;
  buffer_puts(buffer_2, "maxrss_kib=");
  buffer_puts(buffer_2, num);
  buffer_putsflush(buffer_2, "\n");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 111;
}
