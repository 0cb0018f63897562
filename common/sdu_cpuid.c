/* sdu_cpuid.c: OpenSSL's CPU probe at the first use of TLS, not at every exec.
   libcrypto's x86_64cpuid.o calls OPENSSL_cpuid_setup() from the .init section
   of every static program it is linked into, before main. The probe runs the
   CPUID instruction several times, and under a hypervisor each one traps
   (~20 us on the test machines): in the chain, whose exec is one per
   connection, it was the largest single cost of the musl build's start-up
   (bench/throttle.sh, perf). Programs that stand in the middle are linked with
   -Wl,--wrap=OPENSSL_cpuid_setup (Makefile, CPUID_WRAP): that first call does
   nothing; OpenSSL's own initialisation (OPENSSL_init_crypto, which
   OPENSSL_init_ssl and SSL_CTX_new run before any TLS code) calls it again,
   and the probe runs then, once, as it always did, for the sessions that use
   TLS. Nothing else in sdu calls libcrypto. */
#include "sdu_hot.h"

void __wrap_OPENSSL_cpuid_setup(void);
void __real_OPENSSL_cpuid_setup(void);

void __wrap_OPENSSL_cpuid_setup(void)
{
  /* the first variable of the section of hot variables (sdu_hot.h)
     in the chain's binary, whose link starts with this object: aligned to a
     page, so that rblcheck's hot variables after it (3 KB) lie in one page,
     not across two */
  SDU_HOT static int atexec __attribute__((aligned(4096))) = 1;
  /* an exchange, not a test and a store: the page's first touch is a
     write, one fault (a private copy at once), not a read and then a
     write, two */
  if (__atomic_exchange_n(&atexec, 0, __ATOMIC_RELAXED)) return;
  __real_OPENSSL_cpuid_setup();
}
