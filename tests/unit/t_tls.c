/* t_tls: sdu_tls against a real handshake on a socketpair, with a client
   context of the test's own; certificates are made here with openssl req
   (ECDSA P-256 and RSA-2048), thrown away at the end */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include "sdu_t.h"
#include "sdu_tls.h"
#include "sdu_msg.h"

static char dir[256];
static int asked_for_cert;

static int client_cert_cb(SSL *ssl, X509 **x, EVP_PKEY **k)
{
  (void) ssl; (void) x; (void) k;
  asked_for_cert = 1;
  return 0;
}

static SSL_CTX *client_ctx(int minv, int maxv)
{
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(c, 0);   /* so that the server is the one that refuses */
  SSL_CTX_set_min_proto_version(c, minv);
  SSL_CTX_set_max_proto_version(c, maxv);
  if (maxv && maxv < TLS1_2_VERSION) SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, 0);
  SSL_CTX_set_client_cert_cb(c, client_cert_cb);
  /* the client's own choices, whatever an openssl.cnf would say */
  SSL_CTX_set_ciphersuites(c, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
  SSL_CTX_set1_groups_list(c, "X25519:P-256");
  return c;
}

static int setnb(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* both sides of the handshake in turn: 1 both done, -1 one failed */
static int handshake(sdu_tls *t, SSL *c)
{
  int sdone = 0, cdone = 0, i;
  if (!t || !c) return -2;
  for (i = 0; i < 1000 && !(sdone && cdone); ++i) {
    if (!sdone) {
      int r = sdu_tls_handshake(t);
      if (r < 0) return -1;
      sdone = r;
    }
    if (!cdone) {
      int r = SSL_do_handshake(c), e;
      if (r == 1) cdone = 1;
      else if ((e = SSL_get_error(c, r)) != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        /* the server's alert may still be on its way: let the server step again */
        if (sdone) return -1;
        ERR_clear_error();
        if (sdu_tls_handshake(t) < 0) return -1;
        return -1;
      }
    }
  }
  return sdone && cdone ? 1 : -1;
}


/* a server over one end of a socketpair, a client on the other */
struct pair { sdu_tls *t; SSL_CTX *cctx; SSL *c; int fd[2]; };

static int start(struct pair *p, int minv, int maxv, const char *sni)
{
  asked_for_cert = 0;
  p->fd[0] = p->fd[1] = -1;
  p->t = sdu_tls_server();
  if (!p->t) return 0;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd) == -1) return 0;
  setnb(p->fd[0]); setnb(p->fd[1]);
  if (sdu_tls_accept(p->t, p->fd[0], p->fd[0]) != 0) return 0;
  p->cctx = client_ctx(minv, maxv);
  p->c = SSL_new(p->cctx);
  if (sni) SSL_set_tlsext_host_name(p->c, sni);
  SSL_set_fd(p->c, p->fd[1]);
  SSL_set_connect_state(p->c);
  return 1;
}

static void stop(struct pair *p)
{
  if (p->c) SSL_free(p->c);
  if (p->cctx) SSL_CTX_free(p->cctx);
  sdu_tls_free(p->t);
  if (p->fd[0] >= 0) close(p->fd[0]);
  if (p->fd[1] >= 0) close(p->fd[1]);
  memset(p, 0, sizeof *p);
}

/* fd 2 into a file for the warnings of fn, then back; the warnings, malloc'd */
static char *warnings_of(sdu_tls **out)
{
  char name[300];
  int saved = dup(2), fd;
  snprintf(name, sizeof name, "%s/stderr", dir);
  fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2); close(fd);
  *out = sdu_tls_server();
  dup2(saved, 2); close(saved);
  return t_slurp(name, 0);
}

static int run(const char *cmd)
{
  char buf[1024];
  snprintf(buf, sizeof buf, "cd %s && { %s; } > openssl.log 2>&1", dir, cmd);
  return system(buf);
}

static void path(char *buf, size_t max, const char *file) { snprintf(buf, max, "%s/%s", dir, file); }

int main(void)
{
  struct pair p;
  char ec[300], eck[300], rsa[300], rsak[300], both[300], sni[300];
  char *w;
  sdu_tls *t;
  int i;

  sdu_iam("t_tls");
  signal(SIGPIPE, SIG_IGN);
  memset(&p, 0, sizeof p);
  snprintf(dir, sizeof dir, "%s/tests/tmp/t_tls.%d", getenv("SDU_TOP") ? getenv("SDU_TOP") : ".", (int) getpid());
  {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/sni", dir);
    if (system(cmd) != 0) { printf("not ok - mkdir %s\n", dir); return 1; }
  }
  /* throw-away certificates, made now */
  if (run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.crt"
          " -days 2 -subj /CN=ec.test.invalid") != 0
      || run("openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 2 -subj /CN=mx.test.invalid") != 0
      || run("cat rsa.crt rsa.key > sni/mx.test.invalid.pem && cat ec.crt ec.key > both.pem") != 0) {
    printf("not ok - openssl req made no certificate (see %s/openssl.log)\n", dir);
    return 1;
  }
  /* an OpenSSL configuration that would break everything if it were read
     (the server never reads one, sdu-chain(1)): with config_diagnostics a
     missing section fails the library's start, and the TLS 1.3 suite and
     group it sets are ones the test's client does not offer. Set before
     the first use of the library in this process */
  {
    char conf[300];
    FILE *f;
    path(conf, sizeof conf, "openssl.cnf");
    f = fopen(conf, "w");
    if (!f || fputs("config_diagnostics = 1\nopenssl_conf = openssl_init\n[openssl_init]\n"
          "ssl_conf = ssl_sect\nproviders = nowhere_sect\n[ssl_sect]\nsystem_default = sys_sect\n"
          "[sys_sect]\nCiphersuites = TLS_AES_128_CCM_8_SHA256\nGroups = ffdhe8192\n", f) < 0 || fclose(f)) {
      printf("not ok - unable to write %s\n", conf);
      return 1;
    }
    setenv("OPENSSL_CONF", conf, 1);
  }
  path(ec, sizeof ec, "ec.crt"); path(eck, sizeof eck, "ec.key");
  path(rsa, sizeof rsa, "rsa.crt"); path(rsak, sizeof rsak, "rsa.key");
  path(both, sizeof both, "both.pem"); path(sni, sizeof sni, "sni");

  /* not configured: quietly nothing */
  unsetenv("SDU_TLS_CERT"); unsetenv("SDU_TLS_KEY");
  w = warnings_of(&t);
  T_OK(!t, "no SDU_TLS_CERT: no TLS");
  T_EQS(w ? w : "?", "", "no SDU_TLS_CERT: no warning");
  free(w);

  /* a key that cannot be read: no TLS, a warning naming the file */
  setenv("SDU_TLS_CERT", ec, 1);
  setenv("SDU_TLS_KEY", "/nonexistent/sdu-test.key", 1);
  T_EQI(sdu_tls_offer(), 0, "unreadable key: not offered");
  w = warnings_of(&t);
  T_OK(!t, "unreadable key: no TLS");
  T_OK(w && strstr(w, "t_tls: warning: STARTTLS not offered: unable to read key file /nonexistent/sdu-test.key as user "), "unreadable key: the warning names the file");
  if (w && !strstr(w, "/nonexistent/sdu-test.key")) printf("#   %s", w);
  free(w);

  /* a key of another certificate */
  setenv("SDU_TLS_KEY", rsak, 1);
  w = warnings_of(&t);
  T_OK(!t, "mismatched key: no TLS");
  T_OK(w && strstr(w, "does not match the certificate"), "mismatched key: warned");
  free(w);

  /* a file that is no certificate */
  setenv("SDU_TLS_CERT", eck, 1);
  setenv("SDU_TLS_KEY", eck, 1);
  w = warnings_of(&t);
  T_OK(!t, "a key as certificate: no TLS");
  T_OK(w && strstr(w, "unable to load the certificate"), "a key as certificate: warned, naming it");
  free(w);

  /* ECDSA P-256, default protocols: TLS 1.3, no client certificate asked for */
  setenv("SDU_TLS_CERT", ec, 1);
  setenv("SDU_TLS_KEY", eck, 1);
  unsetenv("SDU_TLS_TIMEOUT");
  T_EQI(sdu_tls_offer(), 1, "readable files: offered");
  T_OK(start(&p, 0, 0, 0), "ECDSA: configured");
  T_EQI(sdu_tls_timeout(p.t), 60, "handshake timeout default 60 s");
  T_EQI(sdu_tls_authonly(), 0, "SDU_TLS_AUTH unset");
  T_EQI(handshake(p.t, p.c), 1, "ECDSA: handshake");
  T_EQS(sdu_tls_version(p.t), "TLSv1.3", "ECDSA: TLSv1.3 by default");
  T_OK(strlen(sdu_tls_cipher(p.t)) > 4, "ECDSA: a cipher name");
  T_EQI(asked_for_cert, 0, "no client certificate requested");
  T_OK(strcmp(sdu_tls_cipher(p.t), "TLS_AES_128_CCM_8_SHA256") != 0, "OPENSSL_CONF's Ciphersuites not used: the configuration never read");
  {
    /* both ways; a reply bigger than the socket buffer goes out in steps,
       each write waiting for POLLOUT as sdu_tls_want says */
    static char big[1 << 20], got[1 << 20];
    size_t sent = 0, recvd = 0;
    char buf[64];
    ssize_t r;
    int fd, rounds = 0, waited = 0;
    SSL_write(p.c, "EHLO x\r\n", 8);
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_EQB(buf, r > 0 ? (size_t) r : 0, "EHLO x\r\n", "read decrypted");
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_OK(r == -1 && errno == EAGAIN && sdu_tls_want(p.t, &fd) == POLLIN && fd == p.fd[0], "nothing more: EAGAIN, wants POLLIN");
    for (i = 0; i < (int) sizeof big; ++i) big[i] = (char) ('a' + i % 26);
    /* fill the socket first: the write that finds it full waits */
    while (sent < sizeof big && (r = sdu_tls_write(p.t, big + sent, sizeof big - sent)) > 0) sent += (size_t) r;
    if (r == -1 && errno == EAGAIN && sdu_tls_want(p.t, &fd) == POLLOUT && fd == p.fd[0]) ++waited;
    while ((sent < sizeof big || recvd < sizeof big) && rounds++ < 100000) {
      if (sent < sizeof big) {
        r = sdu_tls_write(p.t, big + sent, sizeof big - sent);
        if (r > 0) sent += (size_t) r;
        else if (r == -1 && errno == EAGAIN && sdu_tls_want(p.t, &fd) == POLLOUT) ++waited;
        else break;
      }
      for (;;) {
        int n = SSL_read(p.c, got + recvd, (int) (sizeof got - recvd));
        if (n <= 0) break;
        recvd += (size_t) n;
      }
    }
    T_OK(sent == sizeof big && recvd == sizeof big && !memcmp(big, got, sizeof big), "1 MB from the server arrives whole");
    T_OK(waited > 0, "a full socket: write waits for POLLOUT");
    /* many records at once: the library holds what the socket no longer shows */
    SSL_write(p.c, "NOOP\r\nNOOP\r\n", 12);
    r = sdu_tls_read(p.t, buf, 6);
    T_OK(r == 6 && sdu_tls_pending(p.t), "bytes held in the library: pending");
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_OK(r == 6 && !sdu_tls_pending(p.t), "the rest read: nothing pending");
    /* a KeyUpdate that asks for ours while our write waits half sent
       (the client reads nothing; the proxy goes on reading meanwhile):
       the read takes it and returns the data behind it, OpenSSL sends its
       answer once the write is through, and the client gets every byte */
    sent = 0;
    while ((r = sdu_tls_write(p.t, big, sizeof big)) > 0) sent += (size_t) r;
    T_OK(r == -1 && errno == EAGAIN && sdu_tls_want(p.t, &fd) == POLLOUT, "a write that waits");
    SSL_key_update(p.c, SSL_KEY_UPDATE_REQUESTED);
    SSL_write(p.c, "QUIT\r\n", 6);
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_EQB(buf, r > 0 ? (size_t) r : 0, "QUIT\r\n", "a KeyUpdate while a write waits: the data behind it read");
    recvd = 0;
    rounds = 0;
    for (;;) {
      int k = SSL_read(p.c, got, sizeof got);
      if (k > 0) { recvd += (size_t) k; continue; }
      if (++rounds > 100000) break;
      r = sdu_tls_write(p.t, big, sizeof big);
      if (r > 0) sent += (size_t) r;
      else if (!(r == -1 && errno == EAGAIN)) break;
      if (recvd == sent && r > 0) break;
    }
    T_OK(recvd == sent, "  ... and the write goes on: the client gets every byte");
    SSL_write(p.c, "NOOP\r\n", 6);
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_EQB(buf, r > 0 ? (size_t) r : 0, "NOOP\r\n", "  ... and the session with it");
    ERR_clear_error();
    /* the client closes */
    SSL_shutdown(p.c);
    r = sdu_tls_read(p.t, buf, sizeof buf);
    T_EQI(r, 0, "close_notify: end of file");
  }
  stop(&p);

  /* the key in the certificate's file; TLS 1.2 only; RSA-2048 */
  setenv("SDU_TLS_CERT", both, 1);
  unsetenv("SDU_TLS_KEY");
  T_OK(start(&p, 0, 0, 0), "chain and key in one file");
  T_EQI(handshake(p.t, p.c), 1, "one file: handshake");
  stop(&p);
  setenv("SDU_TLS_CERT", rsa, 1);
  setenv("SDU_TLS_KEY", rsak, 1);
  setenv("SDU_TLS_PROTOCOLS", "TLSv1.2", 1);
  setenv("SDU_TLS_TIMEOUT", "7", 1);
  setenv("SDU_TLS_AUTH", "1", 1);
  T_OK(start(&p, 0, 0, 0), "RSA: configured");
  T_EQI(sdu_tls_timeout(p.t), 7, "SDU_TLS_TIMEOUT");
  T_EQI(sdu_tls_authonly(), 1, "SDU_TLS_AUTH set");
  T_EQI(handshake(p.t, p.c), 1, "RSA: handshake");
  T_EQS(sdu_tls_version(p.t), "TLSv1.2", "SDU_TLS_PROTOCOLS=TLSv1.2: TLSv1.2");
  T_OK(strstr(sdu_tls_cipher(p.t), "ECDHE-RSA-") == sdu_tls_cipher(p.t), "TLS 1.2: an ECDHE suite");
  {
    /* the client asks to renegotiate: the server says no_renegotiation
       (no second handshake, no second CPU cost for it) */
    char buf[64];
    ssize_t r;
    int renegotiated = 0, k;
    unsigned long e = 0;
    T_EQI(SSL_renegotiate(p.c), 1, "TLS 1.2: the client asks to renegotiate");
    for (k = 0; k < 20; ++k) {
      int cr = SSL_do_handshake(p.c);
      if (cr == 1 && !SSL_renegotiate_pending(p.c)) { renegotiated = 1; break; }
      if (cr <= 0 && SSL_get_error(p.c, cr) != SSL_ERROR_WANT_READ) { e = ERR_peek_last_error(); break; }
      r = sdu_tls_read(p.t, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EAGAIN)) break;
    }
    T_EQI(renegotiated, 0, "TLS 1.2: no renegotiation");
    T_EQI(ERR_GET_REASON(e), SSL_R_NO_RENEGOTIATION, "TLS 1.2: the server's answer: no_renegotiation");
    ERR_clear_error();
  }
  stop(&p);
  unsetenv("SDU_TLS_AUTH");

  /* old protocols: never, even when asked for */
  setenv("SDU_TLS_PROTOCOLS", "TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3", 1);
  setenv("SDU_TLS_TIMEOUT", "soon", 1);
  w = warnings_of(&t);
  T_OK(t != 0, "TLSv1.0 asked for: still configured");
  T_OK(w && strstr(w, "SDU_TLS_PROTOCOLS: TLSv1.0 is not offered"), "TLSv1.0 asked for: warned");
  T_OK(w && strstr(w, "SDU_TLS_TIMEOUT soon"), "a bad timeout: warned");
  T_EQI(t ? sdu_tls_timeout(t) : 0, 60, "a bad timeout: 60 s");
  free(w);
  sdu_tls_free(t);
  T_OK(start(&p, TLS1_VERSION, TLS1_1_VERSION, 0), "TLS 1.1 client: configured");
  T_EQI(handshake(p.t, p.c), -1, "TLS 1.1 client: refused");
  stop(&p);
  T_OK(start(&p, TLS1_VERSION, TLS1_VERSION, 0), "TLS 1.0 client: configured");
  T_EQI(handshake(p.t, p.c), -1, "TLS 1.0 client: refused");
  stop(&p);
  unsetenv("SDU_TLS_PROTOCOLS");
  unsetenv("SDU_TLS_TIMEOUT");

  /* SNI: a name with a certificate in SDU_TLS_DIR gets it, another the default */
  setenv("SDU_TLS_CERT", ec, 1);
  setenv("SDU_TLS_KEY", eck, 1);
  setenv("SDU_TLS_DIR", sni, 1);
  {
    const char *names[3] = { "MX.test.invalid", "other.test.invalid", "../sni/mx.test.invalid" };
    int want[3] = { EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_EC };
    for (i = 0; i < 3; ++i) {
      X509 *x;
      int got = -1;
      char name[100];
      T_OK(start(&p, 0, 0, names[i]), "SNI: configured");
      T_EQI(handshake(p.t, p.c), 1, "SNI: handshake");
      x = SSL_get1_peer_certificate(p.c);
      if (x) { got = EVP_PKEY_get_base_id(X509_get0_pubkey(x)); X509_free(x); }
      snprintf(name, sizeof name, "SNI %s: the %s certificate", names[i], want[i] == EVP_PKEY_RSA ? "name's" : "default");
      T_EQI(got, want[i], name);
      stop(&p);
    }
  }
  unsetenv("SDU_TLS_DIR");

  /* a client that goes away in the handshake */
  T_OK(start(&p, 0, 0, 0), "a client that leaves: configured");
  close(p.fd[1]); p.fd[1] = -1;
  {
    char *ww;
    char name[300];
    int saved = dup(2), fd, r;
    snprintf(name, sizeof name, "%s/stderr", dir);
    fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2); close(fd);
    r = sdu_tls_handshake(p.t);
    dup2(saved, 2); close(saved);
    ww = t_slurp(name, 0);
    T_EQI(r, -1, "a client that leaves: the handshake fails");
    T_OK(ww && strstr(ww, "TLS handshake failed"), "a client that leaves: warned");
    free(ww);
  }
  stop(&p);

  {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "%s %s", sdu_t_failed ? "echo # kept" : "rm -rf", dir);
    if (system(cmd) != 0) printf("# unable to remove %s\n", dir);
  }
  T_DONE();
}
