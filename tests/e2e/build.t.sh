#!/bin/sh
# tests/e2e/build.t.sh: make builds what it is asked for: after make SANITIZE=1 (make check's
# second CI pass), a plain make (and so make install) gives the static program again, not
# the sanitizers' one (ASan: 10 MB more a process, 84 MB for an 8 MiB double-bounce on a
# pipe), and the other way round; make install installs only what was built with its
# variables. Built in a copy of the sources, spamgrab only.
. "${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/e2e.sh"
e2e_init build
e2e_need_prog make nm
S=$E2E_DIR/src
mkdir -p "$S/spamgrab" "$S/common" || exit 111
cp "$E2E_TOP/Makefile" "$S/" && cp "$E2E_TOP"/common/*.[ch] "$S/common/" &&
  cp "$E2E_TOP"/spamgrab/*.[ch] "$S/spamgrab/" || { echo "not ok - unable to copy the sources"; exit 1; }
# mk ARGS: make in the copy, without what the make check around us passed down (LIBC=musl, -j)
mk() {
  (cd "$S" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SANITIZE -u LIBC make CI=true "$@" spamgrab/spamgrab) \
    > "$E2E_DIR/make.log" 2>&1
}
asan() { nm "$S/spamgrab/spamgrab" 2>/dev/null | grep -q __asan_init; }
static() { ! readelf -l "$S/spamgrab/spamgrab" 2>/dev/null | grep -q INTERP; }
E2E_LAST=$E2E_DIR/make.log

mk
e2e_check "make: a static spamgrab without ASan" 'asan; [ $? = 1 ] && static'
mk SANITIZE=1
e2e_check "then make SANITIZE=1: spamgrab built again, with ASan" 'asan'
# make install without the build's variables installs nothing and says why
(cd "$S" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SANITIZE -u LIBC \
  make install DESTDIR="$E2E_DIR/root") > "$E2E_DIR/make.log" 2>&1
RC=$?
e2e_check "then make install: refused (the programs were built otherwise), nothing installed" \
  '[ "$RC" != 0 ] && grep -q "make install: the programs were built otherwise" "$E2E_DIR/make.log" && [ ! -e "$E2E_DIR/root" ] && asan'
mk
e2e_check "then make: spamgrab built again, static, without ASan" 'asan; [ $? = 1 ] && static && grep -q "build flags changed" "$E2E_DIR/make.log"'
mk
e2e_check "then make again: nothing built" '! grep -q "^cc\|-o spamgrab" "$E2E_DIR/make.log"'
