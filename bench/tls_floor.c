/* tls_floor: the server's CPU for one TLS handshake, measured alone: the
   floor a STARTTLS session through the chain is compared with (bench/tls.sh).
   The server side runs in the main thread through common/sdu_tls (as the
   proxy does, configuration from SDU_TLS_CERT/SDU_TLS_KEY), a client in
   another thread; only the main thread's CPU time is counted.
   usage: tls_floor N   (prints "load_us=... handshake_us=..." per handshake) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include "sdu_tls.h"
#include "sdu_msg.h"

static int n;
static int fds[2][2];   /* per round: the pair, handed over by the main thread */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int round_ready = -1;

static void *client(void *arg)
{
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  int i;
  (void) arg;
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, 0);
  for (i = 0; i < n; ++i) {
    SSL *s;
    int fd;
    pthread_mutex_lock(&mu);
    while (round_ready < i) pthread_cond_wait(&cv, &mu);
    fd = fds[i % 2][1];
    pthread_mutex_unlock(&mu);
    s = SSL_new(c);
    SSL_set_fd(s, fd);
    if (SSL_connect(s) != 1) { fprintf(stderr, "tls_floor: client handshake failed\n"); exit(111); }
    SSL_free(s);
    close(fd);
  }
  SSL_CTX_free(c);
  return 0;
}

static double cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
  pthread_t th;
  double load = 0, shake = 0, t;
  int i;
  sdu_iam("tls_floor");
  n = argc > 1 ? atoi(argv[1]) : 200;
  if (n < 1) n = 1;
  /* the library's one-time start-up, as in every process of the chain */
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
      while ((r = sdu_tls_handshake(s)) == 0) ;   /* blocking socket: no busy loop */
      if (r < 0) return 111;
    }
    sdu_tls_free(s);
    shake += cpu() - t;
    close(fds[i % 2][0]);
  }
  pthread_join(th, 0);
  printf("load_us=%.0f handshake_us=%.0f\n", load / n, shake / n);
  return 0;
}
