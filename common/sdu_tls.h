/* sdu_tls.h: the server side of STARTTLS for the proxy (OpenSSL's libssl).
   The proxy reads and writes the client through this layer once the
   handshake is done; nothing above the proxy knows whether bytes were
   encrypted. Every call is non-blocking and says what it waits for, so
   that it fits the proxy's poll loop. */
#ifndef SDU_TLS_H
#define SDU_TLS_H

#include <sys/types.h>

typedef struct sdu_tls sdu_tls;

#define SDU_TLS_TIMEOUT 60  /* seconds for the handshake, SDU_TLS_TIMEOUT unset */

/* the server's configuration from the environment (sdu-chain(1)):
   SDU_TLS_CERT (certificate chain, PEM; the key too when SDU_TLS_KEY is
   unset), SDU_TLS_KEY, SDU_TLS_DIR (NAME.pem per name the client asks for
   by SNI), SDU_TLS_PROTOCOLS, SDU_TLS_CIPHERS, SDU_TLS_GROUPS,
   SDU_TLS_TIMEOUT, SDU_TLS_AUTH. 0 when SDU_TLS_CERT is unset (quietly) or
   when the certificate or key cannot be used (a warning names the file):
   the session goes on without STARTTLS. Exits only on no memory. */
sdu_tls *sdu_tls_server(void);
/* whether to offer STARTTLS: SDU_TLS_CERT is set and it and the key can be
   opened (a warning names the one that cannot); cheap, nothing of the
   library is touched: sdu_tls_server() reads them when a client asks */
int sdu_tls_offer(void);
void sdu_tls_free(sdu_tls *t);
unsigned long sdu_tls_timeout(const sdu_tls *t);  /* handshake, seconds */
/* SDU_TLS_AUTH set: AUTH only inside TLS (whether or not TLS could be set up) */
int sdu_tls_authonly(void);

/* the connection: reads fdin, writes fdout (0 and 1, the same socket
   under tcpserver). 0, or -1 (a warning said why) */
int sdu_tls_accept(sdu_tls *t, int fdin, int fdout);
/* one step of the handshake: 1 done, 0 not yet (poll as sdu_tls_want
   says), -1 failed (a warning said why) */
int sdu_tls_handshake(sdu_tls *t);
/* as read(2) and write(2): -1 with errno EAGAIN when it waits for
   sdu_tls_want; 0 from read when the client closed */
ssize_t sdu_tls_read(sdu_tls *t, char *buf, size_t len);
ssize_t sdu_tls_write(sdu_tls *t, const char *buf, size_t len);
/* what the last call that returned "not yet" waits for: POLLIN or
   POLLOUT, on *fd */
short sdu_tls_want(const sdu_tls *t, int *fd);
/* 1 when decrypted bytes wait inside the library: read them without
   waiting in poll, the socket may have nothing more */
/* on: keep the record buffers (a message's data is coming); off: free
   them whenever they are empty again (a session at rest) */
void sdu_tls_streaming(sdu_tls *t, int on);
int sdu_tls_pending(const sdu_tls *t);
/* send close_notify, without waiting */
void sdu_tls_close(sdu_tls *t);
/* after the handshake: "TLSv1.3", and the cipher suite's name */
const char *sdu_tls_version(const sdu_tls *t);
const char *sdu_tls_cipher(const sdu_tls *t);

#endif
