#!/bin/sh
# tools/musl.sh: build the five libraries sdu links (libowfat, LMDB, libpsl,
# libsodium, hiredis, OpenSSL's libssl and libcrypto) with musl from Debian 12's own source packages, static, into one prefix,
# for "make LIBC=musl". Nothing of theirs is kept in sdu's tree.
# usage: sh tools/musl.sh [ prefix ]   (default /opt/sdu-musl; as root when
# packages or sources are missing; does nothing when the prefix is complete)
#
# Why: a program linked statically with glibc runs a few dozen CPUID
# instructions at start-up to choose its string functions; each one is a trap
# to the hypervisor, and on a virtual machine inside another (this project's
# test machines: ~84 us each) that makes every exec cost ~0.46 ms against
# ~0.18 ms for the same program linked with musl. A chain link is one exec
# per connection, so this is the chain's largest cost.

prefix=${1:-/opt/sdu-musl}
fatal() { c=$1; shift; echo "musl.sh: fatal: $*" >&2; exit "$c"; }

# the versions Debian has installed for glibc; a stamp says which ones the
# prefix holds (the sources come in the same versions, whatever they are)
stamp="sdu-musl 4: $(dpkg-query -W -f='${Package} ${Version} ' libowfat-dev liblmdb-dev libpsl-dev libsodium-dev 2>/dev/null)"
# hiredis (the state store on Redis) came later: a stamp of its own, so that
# adding it to a complete prefix builds it alone and removes nothing that a
# build running meanwhile links
hstamp="sdu-musl hiredis 2: $(dpkg-query -W -f='${Package} ${Version} ' libhiredis-dev 2>/dev/null)"
# OpenSSL (the proxy's STARTTLS) too, the same way
ostamp="sdu-musl openssl 2: $(dpkg-query -W -f='${Package} ${Version} ' libssl-dev 2>/dev/null)"
whole=0
if [ -r "$prefix/.sdu-musl" ] && [ "$(cat "$prefix/.sdu-musl")" = "$stamp" ]; then
  whole=1
  if [ -r "$prefix/.sdu-musl-hiredis" ] && [ "$(cat "$prefix/.sdu-musl-hiredis")" = "$hstamp" ] &&
     [ -r "$prefix/.sdu-musl-openssl" ] && [ "$(cat "$prefix/.sdu-musl-openssl")" = "$ostamp" ]; then exit 0; fi
fi

[ "$(id -u)" -eq 0 ] || fatal 100 "$prefix is not built; run this script as root"
export DEBIAN_FRONTEND=noninteractive
need=
# autoconf, automake, libtool: libsodium's source package comes without configure
for p in musl-tools dpkg-dev xz-utils autoconf automake libtool; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || need="$need $p"
done
# source packages come from the same mirror as the binary ones
src=/etc/apt/sources.list.d/sdu-musl-src.sources
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb \(http[^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src" ||
    fatal 111 "unable to write $src"
  need="$need update"
fi
if [ -n "$need" ]; then
  apt-get update -qq || fatal 111 "apt-get update failed"
  pk=$(echo "$need" | sed 's/ update//')
  # shellcheck disable=SC2086
  [ -z "$pk" ] || apt-get install -y -qq -o Dpkg::Use-Pty=0 $pk > /dev/null || fatal 111 "apt-get install failed for:$pk"
fi
command -v musl-gcc > /dev/null || fatal 111 "musl-gcc not found after installing musl-tools"

work=$(mktemp -d /tmp/sdu-musl.XXXXXX) || fatal 111 "unable to make a work directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 111' HUP INT TERM
cd "$work" || fatal 111 "unable to enter $work"
chmod 755 "$work"   # apt's _apt user fetches into it

# hiredis: the files of its own makefile's library, its headers under hiredis/
hiredis() {
  apt-get source -qq hiredis > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fatal 111 "apt-get source hiredis failed"; }
  hr=$(ls -d hiredis-*/ 2>/dev/null | head -n 1); hr=${hr%/}
  [ -n "$hr" ] || fatal 111 "hiredis not unpacked in $work"
  # the library's sources as its makefile lists them (alloc.c in later versions)
  ( cd "$hr" && objs= && for f in hiredis net read sds alloc sockcompat; do
      [ -f "$f.c" ] || continue
      musl-gcc -O2 -std=c99 -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=600 -c "$f.c" > /dev/null 2>&1 || exit 1
      objs="$objs $f.o"
    done &&
    ar rcs "$prefix/lib/libhiredis.a.new" $objs && mkdir -p "$prefix/include/hiredis" &&
    cp ./*.h "$prefix/include/hiredis/" && mv "$prefix/lib/libhiredis.a.new" "$prefix/lib/libhiredis.a" ) ||
    fatal 111 "hiredis did not build"
  echo "$hstamp" > "$prefix/.sdu-musl-hiredis" || fatal 111 "unable to write the stamp"
  echo "musl.sh: ${hr} built with musl in $prefix"
}

# OpenSSL (the proxy's STARTTLS, common/sdu_tls.c): libssl and libcrypto
# only, static, no programs (build_libs), no tests. musl-gcc has no kernel
# headers: the options leave out what includes them (the AF_ALG engine,
# kernel TLS, secure memory's mlock2), and what musl lacks (async's
# makecontext, dlopen'ed modules and engines). The configuration file is
# never read (the proxy initialises with OPENSSL_INIT_NO_LOAD_CONFIG);
# --openssldir is Debian's. About two minutes on two CPUs.
# Algorithms and parts no TLS 1.2/1.3 server of ours uses are left out
# (the no-* of the second line): OpenSSL 3 builds a table of every cipher,
# digest and name it has in each process that makes a TLS context, so each
# one costs a STARTTLS session CPU and memory (bench/tls.sh: 13.5 million
# instructions for the session's setup and handshake with all of them, 9.2
# without; RSS at rest 4.3 MiB, 3.6 without). What stays: AES (GCM, CCM,
# CBC, CTR for the random generator), ChaCha20-Poly1305, SHA-1/2/3, HMAC,
# HKDF and the TLS PRFs, RSA, EC (P-256, P-384, P-521, X25519, X448,
# Ed25519), DH (the DHE suites), PSK.
openssl_libs() {
  apt-get source -qq openssl > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fatal 111 "apt-get source openssl failed"; }
  ssl=$(ls -d openssl-*/ 2>/dev/null | head -n 1); ssl=${ssl%/}
  [ -n "$ssl" ] || fatal 111 "openssl not unpacked in $work"
  ( cd "$ssl" &&
    ./Configure linux-x86_64 CC=musl-gcc --prefix="$work/ssl" --libdir=lib --openssldir=/usr/lib/ssl \
      no-shared no-tests no-engine no-afalgeng no-ktls no-async no-dso no-module \
      no-secure-memory no-legacy no-ssl3 no-dtls no-comp \
      no-aria no-bf no-blake2 no-camellia no-cast no-cmac no-des no-dsa no-ec2m no-gost no-idea no-md4 \
      no-mdc2 no-ocb no-rc2 no-rc4 no-rc5 no-rmd160 no-scrypt no-seed no-siphash no-siv no-sm2 no-sm3 \
      no-sm4 no-srp no-whirlpool no-cms no-ts no-ct no-ocsp no-srtp no-nextprotoneg no-rfc3779 \
      no-ui-console -O2 -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables > ../ssl.log 2>&1 &&
    make -s -j2 build_libs >> ../ssl.log 2>&1 && make -s install_dev >> ../ssl.log 2>&1 ) ||
    { tail -20 ssl.log >&2; fatal 111 "OpenSSL did not build"; }
  # the headers first, the libraries renamed into place: a build running
  # meanwhile finds the old files or the new ones
  cp -R "$work/ssl/include/openssl" "$prefix/include/" &&
    cp "$work/ssl/lib/libssl.a" "$prefix/lib/libssl.a.new" && cp "$work/ssl/lib/libcrypto.a" "$prefix/lib/libcrypto.a.new" &&
    mv "$prefix/lib/libcrypto.a.new" "$prefix/lib/libcrypto.a" && mv "$prefix/lib/libssl.a.new" "$prefix/lib/libssl.a" ||
    fatal 111 "unable to copy OpenSSL"
  echo "$ostamp" > "$prefix/.sdu-musl-openssl" || fatal 111 "unable to write the stamp"
  echo "musl.sh: ${ssl} built with musl in $prefix"
}
if [ "$whole" = 1 ]; then
  [ -r "$prefix/.sdu-musl-hiredis" ] && [ "$(cat "$prefix/.sdu-musl-hiredis")" = "$hstamp" ] || hiredis
  [ -r "$prefix/.sdu-musl-openssl" ] && [ "$(cat "$prefix/.sdu-musl-openssl")" = "$ostamp" ] || openssl_libs
  exit 0
fi

for p in libowfat lmdb libpsl libsodium; do
  apt-get source -qq "$p" > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fatal 111 "apt-get source $p failed"; }
done
owfat=$(ls -d libowfat-*/ 2>/dev/null | head -n 1); owfat=${owfat#libowfat-}; owfat=${owfat%/}
lmdb=$(ls -d lmdb-*/ 2>/dev/null | head -n 1); lmdb=${lmdb#lmdb-}; lmdb=${lmdb%/}
psl=$(ls -d libpsl-*/ 2>/dev/null | head -n 1); psl=${psl#libpsl-}; psl=${psl%/}
sodium=$(ls -d libsodium-*/ 2>/dev/null | head -n 1); sodium=${sodium#libsodium-}; sodium=${sodium%/}
[ -n "$owfat" ] && [ -n "$lmdb" ] && [ -n "$psl" ] && [ -n "$sodium" ] || fatal 111 "sources not unpacked in $work"
pslmaj=$(echo "$psl" | cut -d. -f1); pslmin=$(echo "$psl" | cut -d. -f2); pslpat=$(echo "$psl" | cut -d. -f3)
pslnum=$(printf '0x%02x%02x%02x' "$pslmaj" "$pslmin" "${pslpat:-0}")

rm -rf "$prefix"
mkdir -p "$prefix/include" "$prefix/lib" || fatal 111 "unable to make $prefix"

# libowfat: its own makefile (DIET= keeps it from picking up dietlibc)
make -s -C "libowfat-$owfat" -j2 DIET= CC=musl-gcc libowfat.a > owfat.log 2>&1 ||
  { tail -20 owfat.log >&2; fatal 111 "libowfat did not build"; }
cp "libowfat-$owfat/libowfat.a" "$prefix/lib/" || fatal 111 "unable to copy libowfat.a"
for h in "libowfat-$owfat"/*.h; do
  case $h in *h1|*h2) continue ;; esac
  cp "$h" "$prefix/include/" || fatal 111 "unable to copy $h"
done
# musl warns on <sys/poll.h>, an old name of <poll.h>
sed -i 's@<sys/poll.h>@<poll.h>@' "$prefix"/include/*.h || fatal 111 "unable to edit the headers"

# LMDB: two files
( cd "lmdb-$lmdb/libraries/liblmdb" &&
  musl-gcc -O2 -pthread -c mdb.c && musl-gcc -O2 -pthread -c midl.c &&
  ar rcs "$prefix/lib/liblmdb.a" mdb.o midl.o && cp lmdb.h "$prefix/include/" ) ||
  fatal 111 "LMDB did not build"

# libpsl without an IDNA library: it reads Debian's public suffix file
# (package publicsuffix); names are ASCII by the time spamgrab asks
( cd "libpsl-$psl" &&
  sed -e "s/@LIBPSL_VERSION@/$psl/" -e "s/@LIBPSL_VERSION_MAJOR@/$pslmaj/" -e "s/@LIBPSL_VERSION_MINOR@/$pslmin/" \
    -e "s/@LIBPSL_VERSION_PATCH@/${pslpat:-0}/" -e "s/@LIBPSL_VERSION_NUMBER@/$pslnum/" include/libpsl.h.in > "$prefix/include/libpsl.h" &&
  musl-gcc -O2 -I"$prefix/include" -DPACKAGE_VERSION="\"$psl\"" -DHAVE_STRINGS_H \
    -DPSL_DISTFILE='"/usr/share/publicsuffix/public_suffix_list.dafsa"' -c src/psl.c &&
  musl-gcc -O2 -I"$prefix/include" -c src/lookup_string_in_fixed_set.c &&
  ar rcs "$prefix/lib/libpsl.a" psl.o lookup_string_in_fixed_set.o ) ||
  fatal 111 "libpsl did not build"

# libsodium (HMAC-SHA-256 of rblcheck's tag): its own build, static only,
# installed into the work directory, then its library and headers copied
( cd "libsodium-$sodium" && autoreconf -fi > ../sodium.log 2>&1 &&
  ./configure -q CC=musl-gcc --prefix="$work/sodium" --disable-shared --enable-static \
    --disable-dependency-tracking >> ../sodium.log 2>&1 &&
  make -s -j2 >> ../sodium.log 2>&1 && make -s install >> ../sodium.log 2>&1 ) ||
  { tail -20 sodium.log >&2; fatal 111 "libsodium did not build"; }
cp "$work/sodium/lib/libsodium.a" "$prefix/lib/" && cp -R "$work/sodium/include/sodium.h" "$work/sodium/include/sodium" "$prefix/include/" ||
  fatal 111 "unable to copy libsodium"

echo "$stamp" > "$prefix/.sdu-musl" || fatal 111 "unable to write the stamp"
echo "musl.sh: libowfat $owfat, LMDB $lmdb, libpsl $psl, libsodium $sodium built with musl in $prefix"
hiredis
openssl_libs
exit 0
