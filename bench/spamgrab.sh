#!/bin/sh
# bench/spamgrab.sh: double-bounces per second with one spamgrab process per message (as qmail-local
# runs it, 1, 2 and 4 at once) against /bin/true and a static true started the same way; the parser alone in MB/s against a memchr
# pass; peak memory as qmail-local runs it against the target (2 x message + 2 MiB), stdin a file and a pipe.
# usage: sh bench/spamgrab.sh [ runs | memory ]   (after make; memory: that part alone; SPAMGRAB=path
# measures another build, OTHER=path measures another build's memory too, e.g. one made with LIBC=musl)
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-3000}
mem=; [ "$n" = memory ] && { mem=1; n=10; }
w=$top/tests/tmp/bench-spamgrab.$$
mkdir -p "$w/state" "$w/review/tmp" "$w/review/new" "$w/review/cur" || exit 111
trap 'rm -rf "$w"' EXIT INT TERM
sg=${SPAMGRAB:-$top/spamgrab/spamgrab}
data=$top/tests/data/spamgrab
# the anchors are compiled and linked as the programs were (bench/cc: glibc or musl)
[ -x "$top/bench/spamgrab_bench" ] && [ -r "$top/bench/cc" ] || { echo "bench/spamgrab.sh: run make first" >&2; exit 111; }
cc=$(cat "$top/bench/cc")
ln -s "$top/bench/spamgrab_bench" "$w/bench" || exit 111
cat > "$w/conf" <<EOC
me mx.example.net
state $w/state
review $w/review
inject $w/sink
ptr no
operator orbs orbs@lists.test
cap 1000000
EOC

# the anchors: the cheapest process there is, dynamic and static
printf 'int main(void);\nint main(void) { return 0; }\n' > "$w/true.c"
$cc -o "$w/true" "$w/true.c" || exit 111
# the injector: reads the report and exits 0 (/bin/true would not read it: EPIPE, 111)
printf '#include <unistd.h>\nint main(void);\nint main(void) { char b[65536]; while (read(0, b, sizeof b) > 0) ; return 0; }\n' > "$w/sink.c"
$cc -o "$w/sink" "$w/sink.c" || exit 111
# the floor of the report path: a static program that starts the injector, hands it a
# report and waits for it, as spamgrab must for every report (two process starts a message)
cat > "$w/two.c" <<'EOC'
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>
/* two [ -d maildir ] injector: read the message, start the injector, hand it
   a 4 KiB report, wait; with -d also write the report to maildir/tmp, flush
   it and move it to new/, as a review copy is saved */
int main(int argc, char **argv)
{
  static char b[4096];
  char tmp[4096], new[4096];
  int p[2], st, fd;
  pid_t pid;
  while (read(0, b, sizeof b) > 0) ;
  if (argc > 3 && argv[1][0] == '-' && argv[1][1] == 'd') {
    snprintf(tmp, sizeof tmp, "%s/tmp/%ld.two", argv[2], (long) getpid());
    snprintf(new, sizeof new, "%s/new/%ld.two", argv[2], (long) getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1 || write(fd, b, sizeof b) != (ssize_t) sizeof b || fsync(fd) == -1 || close(fd) == -1) return 111;
    if (rename(tmp, new) == -1) return 111;
    argv += 2;
  }
  if (pipe(p) == -1 || (pid = fork()) == -1) return 111;
  if (!pid) { dup2(p[0], 0); close(p[0]); close(p[1]); execv(argv[1], argv + 1); _exit(111); }
  close(p[0]);
  if (write(p[1], b, sizeof b) != (ssize_t) sizeof b) return 111;
  close(p[1]);
  return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 111;
}
EOC
$cc -o "$w/two" "$w/two.c" || exit 111
# the new-host case: each run another client address, so each one reports (contact by PSL,
# the injector, a review file, the cache)
# the flood as it comes: a spam run's double-bounces, ten from each sending host, the
# hosts in turn (the first of each host reports, the other nine find it known)
awk -v m="$n" -v f="$data/db01.eml" -v d="$w" 'BEGIN { while ((getline l < f) > 0) body = body l "\n";
  for (i = 0; i < m; i++) { b = body; sub(/\(198\.51\.100\.7\)/, "(10." int(i / 65536) % 256 "." int(i / 256) % 256 "." i % 256 ")", b);
    printf "%s", b > (d "/m" i ".eml"); close(d "/m" i ".eml") }
  h = int(m / 10); if (h < 1) h = 1
  for (i = 0; i < m; i++) { j = i % h; b = body; sub(/\(198\.51\.100\.7\)/, "(10.1" int(j / 65536) % 10 "." int(j / 256) % 256 "." j % 256 ")", b);
    printf "%s", b > (d "/x" i ".eml"); close(d "/x" i ".eml") } }'
fresh() { rm -rf "$w/state"/* "$w/review/new"/*; }

if [ -z "$mem" ]; then
echo "# one process per message, $n runs each, P in flight (qmail-send's concurrencylocal; $(nproc) CPUs)"
for p in ${PS:-1 2 4}; do
  printf 'P=%s anchor /bin/true:            ' $p; "$w/bench" spawn "$n" $p "$data/db01.eml" /bin/true
  printf 'P=%s anchor static true:         ' $p; "$w/bench" spawn "$n" $p "$data/db01.eml" "$w/true"
  fresh; "$sg" -f "$w/conf" < "$data/db01.eml" 2>/dev/null
  printf 'P=%s spamgrab, known host:        ' $p; "$w/bench" spawn "$n" $p "$data/db01.eml" "$sg" -f "$w/conf"
  printf 'P=%s spamgrab, not a bounce:      ' $p; "$w/bench" spawn "$n" $p "$data/single-01.eml" "$sg" -f "$w/conf"
  printf 'P=%s floor of a report (2 starts): ' $p; "$w/bench" spawn "$n" $p "$data/db01.eml" "$w/two" "$w/sink"
  rm -rf "$w/floor"; mkdir -p "$w/floor/tmp" "$w/floor/new"
  printf 'P=%s  + a flushed review file:    ' $p; "$w/bench" spawn "$n" $p "$data/db01.eml" "$w/two" -d "$w/floor" "$w/sink"
  fresh
  printf 'P=%s spamgrab, new host (report): ' $p; "$w/bench" spawn "$n" $p "$w/m%lu.eml" "$sg" -f "$w/conf"
  echo "P=$p reports saved: $(ls "$w/review/new" | wc -l) of $n"
  fresh
  printf 'P=%s spamgrab, a spam run (1 in 10 reports): ' $p; "$w/bench" spawn "$n" $p "$w/x%lu.eml" "$sg" -f "$w/conf"
  echo "P=$p reports saved: $(ls "$w/review/new" | wc -l) of $n"
done

echo "# the parser alone, every sample"
"$w/bench" parse 2 "$data"/*.eml

fi

# peak memory: spamgrab as qmail-local runs it (qmail-local's environment, the message on
# stdin, a file or a pipe), on a double-bounce that is reported (contact, injector, review
# file, cache), against the target 2 x message + 2 MiB. For each build named: this tree's
# and OTHER's (e.g. OTHER=/elsewhere/spamgrab/spamgrab, a tree built with make LIBC=musl).
# The peak of what execs the program counts too: sdu-maxrss of a static true is the floor.
kind() {
  f=$(dirname "$1")/../bench/cc
  case $(cat "$f" 2>/dev/null) in
    "") echo unknown ;; *-fsanitize=*) echo sanitize ;; musl-gcc*) echo musl ;; *) echo glibc ;;
  esac
}
qlenv() {
  SENDER='#@[]' NEWSENDER='#@[]' RECIPIENT=alias-doublebounce@mx.example.net USER=alias HOME=$w \
    LOCAL=alias-doublebounce HOST=mx.example.net EXT=doublebounce \
    DTLINE='Delivered-To: alias-doublebounce@mx.example.net' RPLINE='Return-Path: <#@[]>'
  export SENDER NEWSENDER RECIPIENT USER HOME LOCAL HOST EXT DTLINE RPLINE
}
rss() { sed -n 's/^maxrss_kib=//p' "$w/rss.log"; }
echo "# peak memory (KiB) as qmail-local runs spamgrab; target: at most 2 * size + 2 MiB"
echo "floor (sdu-maxrss of a static true): $("$top/tests/sdu-maxrss" "$w/true" 2>&1 | sed -n 's/^maxrss_kib=//p') KiB"
for kb in 200 8192 24576; do
  f=$w/big$kb.eml
  { sed -n '1,/^Content-Transfer-Encoding/p' "$data/db01.eml"; echo
    head -c $((kb * 1024)) /dev/zero | tr '\0' 'x' | fold -w 76; } > "$f"
done
for s in "$sg" ${OTHER:-}; do
  [ -x "$s" ] || { echo "bench/spamgrab.sh: $s is not a program" >&2; continue; }
  for kb in 200 8192 24576; do
    f=$w/big$kb.eml
    size=$(($(wc -c < "$f") / 1024))
    lim=$((2 * size + 2048))
    for how in file pipe; do
      fresh
      if [ $how = file ]; then (qlenv; exec "$top/tests/sdu-maxrss" "$s" -f "$w/conf" < "$f" > /dev/null 2> "$w/rss.log")
      else cat "$f" | (qlenv; exec "$top/tests/sdu-maxrss" "$s" -f "$w/conf" > /dev/null 2> "$w/rss.log"); fi
      r=$(rss)
      grep -q 'action=report' "$w/rss.log" || r=0
      echo "build=$(kind "$s") size_kib=$size stdin=$how maxrss_kib=$r limit_kib=$lim $( [ "$r" -gt 0 ] && [ "$r" -le $lim ] && echo within || echo OVER)"
    done
  done
done
