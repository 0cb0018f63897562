# sdu: one POSIX Makefile. make; make check; make install; make clean.
# make check SANITIZE=1 builds with ASan and UBSan; CI=true makes warnings errors.

PREFIX = /usr/local
DESTDIR =
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man

# LIBC=musl links every program with musl and the libraries tools/musl.sh builds
# into $(MUSL): on a virtual machine a glibc static start-up traps to the
# hypervisor a few dozen times (CPUID), a musl one not at all (see INSTALL).
# Changing LIBC builds everything again (common/build-flags, below).
LIBC =
MUSL = /opt/sdu-musl
CC_ = cc
CC_musl = musl-gcc
CC = $(CC_$(LIBC))
INC_musl = -isystem $(MUSL)/include
LIBDIR_musl = -L$(MUSL)/lib
# the musl build drops what nothing calls (musl.sh builds OpenSSL so too): a
# TLS session's RSS is mostly the program's own pages (bench/tls.sh)
SECT_musl = -ffunction-sections -fdata-sections
# and puts the arrays on pages of their own after .bss (sdu_hot.h, chain/musl.ld)
LAYOUT_musl = -DSDU_PAGES_SECTION
# the glibc build: each function and variable in a section of its own, for the chain's
# link order (CHAIN_ORDER)
SECT_ = -ffunction-sections -fdata-sections
GC_musl = -Wl,--gc-sections
WARN = -std=c99 -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
  -Wold-style-definition -Wshadow
WERROR_true = -Werror
SAN_1 = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# sanitizers cannot link statically; without them every program is static
STATIC_ = -static
STATIC_0 = -static
STATIC_1 =
OPT = -O2 -g
CFLAGS = $(OPT)
# string constants in each object's own .rodata, not merged into the one
# section that OpenSSL's thousands share: a link's strings then lie together
# (fewer page faults per connection)
NOMERGE = -fno-merge-constants
# the static programs are not position-independent: no PIE code (Debian's
# compiler makes it by default), and a table of pointers such as the chain's
# applets lies in .rodata beside its strings, not in .data.rel.ro (a page
# fault less at every exec); the sanitizers' build links dynamically, PIE
NOPIE_ = -fno-pie
NOPIE_0 = -fno-pie
NOPIE_1 =
SDU_CFLAGS = $(WARN) $(WERROR_$(CI)) $(SAN_$(SANITIZE)) $(NOMERGE) $(NOPIE_$(SANITIZE)) -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon $(INC_$(LIBC)) $(SECT_$(LIBC)) $(LAYOUT_$(LIBC))
LDFLAGS =
SDU_LDFLAGS = $(SAN_$(SANITIZE)) $(STATIC_$(SANITIZE)) $(LIBDIR_$(LIBC)) $(GC_$(LIBC))
# OpenSSL's libssl (STARTTLS in the proxy, common/sdu_tls.c): static like the
# rest; a program that never reaches the proxy pulls nothing of it in
TLS_LIBS = -lssl -lcrypto
# the static programs that stand in the middle: OpenSSL's CPU probe when TLS
# is first used, not at every exec (common/sdu_cpuid.c says why); a dynamic
# libcrypto (the sanitizers' build) runs it in its own constructor
CPUID_WRAP_ = common/sdu_cpuid.o -Wl,--wrap=OPENSSL_cpuid_setup
CPUID_WRAP_0 = $(CPUID_WRAP_)
CPUID_WRAP_1 =
CPUID_WRAP = $(CPUID_WRAP_$(SANITIZE))
# and libowfat's taia_now through sdu_clock (common/sdu_time.c says why):
# dns_resolvconfip reads the clock at every connection
TAIA_WRAP = -Wl,--wrap=taia_now
LIBS = -lhiredis -llmdb -lowfat $(TLS_LIBS) -lpthread
# libpsl linked statically needs what it was built with (musl.sh builds it without IDNA)
PSL_LIBS_ = -lpsl -lidn2 -lunistring
PSL_LIBS_musl = -lpsl
PSL_LIBS = $(PSL_LIBS_$(LIBC))
# libsodium (HMAC-SHA-256 of rblcheck's tag): only in what signs or checks a tag
SODIUM_LIBS = -lsodium

# one line per part of the library, so that parts are added without clashes
OBJ_BASE = common/sdu_msg.o common/sdu_env.o common/sdu_exec.o common/sdu_chain.o
OBJ_SMTP = common/sdu_smtp.o common/sdu_respond.o common/sdu_proxy.o
OBJ_CONFIG = common/sdu_config.o
OBJ_ADDR = common/sdu_addr.o
OBJ_CDB = common/sdu_cdb.o
OBJ_STATE = common/sdu_state.o common/sdu_state_redis.o common/sdu_time.o
OBJ_DNS = common/sdu_ip.o common/sdu_dns.o
OBJ_TAG = common/sdu_tag.o
OBJ_TLS = common/sdu_tls.o
# the musl build's malloc (sdu_alloc.c says why); in libsdu.a it replaces musl's
OBJ_ALLOC_musl = common/sdu_alloc.o
COMMON_OBJS = $(OBJ_BASE) $(OBJ_SMTP) $(OBJ_CONFIG) $(OBJ_ADDR) $(OBJ_CDB) \
  $(OBJ_STATE) $(OBJ_DNS) $(OBJ_TAG) $(OBJ_TLS) $(OBJ_ALLOC_$(LIBC))

UNIT_BASE = tests/unit/t_msg
UNIT_SMTP = tests/unit/t_smtp
UNIT_CONFIG = tests/unit/t_config
UNIT_ADDR = tests/unit/t_addr
UNIT_CDB = tests/unit/t_cdb
UNIT_STATE = tests/unit/t_state
UNIT_DNS = tests/unit/t_ip tests/unit/t_dns
UNIT_ALLOC = tests/unit/t_alloc
UNIT_TAG = tests/unit/t_tag
UNIT_TLS = tests/unit/t_tls tests/unit/t_cpuid
UNIT_TESTS = $(UNIT_BASE) $(UNIT_SMTP) $(UNIT_CONFIG) $(UNIT_ADDR) \
  $(UNIT_CDB) $(UNIT_STATE) $(UNIT_DNS) $(UNIT_ALLOC) $(UNIT_TAG) $(UNIT_TLS) \
  $(UNIT_RBLCHECK) $(UNIT_THROTTLE) $(UNIT_RCPTCHECK) $(UNIT_SPAMGRAB)

# programs that ship, with their man pages: one line per program directory;
# rblcheck, throttle and rcptcheck are hard links to one binary, chain/sdu-chain
PROG_CHAIN = chain/sdu-chain
CHAIN_LINKS = rblcheck/rblcheck throttle/throttle rcptcheck/rcptcheck
PROG_RBLCHECK = rblcheck/rblcheck
PROG_THROTTLE = throttle/throttle throttle/sdu-report throttle/sdu-state-copy
PROG_RCPTCHECK = rcptcheck/rcptcheck rcptcheck/rcptcheck-build
PROG_SPAMGRAB = spamgrab/spamgrab
MAN_CHAIN = chain/sdu-chain.1
MAN_RBLCHECK = rblcheck/rblcheck.1
MAN_THROTTLE = throttle/throttle.1 throttle/sdu-report.1 throttle/sdu-state-copy.1
MAN_RCPTCHECK = rcptcheck/rcptcheck.1 rcptcheck/rcptcheck-build.1
MAN_SPAMGRAB = spamgrab/spamgrab.1
PROGS = $(PROG_CHAIN) $(PROG_RBLCHECK) $(PROG_THROTTLE) $(PROG_RCPTCHECK) $(PROG_SPAMGRAB)
MANS1 = $(MAN_CHAIN) $(MAN_RBLCHECK) $(MAN_THROTTLE) $(MAN_RCPTCHECK) $(MAN_SPAMGRAB)
# unit tests of the programs' own parts (<prog>/<prog>_*.c)
UNIT_RBLCHECK = tests/unit/t_rblcheck_policy tests/unit/t_rblcheck_nomem
UNIT_THROTTLE = tests/unit/t_throttle_rules tests/unit/t_throttle_session tests/unit/t_throttle_report \
  tests/unit/t_throttle_metrics
UNIT_RCPTCHECK = tests/unit/t_rcptcheck_rules tests/unit/t_rcptcheck_session tests/unit/t_rcptcheck_build \
  tests/unit/t_rcptcheck_qmail
UNIT_SPAMGRAB = tests/unit/t_spamgrab_parse tests/unit/t_spamgrab_report tests/unit/t_spamgrab_tag tests/unit/t_spamgrab_local
# programs the tests and benchmarks use
TEST_PROGS = tests/sdu-testproxy tests/sdu-maxrss tests/smtpsink
BENCH_PROGS = bench/smtpblast bench/rblcheck_dnsdelay bench/rblcheck_exec bench/rblcheck_floor bench/greetlat bench/rcptcheck-cpu \
  bench/spamgrab_bench bench/tls_floor bench/cc bench/greylist bench/treecpu

HEADERS = common/*.h

# what the objects were built with (not the warnings), in common/build-flags:
# when it changes (make SANITIZE=1, LIBC=musl, other CFLAGS) every object is
# built again, so that a make after make check SANITIZE=1 gives the static
# programs and never the sanitizers' (10 MB more a process, INSTALL 2) nor a
# mix of musl and glibc objects; make install installs what was built with
# the variables it is given, or refuses. Every object depends on it (ALL_OBJS,
# at the end: an object of a program goes in its program's list).
BUILD_FLAGS = $(CC) $(CFLAGS) $(SAN_$(SANITIZE)) $(NOMERGE) $(NOPIE_$(SANITIZE)) $(INC_$(LIBC)) $(SECT_$(LIBC)) $(LAYOUT_$(LIBC)) $(LDFLAGS) $(SDU_LDFLAGS) $(LIBS) $(PSL_LIBS)

all: $(PROGS) $(TEST_PROGS) $(BENCH_PROGS)

# only the programs that ship (the Debian package builds these)
programs: $(PROGS)

common/build-flags: FORCE
	@printf '%s\n' '$(BUILD_FLAGS)' | cmp -s - $@ || { \
	  [ ! -f $@ ] || echo "build flags changed: every object is built again"; \
	  printf '%s\n' '$(BUILD_FLAGS)' > $@; }
FORCE:

.SUFFIXES: .c .o
.c.o:
	$(CC) $(CFLAGS) $(SDU_CFLAGS) -c -o $@ $<

$(COMMON_OBJS): $(HEADERS)

common/libsdu.a: $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $(COMMON_OBJS)

# every program and test binary: its own .o plus the library
LINK = $(CC) $(CFLAGS) $(LDFLAGS) $(SDU_LDFLAGS) -o $@

$(UNIT_TESTS:=.o): tests/unit/sdu_t.h $(HEADERS)

tests/unit/t_msg: tests/unit/t_msg.o common/libsdu.a
	$(LINK) tests/unit/t_msg.o common/libsdu.a $(LIBS)

THROTTLE_OBJS = throttle/throttle_rules.o throttle/throttle_store.o throttle/throttle_session.o
REPORT_OBJS = throttle/throttle_report.o throttle/throttle_logread.o throttle/throttle_metrics.o throttle/throttle_html.o
# the tests and benchmarks that include a program's headers are built again with them
$(THROTTLE_OBJS) $(REPORT_OBJS) throttle/throttle.o throttle/sdu-report.o throttle/sdu-state-copy.o \
  $(UNIT_THROTTLE:=.o) bench/greylist.o: throttle/*.h $(HEADERS)

throttle/throttle: chain/sdu-chain
	ln -f chain/sdu-chain $@

throttle/sdu-report: throttle/sdu-report.o $(REPORT_OBJS) throttle/throttle_rules.o common/libsdu.a
	$(LINK) throttle/sdu-report.o $(REPORT_OBJS) throttle/throttle_rules.o common/libsdu.a $(LIBS)

throttle/sdu-state-copy: throttle/sdu-state-copy.o $(THROTTLE_OBJS) common/libsdu.a
	$(LINK) throttle/sdu-state-copy.o $(THROTTLE_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_throttle_rules: tests/unit/t_throttle_rules.o $(THROTTLE_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_throttle_rules.o $(THROTTLE_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_throttle_session: tests/unit/t_throttle_session.o $(THROTTLE_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_throttle_session.o $(THROTTLE_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_throttle_report: tests/unit/t_throttle_report.o throttle/throttle_report.o common/libsdu.a
	$(LINK) tests/unit/t_throttle_report.o throttle/throttle_report.o common/libsdu.a $(LIBS)

tests/unit/t_throttle_metrics: tests/unit/t_throttle_metrics.o $(REPORT_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_throttle_metrics.o $(REPORT_OBJS) common/libsdu.a $(LIBS)

bench/greylist: bench/greylist.o $(THROTTLE_OBJS) common/libsdu.a
	$(LINK) bench/greylist.o $(THROTTLE_OBJS) common/libsdu.a $(LIBS)

bench/throttle_flood: bench/throttle_flood.o
	$(LINK) bench/throttle_flood.o

bench/treecpu: bench/treecpu.o
	$(LINK) bench/treecpu.o

# spamgrab's parts; spamgrab links dynamically: libpsl.a needs libunistring.a, which Debian ships only in libunistring-dev
SPAMGRAB_OBJS = spamgrab/spamgrab_parse.o spamgrab/spamgrab_conf.o spamgrab/spamgrab_cache.o \
  spamgrab/spamgrab_report.o spamgrab/spamgrab_out.o spamgrab/spamgrab_contact.o spamgrab/spamgrab_run.o \
  spamgrab/spamgrab_tag.o spamgrab/spamgrab_local.o
$(SPAMGRAB_OBJS) spamgrab/spamgrab.o tests/unit/t_spamgrab_parse.o tests/unit/t_spamgrab_report.o tests/unit/t_spamgrab_tag.o tests/unit/t_spamgrab_local.o: spamgrab/*.h $(HEADERS)
spamgrab/spamgrab: spamgrab/spamgrab.o $(SPAMGRAB_OBJS) common/libsdu.a
	$(LINK) spamgrab/spamgrab.o $(SPAMGRAB_OBJS) common/libsdu.a $(SODIUM_LIBS) $(LIBS) $(PSL_LIBS)
tests/unit/t_spamgrab_parse: tests/unit/t_spamgrab_parse.o spamgrab/spamgrab_parse.o common/libsdu.a
	$(LINK) tests/unit/t_spamgrab_parse.o spamgrab/spamgrab_parse.o common/libsdu.a $(LIBS)
tests/unit/t_spamgrab_local: tests/unit/t_spamgrab_local.o spamgrab/spamgrab_local.o spamgrab/spamgrab_parse.o common/libsdu.a
	$(LINK) tests/unit/t_spamgrab_local.o spamgrab/spamgrab_local.o spamgrab/spamgrab_parse.o common/libsdu.a $(LIBS)
tests/unit/t_spamgrab_report: tests/unit/t_spamgrab_report.o $(SPAMGRAB_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_spamgrab_report.o $(SPAMGRAB_OBJS) common/libsdu.a $(SODIUM_LIBS) $(LIBS) $(PSL_LIBS)
tests/unit/t_spamgrab_tag: tests/unit/t_spamgrab_tag.o spamgrab/spamgrab_tag.o spamgrab/spamgrab_parse.o common/libsdu.a
	$(LINK) tests/unit/t_spamgrab_tag.o spamgrab/spamgrab_tag.o spamgrab/spamgrab_parse.o common/libsdu.a $(SODIUM_LIBS) $(LIBS)

rblcheck/rblcheck.o rblcheck/rblcheck_policy.o tests/unit/t_rblcheck_policy.o tests/unit/t_rblcheck_nomem.o: rblcheck/rblcheck_policy.h $(HEADERS)

rblcheck/rblcheck: chain/sdu-chain
	ln -f chain/sdu-chain $@

tests/unit/t_rblcheck_policy: tests/unit/t_rblcheck_policy.o rblcheck/rblcheck_policy.o common/libsdu.a
	$(LINK) tests/unit/t_rblcheck_policy.o rblcheck/rblcheck_policy.o common/libsdu.a $(SODIUM_LIBS) $(LIBS)

tests/unit/t_rblcheck_nomem: tests/unit/t_rblcheck_nomem.o rblcheck/rblcheck_policy.o common/libsdu.a
	$(LINK) tests/unit/t_rblcheck_nomem.o rblcheck/rblcheck_policy.o common/libsdu.a $(SODIUM_LIBS) $(LIBS)

bench/rblcheck_dnsdelay: bench/rblcheck_dnsdelay.o
	$(LINK) bench/rblcheck_dnsdelay.o

bench/rblcheck_exec: bench/rblcheck_exec.o
	$(LINK) bench/rblcheck_exec.o

# how the programs were compiled and linked, for the benchmarks' own anchors
bench/cc: Makefile
	echo "$(CC) $(CFLAGS) $(SDU_CFLAGS) $(LDFLAGS) $(SDU_LDFLAGS)" > $@

bench/spamgrab_bench.o: bench/spamgrab_bench.c spamgrab/*.h $(HEADERS)
	$(CC) $(CFLAGS) $(SDU_CFLAGS) -Ispamgrab -c -o $@ bench/spamgrab_bench.c

bench/spamgrab_bench: bench/spamgrab_bench.o spamgrab/spamgrab_parse.o common/libsdu.a
	$(LINK) bench/spamgrab_bench.o spamgrab/spamgrab_parse.o common/libsdu.a $(LIBS)

bench/greetlat: bench/greetlat.o
	$(LINK) bench/greetlat.o
bench/rblcheck_floor: bench/rblcheck_floor.o
	$(LINK) bench/rblcheck_floor.o

RCPTCHECK_OBJS = rcptcheck/rcptcheck_table.o rcptcheck/rcptcheck_rules.o \
  rcptcheck/rcptcheck_expire.o rcptcheck/rcptcheck_session.o rcptcheck/rcptcheck_count.o \
  rcptcheck/rcptcheck_ipme.o
RCPTBUILD_OBJS = rcptcheck/rcptcheck_build.o rcptcheck/rcptcheck_qmail.o
$(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) rcptcheck/rcptcheck.o rcptcheck/rcptcheck-build.o $(UNIT_RCPTCHECK:=.o): \
  rcptcheck/*.h $(HEADERS)

rcptcheck/rcptcheck: chain/sdu-chain
	ln -f chain/sdu-chain $@

# the links of the chain in one binary (sdu-chain.1 says why)
CHAIN_RBLCHECK = rblcheck/rblcheck.o rblcheck/rblcheck_policy.o
CHAIN_REST = throttle/throttle.o $(THROTTLE_OBJS) rcptcheck/rcptcheck.o $(RCPTCHECK_OBJS)
CHAIN_OBJS = $(CHAIN_RBLCHECK) $(CHAIN_REST)
# The order of the link is the layout of the text. What a clean rblcheck
# connection runs comes first, together: its objects, the parts of the
# library it calls, then the members of libowfat and libc they need (each
# library named again at the end for the rest). Every 64 KB window of text
# a connection touches is a page fault (the kernel maps text around a fault
# 16 pages at a time): 2 windows so, 6 in link order (OpenSSL lies between
# the library and libc). The sanitizers' build links libc dynamically.
CHAIN_HOT = common/sdu_msg.o common/sdu_env.o common/sdu_exec.o common/sdu_chain.o \
  common/sdu_config.o common/sdu_ip.o common/sdu_dns.o common/sdu_time.o common/sdu_proxy.o \
  common/sdu_smtp.o $(OBJ_ALLOC_$(LIBC))
EARLY_LIBC_ = -lc
EARLY_LIBC_0 = -lc
EARLY_LIBC_1 =
# The static builds are linked by lld in the order of chain/hot.order
# (chain/hot-musl.order with musl), which tools/hotorder.sh writes from what
# a clean connection runs (libc's start-up, the IFUNC resolvers, the links,
# LMDB) and the variables it touches: that text in a few windows, not 18
# (libc's objects are whole sections: the link order above cannot reach
# them), those variables in a few pages; chain/front.ld puts the small
# sections of code a connection runs (.init, .iplt, LMDB's) in front (chain/musl.ld
# lays out the musl build's whole image). musl-gcc names a dynamic linker
# that lld would honour in a static program: --no-dynamic-linker. The
# sanitizers' build links libc dynamically, in link order.
ORDERFILE_ = chain/hot.order
ORDERFILE_musl = chain/hot-musl.order
ORDERFILE = $(ORDERFILE_$(LIBC))
ORDER_ = -fuse-ld=lld -Wl,--symbol-ordering-file=$(ORDERFILE) -Wl,--no-warn-symbol-ordering \
  -Wl,-T,chain/front.ld
ORDER_0 = $(ORDER_)
# musl: chain/musl.ld lays out the whole image (it says why), RELRO given up
ORDER_musl = -fuse-ld=lld -Wl,--symbol-ordering-file=$(ORDERFILE) -Wl,--no-warn-symbol-ordering \
  -Wl,-T,chain/musl.ld -Wl,-z,norelro -Wl,--no-dynamic-linker
ORDER_musl0 = $(ORDER_musl)
CHAIN_ORDER = $(ORDER_$(LIBC)$(SANITIZE))
chain/sdu-chain.o: $(HEADERS)
chain/sdu-chain: chain/sdu-chain.o $(CHAIN_OBJS) common/libsdu.a common/sdu_cpuid.o $(ORDERFILE) chain/front.ld chain/musl.ld
	$(LINK) $(CHAIN_ORDER) chain/sdu-chain.o $(CPUID_WRAP) $(TAIA_WRAP) $(CHAIN_RBLCHECK) $(CHAIN_HOT) \
	  -lowfat $(EARLY_LIBC_$(SANITIZE)) $(CHAIN_REST) common/libsdu.a $(SODIUM_LIBS) $(LIBS)

rcptcheck/rcptcheck-build: rcptcheck/rcptcheck-build.o $(RCPTBUILD_OBJS) rcptcheck/rcptcheck_table.o common/libsdu.a
	$(LINK) rcptcheck/rcptcheck-build.o $(RCPTBUILD_OBJS) rcptcheck/rcptcheck_table.o common/libsdu.a $(LIBS)

tests/unit/t_rcptcheck_rules: tests/unit/t_rcptcheck_rules.o $(RCPTCHECK_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_rcptcheck_rules.o $(RCPTCHECK_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_rcptcheck_session: tests/unit/t_rcptcheck_session.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_rcptcheck_session.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_rcptcheck_build: tests/unit/t_rcptcheck_build.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_rcptcheck_build.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_rcptcheck_qmail: tests/unit/t_rcptcheck_qmail.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a
	$(LINK) tests/unit/t_rcptcheck_qmail.o $(RCPTCHECK_OBJS) $(RCPTBUILD_OBJS) common/libsdu.a $(LIBS)

tests/unit/t_alloc.o: common/sdu_alloc.c
tests/unit/t_alloc: tests/unit/t_alloc.o common/libsdu.a
	$(LINK) tests/unit/t_alloc.o common/libsdu.a $(LIBS)

tests/unit/t_tag: tests/unit/t_tag.o common/libsdu.a
	$(LINK) tests/unit/t_tag.o common/libsdu.a $(SODIUM_LIBS) $(LIBS)

tests/unit/t_tls: tests/unit/t_tls.o common/libsdu.a
	$(LINK) tests/unit/t_tls.o common/libsdu.a $(LIBS)

tests/unit/t_cpuid: tests/unit/t_cpuid.o common/sdu_cpuid.o
	$(LINK) tests/unit/t_cpuid.o $(CPUID_WRAP) $(LIBS)

tests/unit/t_state: tests/unit/t_state.o common/libsdu.a
	$(LINK) tests/unit/t_state.o common/libsdu.a $(LIBS)

tests/unit/t_config: tests/unit/t_config.o common/libsdu.a
	$(LINK) tests/unit/t_config.o common/libsdu.a $(LIBS)

tests/unit/t_addr: tests/unit/t_addr.o common/libsdu.a
	$(LINK) tests/unit/t_addr.o common/libsdu.a $(LIBS)

tests/unit/t_cdb: tests/unit/t_cdb.o common/libsdu.a
	$(LINK) tests/unit/t_cdb.o common/libsdu.a $(LIBS)

tests/unit/t_ip: tests/unit/t_ip.o common/libsdu.a
	$(LINK) tests/unit/t_ip.o common/libsdu.a $(LIBS)

tests/unit/t_dns: tests/unit/t_dns.o common/libsdu.a
	$(LINK) tests/unit/t_dns.o common/libsdu.a $(LIBS)

tests/unit/t_smtp: tests/unit/t_smtp.o common/libsdu.a
	$(LINK) tests/unit/t_smtp.o common/libsdu.a $(LIBS)

tests/sdu-testproxy: tests/sdu-testproxy.o common/libsdu.a common/sdu_cpuid.o
	$(LINK) tests/sdu-testproxy.o $(CPUID_WRAP) common/libsdu.a $(LIBS)

tests/sdu-maxrss: tests/sdu-maxrss.o common/libsdu.a
	$(LINK) tests/sdu-maxrss.o common/libsdu.a $(LIBS)

tests/smtpsink: tests/smtpsink.o common/libsdu.a
	$(LINK) tests/smtpsink.o common/libsdu.a $(LIBS)

bench/smtpblast: bench/smtpblast.o
	$(LINK) bench/smtpblast.o

bench/tls_floor.o: $(HEADERS)
bench/tls_floor: bench/tls_floor.o common/libsdu.a common/sdu_cpuid.o
	$(LINK) bench/tls_floor.o $(CPUID_WRAP) common/libsdu.a $(LIBS)

bench/rcptcheck-cpu: bench/rcptcheck-cpu.o
	$(LINK) bench/rcptcheck-cpu.o

check: all $(UNIT_TESTS)
	for m in $(MANS1); do mandoc -Tlint -Wwarning $$m || exit 1; done
	SDU_SANITIZE=$(SANITIZE) sh tests/run.sh

# the local demonstration (README): what is missing installed, built, then run
demo:
	sh tools/deps.sh
	$(MAKE) all
	sh tools/demo.sh

# each file goes in under a temporary name and is renamed into place, so that a
# running chain never finds a program missing or half written; the links of
# the chain are hard links to sdu-chain, as in the build tree
install:
	@if [ -f common/build-flags ] && ! printf '%s\n' '$(BUILD_FLAGS)' | cmp -s - common/build-flags; then \
	  echo "make install: the programs were built otherwise: $$(cat common/build-flags)" >&2; \
	  echo "make install: give it the variables of that build (make install LIBC=musl), or run make first" >&2; \
	  exit 100; fi
	$(MAKE) $(PROGS)
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	for p in $(PROGS); do \
	  b=$(DESTDIR)$(BINDIR)/$${p##*/}; \
	  case " $(CHAIN_LINKS) " in \
	    *" $$p "*) ln -f $(DESTDIR)$(BINDIR)/sdu-chain $$b.new ;; \
	    *) cp $$p $$b.new ;; \
	  esac && mv -f $$b.new $$b || exit 1; \
	done
	for m in $(MANS1); do cp $$m $(DESTDIR)$(MANDIR)/man1/ || exit 1; done

# the Debian package (debian/README.Debian): dpkg-buildpackage -us -uc -b in a
# copy of the sources, so that the tree is left as it is; the .deb, its
# .buildinfo and .changes go to DEBOUT (DEBFLAGS= : the source package too,
# .dsc and .tar.xz). Outer make's variables (LIBC, SANITIZE, CI, -j) are not
# passed down: the package is debian/rules' build.
DEBOUT = ..
DEBFLAGS = -b
deb:
	@out=$$(cd '$(DEBOUT)' && pwd) || exit 100; d=$$out/sdu-deb.$$$$; \
	rm -rf "$$d" && mkdir -p "$$d/sdu" && \
	tar cf - --exclude=./.git --exclude=./tests/tmp --exclude='*.o' --exclude='*.a' . | (cd "$$d/sdu" && tar xf -) && \
	(cd "$$d/sdu" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u LIBC -u SANITIZE -u CI \
	  dpkg-buildpackage -us -uc $(DEBFLAGS)) > "$$d.log" 2>&1 || \
	  { tail -n 30 "$$d.log" >&2; echo "make deb: dpkg-buildpackage failed: $$d.log, $$d" >&2; exit 111; }; \
	for f in "$$d"/*.deb "$$d"/*.ddeb "$$d"/*.buildinfo "$$d"/*.changes "$$d"/*.dsc "$$d"/*.tar.*; do \
	  [ -f "$$f" ] && { mv -f "$$f" "$$out/" || exit 111; }; done; \
	rm -rf "$$d" "$$d.log"; ls "$$out"/sdu_*.deb

# what dpkg-buildpackage leaves in debian/ when it ran in the tree itself
DEB_LEFT = debian/.debhelper debian/sdu debian/tmp debian/files debian/debhelper-build-stamp \
  debian/*.substvars debian/*.debhelper.log debian/*.debhelper

clean:
	rm -f common/*.o common/libsdu.a common/build-flags tests/unit/*.o $(UNIT_TESTS) \
	  $(PROGS) $(TEST_PROGS) $(BENCH_PROGS) */*.o tests/*.o bench/*.o
	rm -rf tests/tmp $(DEB_LEFT)

.PHONY: all programs check install deb clean demo FORCE

# every object, made again when the build flags change (common/build-flags); at the
# end, where every list is defined
ALL_OBJS = $(COMMON_OBJS) common/sdu_alloc.o common/sdu_cpuid.o $(UNIT_TESTS:=.o) chain/sdu-chain.o $(CHAIN_OBJS) \
  $(REPORT_OBJS) throttle/sdu-report.o rcptcheck/rcptcheck-build.o $(RCPTBUILD_OBJS) \
  spamgrab/spamgrab.o $(SPAMGRAB_OBJS) $(TEST_PROGS:=.o) tests/fuzz_addr.o $(BENCH_PROGS:=.o) \
  bench/throttle_flood.o
$(ALL_OBJS) bench/cc: common/build-flags
