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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
/* the error strings' loaders are deprecated in OpenSSL 3, but they are the
   only way to load them after OPENSSL_INIT_NO_LOAD_*_STRINGS */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>
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

/* the library's reason for the last failure, for a warning. The error
   strings (thousands, in hash tables) are loaded only now: a session that
   warns of nothing never pays for them */
static const char *why(void)
{
  static char buf[256];
  static int loaded;
  unsigned long e = ERR_peek_last_error();
  if (!e) return "unknown error";
  if (!loaded) {
    loaded = 1;
    ERR_load_ERR_strings(); ERR_load_SSL_strings(); ERR_load_ASN1_strings();
    ERR_load_BIO_strings(); ERR_load_BN_strings(); ERR_load_BUF_strings();
    ERR_load_CRYPTO_strings(); ERR_load_EC_strings(); ERR_load_EVP_strings();
    ERR_load_OBJ_strings(); ERR_load_PEM_strings(); ERR_load_RAND_strings();
    ERR_load_RSA_strings(); ERR_load_X509_strings(); ERR_load_X509V3_strings();
  }
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/* a file the library will read: say exactly why we cannot, and as whom */
static int readable(const char *what, const char *file)
{
  char who[64], uid[SDU_FMT_ULONG];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    int e = errno;
    uid[sdu_fmt_ulong(uid, (unsigned long) geteuid())] = 0;
    sdu_whoami(who, sizeof who);
    errno = e;
    sdu_warnsys("STARTTLS not offered: unable to read ", what, " file ", file, " as user ", who,
      " (uid ", uid, ")");
    return 0;
  }
  close(fd);
  return 1;
}

/* the private key: the first PEM block named "... PRIVATE KEY" in the file
   (it may follow the chain), decoded with the decoders of the certificate's
   key type only (OpenSSL tries every decoder it has otherwise: twice the
   time; a key of another type is read by them all, so that the warning
   says it does not match); 0 on failure, the library's error queue says why */
static EVP_PKEY *readkey(const char *file, const EVP_PKEY *pub)
{
  const char *type = 0;
  EVP_PKEY *k = 0;
  BIO *b = BIO_new_file(file, "r");
  char *name = 0, *hdr = 0;
  unsigned char *der = 0;
  long len = 0;
  if (!b) return 0;
  while (PEM_read_bio(b, &name, &hdr, &der, &len)) {
    if (strstr(name, "PRIVATE KEY")) break;
    OPENSSL_free(name); OPENSSL_free(hdr); OPENSSL_free(der);
    name = hdr = 0; der = 0;
  }
  BIO_free(b);
  if (!der) return 0;
  ERR_clear_error();
  if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) type = "EC";
  else if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) type = "RSA";
  for (;;) {
    const unsigned char *p = der;
    size_t n = (size_t) len;
    OSSL_DECODER_CTX *d = OSSL_DECODER_CTX_new_for_pkey(&k, "DER", 0, type, OSSL_KEYMGMT_SELECT_KEYPAIR, 0, 0);
    if (d && !OSSL_DECODER_from_data(d, &p, &n)) { EVP_PKEY_free(k); k = 0; }
    OSSL_DECODER_CTX_free(d);
    if (k || !type) break;
    type = 0;
  }
  OPENSSL_free(name); OPENSSL_free(hdr); OPENSSL_clear_free(der, (size_t) len);
  return k;
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
  {
    X509 *x = SSL_CTX_get0_certificate(ctx);
    EVP_PKEY *k = readkey(key, x ? X509_get0_pubkey(x) : 0);
    int ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    if (!ok) {
      sdu_warn("STARTTLS not offered: unable to load the key ", key, ": ", why());
      goto fail;
    }
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

sdu_tls *sdu_tls_server(void)
{
  const char *cert = sdu_env_get("SDU_TLS_CERT"), *key = sdu_env_get("SDU_TLS_KEY");
  const char *s;
  sdu_tls *t;
  if (!cert || !*cert) return 0;
  if (!key || !*key) key = cert;
  /* never openssl.cnf: the site's OpenSSL configuration is not ours
     (sdu-chain(1)); the error strings only when a warning needs them */
  if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_SSL_STRINGS
        | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, 0)) {
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
  if (r == 1) {
    /* TLS 1.3 ends with the client's Finished, and we send nothing after
       it (no tickets): a client with Nagle's algorithm on holds its next
       command until that Finished is acknowledged, and the kernel delays the
       acknowledgement of a segment we do not answer by up to 40 ms. Ask it to
       acknowledge now (nothing to do when fd 0 is not a TCP socket) */
    int one = 1;
    setsockopt(t->fdin, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    return 1;
  }
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

/* SSL_MODE_RELEASE_BUFFERS frees the record buffers whenever they are
   empty: 34 KiB less for a session at rest, but during a message's data it
   would free and allocate them again for every record (the musl build
   lost a third of its throughput to it: bench/tls.sh). Kept for the data */
void sdu_tls_streaming(sdu_tls *t, int on)
{
  if (!t || !t->ssl) return;
  if (on) SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
  else SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
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
