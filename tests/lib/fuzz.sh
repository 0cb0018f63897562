# tests/lib/fuzz.sh: build one libFuzzer target with clang and run it a fixed number of times (sourced by tests/fuzz/*.t.sh)
#
#   . "$SDU_TOP/tests/lib/fuzz.sh"
#   fuzz_run NAME RUNS MAXLEN "SOURCES..." SEED...
#
# The target tests/fuzz/NAME_fuzz.c is built with clang
# -fsanitize=fuzzer,address,undefined whatever the build of the pass (LIBC,
# SANITIZE), and runs RUNS inputs with a fixed seed, starting from the seed
# files SEED... (files, or directories of them; a file NAME.hex is turned
# into binary first: hex digits, '#' comments). tests/fuzz/NAME.t.sh takes
# RUNS from $NAME_FUZZ_RUNS (upper case) where given; the seed is 1, or
# $SDU_FUZZ_SEED. A crash, a leak, a timeout or a failed property (abort)
# is "not ok"; the input that did it is kept in tests/tmp/fuzz-NAME-crash/.
# Without clang or its libFuzzer runtime: "skip".

FUZZ_TOP=${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

# hex text (comments after '#') to binary on stdout
fuzz_unhex() {
  python3 -c 'import re, sys; sys.stdout.buffer.write(bytes.fromhex(re.sub("#.*", "", open(sys.argv[1]).read())))' "$1"
}

fuzz_run() {
  _f_name=$1 _f_runs=$2 _f_maxlen=$3 _f_src=$4
  shift 4
  cd "$FUZZ_TOP" || exit 111
  if ! command -v clang > /dev/null 2>&1; then echo "skip - $_f_name fuzz: no clang"; return 0; fi
  _f_dir=tests/tmp/fuzz-$_f_name.$$
  rm -rf "$_f_dir"
  mkdir -p "$_f_dir/corpus" "$_f_dir/work" || exit 111
  trap 'rm -rf "$_f_dir"' EXIT
  # shellcheck disable=SC2086 # the sources are a word list
  if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon -Irblcheck -Ispamgrab \
      -o "$_f_dir/fuzz" "tests/fuzz/${_f_name}_fuzz.c" $_f_src -lowfat -lsodium > "$_f_dir/build.log" 2>&1; then
    if grep -q 'libclang_rt.fuzzer\|fsanitize=fuzzer' "$_f_dir/build.log"; then
      echo "skip - $_f_name fuzz: clang has no libFuzzer runtime"
      sed 's/^/# /' "$_f_dir/build.log" | head -5
      return 0
    fi
    echo "not ok - $_f_name fuzz target builds"
    sed 's/^/# /' "$_f_dir/build.log" | head -20
    return 1
  fi
  echo "ok - $_f_name fuzz target builds"
  _f_n=0
  for _f_seeds in "$@"; do
    [ -d "$_f_seeds" ] && set -- "$_f_seeds"/* || set -- "$_f_seeds"
    for _f; do
      [ -f "$_f" ] || continue
      _f_n=$((_f_n + 1))
      case "$_f" in
        *.hex) fuzz_unhex "$_f" > "$_f_dir/corpus/seed$_f_n" || return 1 ;;
        *) cp "$_f" "$_f_dir/corpus/seed$_f_n" || return 1 ;;
      esac
    done
  done
  # it runs in work/, where a relative file name in an input finds nothing
  # but what the target put there; stdin is empty, so that no input waits
  if (cd "$_f_dir/work" && ../fuzz -runs="$_f_runs" -seed="${SDU_FUZZ_SEED:-1}" -artifact_prefix=../ \
      -max_len="$_f_maxlen" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 ../corpus \
      < /dev/null > ../run.log 2>&1); then
    echo "ok - $_f_name parser survives $_f_runs fuzzed inputs ($_f_n seeds)"
    grep '^stat::number_of_executed_units\|^stat::peak_rss_mb' "$_f_dir/run.log" | sed 's/^/# /'
  else
    echo "not ok - $_f_name parser survives $_f_runs fuzzed inputs ($_f_n seeds)"
    # the report without libFuzzer's own frames and ASan's shadow map
    sed -n '/ERROR\|runtime error\|deadly signal\|^MS: /,$p' "$_f_dir/run.log" |
      grep -v 'fuzzer::\|__sanitizer\|libc\.so\|libc_start\|_start (\|nptl/\|stdlib/\|signal/\|^ *0x0\|[Ss]hadow\|^  [A-Z][a-z].*: *[0-9a-f][0-9a-f]\|^ *$\|^stat::' |
      head -30 | sed 's/^/# /'
    mkdir -p "tests/tmp/fuzz-$_f_name-crash"
    cp "$_f_dir"/crash-* "$_f_dir"/leak-* "$_f_dir"/timeout-* "$_f_dir"/oom-* "tests/tmp/fuzz-$_f_name-crash/" 2>/dev/null
    echo "# inputs kept in tests/tmp/fuzz-$_f_name-crash/"
    return 1
  fi
}
