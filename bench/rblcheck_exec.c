/* rblcheck_exec.c: the benchmark's anchor, a chain link that does nothing but exec the next program */
#include <unistd.h>

int main(int argc, char **argv)
{
  if (argc < 2) return 100;
  execvp(argv[1], argv + 1);
  return 111;
}
