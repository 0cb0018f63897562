/* tls_floor: the server's CPU for one TLS handshake, measured alone: the
   floor a STARTTLS session through the chain is compared with (bench/tls.sh).
   The server side is common/sdu_tls, as the proxy runs it (configuration
   from SDU_TLS_CERT and SDU_TLS_KEY); the client is this program's parent
   or another thread, its CPU never counted. Three figures, per handshake:
   - cold_us: what a server pays for one handshake in a process of its own,
     as the proxy does (one process per connection): a fresh exec of this
     program reads the certificate and key, makes the context (OpenSSL's
     first use in a process) and does the handshake; its CPU (wait4's
     rusage) less that of the same exec doing nothing (the process itself
     is the plaintext session's cost already);
   - load_us and handshake_us: the same in one process that keeps going
     (OpenSSL warm): reading the files and making the context, then the
     handshake's own CPU (its cryptography).
   usage: tls_floor N   (prints "cold_us=... load_us=... handshake_us=...")
   tls_floor -s FD and tls_floor -0 are the children of the cold runs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <openssl/ssl.h>
#include "sdu_tls.h"
#include "sdu_msg.h"

static int n;
static int fds[2][2];   /* per round: the pair, handed over by the main thread */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int round_ready = -1;
static SSL_CTX *cctx;

static void connect_one(int fd)
{
  SSL *s = SSL_new(cctx);
  char c;
  SSL_set_fd(s, fd);
  if (SSL_connect(s) != 1) { fprintf(stderr, "tls_floor: client handshake failed\n"); exit(111); }
  /* TLS 1.3: the server reads our Finished in its last step; wait for it to close */
  while (SSL_read(s, &c, 1) > 0) ;
  SSL_free(s);
  close(fd);
}

static void *client(void *arg)
{
  int i;
  (void) arg;
  for (i = 0; i < n; ++i) {
    int fd;
    pthread_mutex_lock(&mu);
    while (round_ready < i) pthread_cond_wait(&cv, &mu);
    fd = fds[i % 2][1];
    pthread_mutex_unlock(&mu);
    connect_one(fd);
  }
  return 0;
}

static double cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* the server side of one handshake on fd, as the proxy does it; the exit code */
static int serve(int fd)
{
  sdu_tls *s = sdu_tls_server();
  int r;
  if (!s) return 111;
  if (sdu_tls_accept(s, fd, fd) != 0) return 111;
  while ((r = sdu_tls_handshake(s)) == 0) ;   /* blocking socket: no busy loop */
  sdu_tls_free(s);
  close(fd);
  return r < 0 ? 111 : 0;
}

/* one fresh exec of this program (with TLS: serving one handshake to us);
   its CPU in microseconds */
static double child(const char *self, int tls)
{
  int sp[2] = { -1, -1 }, st;
  char num[16];
  struct rusage ru;
  pid_t pid;
  if (tls && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1) exit(111);
  pid = fork();
  if (pid == -1) exit(111);
  if (!pid) {
    char *argv[4];
    snprintf(num, sizeof num, "%d", sp[0]);
    argv[0] = "tls_floor"; argv[1] = tls ? "-s" : "-0"; argv[2] = num; argv[3] = 0;
    if (tls) close(sp[1]);
    execv(self, argv);
    _exit(111);
  }
  if (tls) { close(sp[0]); connect_one(sp[1]); }
  if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
    fprintf(stderr, "tls_floor: the %s child failed\n", tls ? "TLS" : "empty");
    exit(111);
  }
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
  pthread_t th;
  double load = 0, shake = 0, cold = 0, empty = 0, t;
  char self[4096];
  ssize_t sl;
  int i;
  sdu_iam("tls_floor");
  if (argc > 1 && !strcmp(argv[1], "-0")) return 0;
  if (argc > 2 && !strcmp(argv[1], "-s")) return serve(atoi(argv[2]));
  signal(SIGPIPE, SIG_IGN);
  n = argc > 1 ? atoi(argv[1]) : 200;
  if (n < 1) n = 1;
  sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) return 111;
  self[sl] = 0;
  cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, 0);
  /* cold: fresh processes, TLS and empty taking turns */
  for (i = 0; i < n; ++i) {
    cold += child(self, 1);
    empty += child(self, 0);
  }
  /* warm: one process */
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, 0);
  if (pthread_create(&th, 0, client, 0)) return 111;
  for (i = 0; i < n; ++i) {
    sdu_tls *s;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i % 2]) == -1) return 111;
    t = cpu();
    s = sdu_tls_server();   /* read and check the certificate and key */
    load += cpu() - t;
    if (!s) { fprintf(stderr, "tls_floor: SDU_TLS_CERT unusable\n"); return 111; }
    pthread_mutex_lock(&mu);
    round_ready = i;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    t = cpu();
    if (sdu_tls_accept(s, fds[i % 2][0], fds[i % 2][0]) != 0) return 111;
    {
      int r;
      while ((r = sdu_tls_handshake(s)) == 0) ;
      if (r < 0) return 111;
    }
    sdu_tls_free(s);
    shake += cpu() - t;
    close(fds[i % 2][0]);
  }
  pthread_join(th, 0);
  SSL_CTX_free(cctx);
  printf("cold_us=%.0f load_us=%.0f handshake_us=%.0f\n", (cold - empty) / n, load / n, shake / n);
  return 0;
}
