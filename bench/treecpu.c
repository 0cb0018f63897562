/* treecpu.c: run a server (tcpserver) and, once it is gone, write the CPU time
   of its whole process tree to a file: every descendant that its parent
   reaped (tcpserver reaps its connections' processes, the proxy its
   downstream) is in RUSAGE_CHILDREN. SIGTERM, SIGINT and SIGHUP, which stop
   the server's process group, only end the wait here. */
#include <unistd.h>
#include <stdio.h>
#include <signal.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define USAGE "treecpu file prog [ arg ... ]"

static double secs(struct timeval t) { return (double) t.tv_sec + (double) t.tv_usec / 1e6; }

int main(int argc, char **argv)
{
  struct rusage ru;
  FILE *f;
  int status;
  pid_t pid;
  if (argc < 3) { fprintf(stderr, "usage: %s\n", USAGE); return 100; }
  signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN); signal(SIGHUP, SIG_IGN);
  pid = fork();
  if (pid == -1) { perror("treecpu: fork"); return 111; }
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGHUP, SIG_DFL);
    execvp(argv[2], argv + 2);
    perror("treecpu: exec");
    _exit(111);
  }
  while (waitpid(pid, &status, 0) == -1)
    if (errno != EINTR) { perror("treecpu: wait"); return 111; }
  getrusage(RUSAGE_CHILDREN, &ru);
  f = fopen(argv[1], "w");
  if (!f) { perror("treecpu: open"); return 111; }
  fprintf(f, "cpu=%.3f user=%.3f sys=%.3f\n", secs(ru.ru_utime) + secs(ru.ru_stime), secs(ru.ru_utime), secs(ru.ru_stime));
  if (fclose(f)) { perror("treecpu: write"); return 111; }
  return 0;
}
