#!/bin/sh
# tests/e2e/dns.t.sh: sdu_dns against a real rbldnsd on a loopback address of its own
cd "${SDU_TOP:-$(dirname "$0")/../..}" || exit 111
t=tests/unit/t_dns
if [ ! -x "$t" ]; then echo "not ok - $t is not built"; exit 1; fi
# libowfat always asks port 53
if [ "$(id -u)" -ne 0 ]; then echo "skip - live DNS tests (need root to bind port 53)"; exit 0; fi
if ! command -v rbldnsd > /dev/null 2>&1; then echo "skip - live DNS tests (no rbldnsd)"; exit 0; fi

dir=tests/tmp/dns.$$
rm -rf "$dir"
mkdir -p "$dir" || exit 111
pid=
stop() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2> /dev/null
  i=0
  while kill -0 "$pid" 2> /dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  pid=
}
trap 'stop; rm -rf "$dir"' EXIT
trap 'exit 111' INT TERM HUP

# TXT templates with control bytes and more than rbldnsd's 255 bytes
long=$(i=0; while [ $i -lt 9 ]; do printf 'x\001y\177abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij'; i=$((i + 1)); done)
printf ':127.0.0.2:Listed in bl: $\n192.0.2.1\n192.0.2.2 :127.0.0.3:second code\n198.51.100.0/24\n192.0.2.50 :127.0.0.4:%s\n' "$long" > "$dir/a"
printf '192.0.2.1 :127.0.0.10:also here\n192.0.2.50 :127.0.0.11:%s\n' "$long" > "$dir/b"
printf ':127.0.0.5:v6 listed\n2001:db8:1::/48\n' > "$dir/c"
printf '2001:db8:2:3\n' > "$dir/d"
chmod 755 "$dir" && chmod 644 "$dir"/?

# an address block of our own, 127.53.N.0/24: .1 rbldnsd, .2 silent, .3 closed
k=0
while [ $k -lt 10 ]; do
  net=127.53.$(( ($$ + k) % 250 + 1 ))
  rbldnsd -n -u rbldns -b "$net.1/53" -p "$dir/pid" -w "$dir" \
    bl.test:ip4set:a bl.test:ip4set:b bl.test:ip6trie:c bl.test:ip6tset:d \
    > "$dir/log" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 50 ] && kill -0 "$pid" 2> /dev/null && ! grep -q ' started ' "$dir/log" 2> /dev/null; do
    sleep 0.1; i=$((i + 1))
  done
  grep -q ' started ' "$dir/log" 2> /dev/null && break
  stop
  k=$((k + 1))
done
if [ -z "$pid" ]; then
  echo "not ok - rbldnsd started"
  sed 's/^/# /' "$dir/log"
  exit 1
fi
echo "ok - rbldnsd started on $net.1"
[ "$(cat "$dir/pid" 2> /dev/null)" = "$pid" ] && echo "ok - rbldnsd pid file" || echo "not ok - rbldnsd pid file"

DNSCACHEIP=$net.1 "$t" live "$net.1" "$net.2" "$net.3"
rc=$?

stop
[ $rc -eq 0 ] || echo "not ok - t_dns live exited $rc"
exit $rc
