/* rcptcheck-cpu.c: run a program, print the CPU seconds it and its children used and the wall time */
#include <unistd.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
  struct rusage ru;
  struct timeval t0, t1;
  int status;
  pid_t pid;
  if (argc < 2) { fprintf(stderr, "usage: rcptcheck-cpu prog [ arg ... ]\n"); return 100; }
  gettimeofday(&t0, 0);
  pid = fork();
  if (pid == -1) { perror("rcptcheck-cpu: fork"); return 111; }
  if (pid == 0) { execvp(argv[1], argv + 1); perror("rcptcheck-cpu: exec"); _exit(111); }
  if (waitpid(pid, &status, 0) == -1) { perror("rcptcheck-cpu: wait"); return 111; }
  gettimeofday(&t1, 0);
  getrusage(RUSAGE_CHILDREN, &ru);
  fprintf(stderr, "cpu=%.4f wall=%.4f\n",
    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
    (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 111;
}
