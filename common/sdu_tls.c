/* sdu_tls.c: the server side of STARTTLS, on OpenSSL's libssl (sdu_tls.h).
   One process serves one connection: the configuration is read from the
   environment for each, so a renewed certificate is used from the next
   connection on, and nothing is cached between connections (no session
   tickets, no session cache: no other process could resume them). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include "sdu_tls.h"
#include "sdu_msg.h"
#include "sdu_env.h"

/* TLS 1.2 suites as libtls's "secure" default: forward secrecy and AEAD
   only (TLS 1.3's suites are all of that kind) */
#define CIPHERS_DEFAULT "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
#define NAME_MAX_SNI 253

struct sdu_tls {
  SSL_CTX *ctx;        /* SDU_TLS_CERT's */
  SSL_CTX *sni;        /* the one SDU_TLS_DIR gave for the client's name */
  SSL *ssl;
  const char *dir;
  int minv, maxv;
  const char *ciphers, *groups;
  unsigned long timeout;
  int fdin, fdout;
  short want;
};

/* the library's reason for the last failure, for a warning */
static const char *why(void)
{
  static char buf[256];
  unsigned long e = ERR_peek_last_error();
  if (!e) return "unknown error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/* a file the library will read: say exactly why we cannot, as the user we run as */
static int readable(const char *what, const char *file)
{
  char who[64];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    sdu_warnsys("STARTTLS not offered: unable to read ", what, " ", file, " as ",
      sdu_whoami(who, sizeof who));
    return 0;
  }
  close(fd);
  return 1;
}

/* protocols: "TLSv1.2 TLSv1.3" (either alone); older ones are refused */
static int protocols(sdu_tls *t, const char *s)
{
  int lo = 0, hi = 0;
  const char *p = s;
  while (*p) {
    size_t n;
    while (*p == ' ' || *p == ',' || *p == ':') ++p;
    n = strcspn(p, " ,:");
    if (!n) break;
    if ((n == 7 && !strncasecmp(p, "TLSv1.2", 7)) || (n == 3 && !strncmp(p, "1.2", 3))) {
      if (!lo) lo = TLS1_2_VERSION;
      if (hi < TLS1_2_VERSION) hi = TLS1_2_VERSION;
    } else if ((n == 7 && !strncasecmp(p, "TLSv1.3", 7)) || (n == 3 && !strncmp(p, "1.3", 3))) {
      if (!lo || lo > TLS1_3_VERSION) lo = TLS1_3_VERSION;
      hi = TLS1_3_VERSION;
    } else if (!strncasecmp(p, "all", n) || !strncasecmp(p, "secure", n) || !strncasecmp(p, "default", n)) {
      lo = lo && lo < TLS1_2_VERSION ? lo : TLS1_2_VERSION;
      hi = TLS1_3_VERSION;
    } else {
      char word[32];
      size_t k = n < sizeof word - 1 ? n : sizeof word - 1;
      memcpy(word, p, k); word[k] = 0;
      sdu_warn("SDU_TLS_PROTOCOLS: ", word, " is not offered (TLSv1.2 and TLSv1.3 only)");
    }
    p += n;
  }
  if (!lo) {
    sdu_warn("SDU_TLS_PROTOCOLS names no protocol offered: TLSv1.2 and TLSv1.3 used");
    lo = TLS1_2_VERSION; hi = TLS1_3_VERSION;
  }
  t->minv = lo; t->maxv = hi;
  return 1;
}

static int servername(SSL *ssl, int *alert, void *arg);

/* a server context with the certificate chain and key; 0 on failure (warned) */
static SSL_CTX *context(sdu_tls *t, const char *cert, const char *key)
{
  SSL_CTX *ctx;
  if (!readable("certificate", cert) || !readable("key", key)) return 0;
  ERR_clear_error();
  ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) { sdu_warn("STARTTLS not offered: ", why()); return 0; }
  if (!SSL_CTX_set_min_proto_version(ctx, t->minv) || !SSL_CTX_set_max_proto_version(ctx, t->maxv)) {
    sdu_warn("STARTTLS not offered: ", why());
    goto fail;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET
    | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_SINGLE_DH_USE
    | SSL_OP_SINGLE_ECDH_USE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
    | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);   /* a whole socket read at once: sdu_tls_pending says what waits */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, 0);   /* no client certificate asked for */
  SSL_CTX_set_dh_auto(ctx, 1);
  if (!SSL_CTX_set_cipher_list(ctx, t->ciphers)) {
    sdu_warn("SDU_TLS_CIPHERS ", t->ciphers, " is not understood: ", why(), "; the default used");
    ERR_clear_error();
    if (!SSL_CTX_set_cipher_list(ctx, CIPHERS_DEFAULT)) goto fail;
  }
  if (t->groups && !SSL_CTX_set1_groups_list(ctx, t->groups)) {
    sdu_warn("SDU_TLS_GROUPS ", t->groups, " is not understood: ", why(), "; the default used");
    ERR_clear_error();
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    sdu_warn("STARTTLS not offered: unable to load the certificate ", cert, ": ", why());
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    sdu_warn("STARTTLS not offered: unable to load the key ", key, ": ", why());
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    sdu_warn("STARTTLS not offered: the key ", key, " does not match the certificate ", cert);
    goto fail;
  }
  if (t->dir) {
    SSL_CTX_set_tlsext_servername_callback(ctx, servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return 0;
}

/* SNI: SDU_TLS_DIR/NAME.pem (chain and key) for a name made of letters,
   digits, '-' and '.', not starting with '.'; anything else, or no such
   file, keeps SDU_TLS_CERT's */
static int servername(SSL *ssl, int *alert, void *arg)
{
  sdu_tls *t = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  char path[4096 + NAME_MAX_SNI + 8], lower[NAME_MAX_SNI + 1];
  size_t i, n, dl;
  (void) alert;
  if (!name || t->sni) return SSL_TLSEXT_ERR_OK;
  n = strlen(name);
  if (!n || n > NAME_MAX_SNI || name[0] == '.') return SSL_TLSEXT_ERR_OK;
  for (i = 0; i < n; ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = (char) (c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return SSL_TLSEXT_ERR_OK;
    if (c == '.' && name[i + 1] == '.') return SSL_TLSEXT_ERR_OK;
    lower[i] = c;
  }
  lower[n] = 0;
  dl = strlen(t->dir);
  if (dl > 4096) return SSL_TLSEXT_ERR_OK;
  memcpy(path, t->dir, dl);
  path[dl] = '/';
  memcpy(path + dl + 1, lower, n);
  memcpy(path + dl + 1 + n, ".pem", 5);
  if (access(path, F_OK) == -1) return SSL_TLSEXT_ERR_OK;   /* no certificate of its own */
  t->sni = context(t, path, path);
  if (t->sni) SSL_set_SSL_CTX(ssl, t->sni);
  return SSL_TLSEXT_ERR_OK;
}

int sdu_tls_offer(void)
{
  const char *cert = sdu_env_get("SDU_TLS_CERT"), *key = sdu_env_get("SDU_TLS_KEY");
  if (!cert || !*cert) return 0;
  if (!key || !*key) key = cert;
  return readable("certificate", cert) && readable("key", key);
}

#if defined(SDU_STATIC) && defined(__x86_64__) && defined(OPENSSL_VERSION_MAJOR) && OPENSSL_VERSION_MAJOR == 3
/* OpenSSL's x86_64 assembly calls OPENSSL_cpuid_setup from .init in every
   process that links libcrypto: a dozen CPUID instructions, each a trap to
   the hypervisor in a virtual machine (perf: 7% of the CPU of a clean
   client's rblcheck with musl, 4% with glibc). Most connections never
   reach TLS. This definition, linked before libcrypto's crypto/cpuid.c
   (which defines nothing else), does nothing; sdu_tls_server does the
   work, as OpenSSL 3's does when $OPENSSL_ia32cap is not set, before
   libssl is used. Anything else in the process using libcrypto first
   would find no CPU features: the generic code, slower, not wrong. */
extern unsigned int OPENSSL_ia32cap_P[];
unsigned long long OPENSSL_ia32_cpuid(unsigned int *);
void OPENSSL_cpuid_setup(void);

/* called from .init: it touches nothing, not even a flag (a page fault) */
void OPENSSL_cpuid_setup(void) { }

static void cpuid(void)
{
  static int done;
  unsigned long long vec;
  if (done) return;
  done = 1;
  vec = OPENSSL_ia32_cpuid(OPENSSL_ia32cap_P);
  /* bit 10: "set up" (OpenSSL's crypto/cpuid.c) */
  OPENSSL_ia32cap_P[0] = (unsigned int) vec | (1 << 10);
  OPENSSL_ia32cap_P[1] = (unsigned int) (vec >> 32);
}
#else
static void cpuid(void) { }
#endif

sdu_tls *sdu_tls_server(void)
{
  const char *cert = sdu_env_get("SDU_TLS_CERT"), *key = sdu_env_get("SDU_TLS_KEY");
  const char *s;
  sdu_tls *t;
  if (!cert || !*cert) return 0;
  if (!key || !*key) key = cert;
  cpuid();
  if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS
        | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, 0)) {
    sdu_warn("STARTTLS not offered: unable to initialise OpenSSL");
    return 0;
  }
  t = calloc(1, sizeof *t);
  if (!t) sdu_nomem();
  t->fdin = t->fdout = -1;
  s = sdu_env_get("SDU_TLS_PROTOCOLS");
  protocols(t, s && *s ? s : "TLSv1.2 TLSv1.3");
  s = sdu_env_get("SDU_TLS_CIPHERS");
  t->ciphers = s && *s ? s : CIPHERS_DEFAULT;
  s = sdu_env_get("SDU_TLS_GROUPS");
  t->groups = s && *s ? s : 0;
  s = sdu_env_get("SDU_TLS_DIR");
  t->dir = s && *s ? s : 0;
  t->timeout = SDU_TLS_TIMEOUT;
  s = sdu_env_get("SDU_TLS_TIMEOUT");
  if (s && *s) {
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || !v || v > 86400 || *s == '-')
      sdu_warn("SDU_TLS_TIMEOUT ", s, " is not a number of seconds from 1 to 86400: 60 used");
    else t->timeout = v;
  }
  t->ctx = context(t, cert, key);
  if (!t->ctx) { free(t); return 0; }
  return t;
}

void sdu_tls_free(sdu_tls *t)
{
  if (!t) return;
  if (t->ssl) SSL_free(t->ssl);
  if (t->sni) SSL_CTX_free(t->sni);
  if (t->ctx) SSL_CTX_free(t->ctx);
  free(t);
}

unsigned long sdu_tls_timeout(const sdu_tls *t) { return t->timeout; }
int sdu_tls_authonly(void)
{
  const char *s = sdu_env_get("SDU_TLS_AUTH");
  return s && *s;
}

int sdu_tls_accept(sdu_tls *t, int fdin, int fdout)
{
  ERR_clear_error();
  t->ssl = SSL_new(t->ctx);
  if (!t->ssl) { sdu_warn("TLS: ", why()); return -1; }
  if (!SSL_set_rfd(t->ssl, fdin) || !SSL_set_wfd(t->ssl, fdout)) {
    sdu_warn("TLS: ", why());
    SSL_free(t->ssl); t->ssl = 0;
    return -1;
  }
  t->fdin = fdin; t->fdout = fdout;
  t->want = POLLIN;
  SSL_set_accept_state(t->ssl);
  return 0;
}

/* what a call that failed with r waits for: 0 when it waits, -1 when it failed */
static int wait_or_fail(sdu_tls *t, int r)
{
  switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ: t->want = POLLIN; errno = EAGAIN; return 0;
    case SSL_ERROR_WANT_WRITE: t->want = POLLOUT; errno = EAGAIN; return 0;
    case SSL_ERROR_ZERO_RETURN: errno = 0; return 1;
    case SSL_ERROR_SYSCALL:
      if (!errno) errno = EPIPE;
      if (errno == EAGAIN || errno == EINTR) { t->want = POLLIN; errno = EAGAIN; return 0; }
      return -1;
    default: errno = EPROTO; return -1;
  }
}

int sdu_tls_handshake(sdu_tls *t)
{
  int r;
  ERR_clear_error();
  errno = 0;
  r = SSL_do_handshake(t->ssl);
  if (r == 1) return 1;
  switch (wait_or_fail(t, r)) {
    case 0: return 0;
    case 1: sdu_warn("TLS handshake failed: the client closed the connection"); return -1;
  }
  if (errno == EPROTO) sdu_warn("TLS handshake failed: ", why());
  else sdu_warnsys("TLS handshake failed");
  return -1;
}

ssize_t sdu_tls_read(sdu_tls *t, char *buf, size_t len)
{
  int r, n = len > 1 << 30 ? 1 << 30 : (int) len;
  ERR_clear_error();
  errno = 0;
  r = SSL_read(t->ssl, buf, n);
  if (r > 0) return r;
  switch (wait_or_fail(t, r)) {
    case 0: return -1;             /* EAGAIN */
    case 1: return 0;              /* close_notify, or the client went */
  }
  if (errno == EPROTO) sdu_warn("TLS read failed: ", why());
  return -1;
}

ssize_t sdu_tls_write(sdu_tls *t, const char *buf, size_t len)
{
  int r, n = len > 1 << 30 ? 1 << 30 : (int) len;
  if (!len) return 0;
  ERR_clear_error();
  errno = 0;
  r = SSL_write(t->ssl, buf, n);
  if (r > 0) return r;
  switch (wait_or_fail(t, r)) {
    case 0: return -1;
    case 1: errno = EPIPE; return -1;
  }
  if (errno == EPROTO) sdu_warn("TLS write failed: ", why());
  return -1;
}

short sdu_tls_want(const sdu_tls *t, int *fd)
{
  *fd = t->want == POLLOUT ? t->fdout : t->fdin;
  return t->want;
}

int sdu_tls_pending(const sdu_tls *t) { return t->ssl && SSL_has_pending(t->ssl); }

void sdu_tls_close(sdu_tls *t)
{
  if (!t->ssl) return;
  ERR_clear_error();
  if (SSL_is_init_finished(t->ssl)) SSL_shutdown(t->ssl);
  ERR_clear_error();
}

const char *sdu_tls_version(const sdu_tls *t) { return t->ssl ? SSL_get_version(t->ssl) : "-"; }

const char *sdu_tls_cipher(const sdu_tls *t)
{
  const char *c = t->ssl ? SSL_get_cipher_name(t->ssl) : 0;
  return c ? c : "-";
}
