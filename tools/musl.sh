#!/bin/sh
# tools/musl.sh: build the five libraries sdu links (libowfat, LMDB, libpsl,
# libsodium, OpenSSL's libssl and libcrypto) with musl from Debian 12's own source packages, static, into one prefix,
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
stamp="sdu-musl 5: $(dpkg-query -W -f='${Package} ${Version} ' libowfat-dev liblmdb-dev libpsl-dev libsodium-dev libssl-dev 2>/dev/null)"
if [ -r "$prefix/.sdu-musl" ] && [ "$(cat "$prefix/.sdu-musl")" = "$stamp" ]; then exit 0; fi

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
for p in libowfat lmdb libpsl libsodium openssl; do
  apt-get source -qq "$p" > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fatal 111 "apt-get source $p failed"; }
done
owfat=$(ls -d libowfat-*/ 2>/dev/null | head -n 1); owfat=${owfat#libowfat-}; owfat=${owfat%/}
lmdb=$(ls -d lmdb-*/ 2>/dev/null | head -n 1); lmdb=${lmdb#lmdb-}; lmdb=${lmdb%/}
psl=$(ls -d libpsl-*/ 2>/dev/null | head -n 1); psl=${psl#libpsl-}; psl=${psl%/}
sodium=$(ls -d libsodium-*/ 2>/dev/null | head -n 1); sodium=${sodium#libsodium-}; sodium=${sodium%/}
ssl=$(ls -d openssl-*/ 2>/dev/null | head -n 1); ssl=${ssl#openssl-}; ssl=${ssl%/}
[ -n "$owfat" ] && [ -n "$lmdb" ] && [ -n "$psl" ] && [ -n "$sodium" ] && [ -n "$ssl" ] || fatal 111 "sources not unpacked in $work"
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

# OpenSSL (the proxy's STARTTLS, common/sdu_tls.c): libssl and libcrypto only,
# static, no programs (build_libs), no tests. musl-gcc has no kernel
# headers: the options leave out what includes them (the AF_ALG engine, kernel
# TLS, secure memory's mlock2), and what musl lacks (async's makecontext,
# dlopen'ed modules and engines). The configuration file is never read (the
# proxy initialises with OPENSSL_INIT_NO_LOAD_CONFIG); --openssldir is Debian's.
( cd "openssl-$ssl" &&
  ./Configure linux-x86_64 CC=musl-gcc --prefix="$work/ssl" --libdir=lib --openssldir=/usr/lib/ssl \
    no-shared no-tests no-engine no-afalgeng no-ktls no-async no-dso no-module \
    no-secure-memory no-legacy no-ssl3 no-dtls no-comp -O2 > ../ssl.log 2>&1 &&
  make -s -j2 build_libs >> ../ssl.log 2>&1 && make -s install_dev >> ../ssl.log 2>&1 ) ||
  { tail -20 ssl.log >&2; fatal 111 "OpenSSL did not build"; }
cp "$work/ssl/lib/libssl.a" "$work/ssl/lib/libcrypto.a" "$prefix/lib/" && cp -R "$work/ssl/include/openssl" "$prefix/include/" ||
  fatal 111 "unable to copy OpenSSL"

echo "$stamp" > "$prefix/.sdu-musl" || fatal 111 "unable to write the stamp"
echo "musl.sh: libowfat $owfat, LMDB $lmdb, libpsl $psl, libsodium $sodium, OpenSSL $ssl built with musl in $prefix"
exit 0
