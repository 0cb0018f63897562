/* sdu_t_redis.h: a redis-server of a unit test's own, for the cases that run on both stores */
#ifndef SDU_T_REDIS_H
#define SDU_T_REDIS_H

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* a redis-server on the unix socket dir/redis.sock (its path in sock, at
   least 400 bytes), its log beside it, no persistence: its pid, 0 when
   there is no redis-server, -1 when it does not start within 10 s */
static inline pid_t t_redis_start(const char *reldir, char *sock)
{
  char dir[PATH_MAX], logf[600];
  struct sockaddr_un sa;
  pid_t pid;
  int i;
  if (!realpath(reldir, dir) || strlen(dir) > 300) return -1;
  snprintf(sock, 400, "%.300s/redis.sock", dir);
  snprintf(logf, sizeof logf, "%.300s/redis.log", dir);
  if (system("command -v redis-server > /dev/null 2>&1") != 0) return 0;
  pid = fork();
  if (pid == -1) return -1;
  if (!pid) {
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
      "--dir", dir, "--save", "", "--appendonly", "no", "--logfile", logf, "--daemonize", "no", (char *) 0);
    _exit(127);
  }
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, sock, strlen(sock) + 1);
  for (i = 0; i < 500; ++i) { /* up to 10 s for the socket to take connections */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), up;
    up = fd != -1 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    if (fd != -1) close(fd);
    if (up) return pid;
    if (waitpid(pid, 0, WNOHANG) == pid) return -1;
    poll(0, 0, 20);
  }
  kill(pid, SIGTERM);
  waitpid(pid, 0, 0);
  return -1;
}

static inline void t_redis_stop(pid_t pid)
{
  kill(pid, SIGTERM);
  waitpid(pid, 0, 0);
}

#endif
