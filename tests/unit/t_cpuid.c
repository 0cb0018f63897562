/* t_cpuid.c: linked as the chain is (CPUID_WRAP), a program does not run
   OpenSSL's CPU probe when it starts, and does at OpenSSL's initialisation,
   before any TLS code can look at what it found (common/sdu_cpuid.c) */
#include <openssl/ssl.h>
#include "sdu_t.h"

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
extern unsigned int OPENSSL_ia32cap_P[];

int main(void)
{
  T_OK(OPENSSL_ia32cap_P[0] == 0, "no CPU probe at exec: OPENSSL_ia32cap_P is still empty in main");
  T_OK(OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, 0) == 1, "OpenSSL initialised");
  T_OK(OPENSSL_ia32cap_P[0] != 0, "the probe ran at OpenSSL's initialisation");
  T_DONE();
}
#else
int main(void)
{
  /* the sanitizers' build links libcrypto dynamically: its constructor probes */
  T_SKIP("the CPU probe at OpenSSL's initialisation", "not a static x86-64 build");
  T_DONE();
}
#endif
