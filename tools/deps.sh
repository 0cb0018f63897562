#!/bin/sh
# tools/deps.sh: install the Debian 12 packages sdu needs to build, test,
# benchmark and demonstrate; only what is missing, starting no service.
# Then tools/musl.sh builds the libraries for "make LIBC=musl".
# usage: sh tools/deps.sh   (as root when something is missing)

pkgs="build-essential gcc make libc6-dev libowfat-dev tinycdb liblmdb-dev libhiredis-dev redis-server
  libpsl-dev libidn2-dev libunistring-dev libsodium-dev libssl-dev openssl publicsuffix ucspi-tcp-ipv6 rbldnsd swaks exim4-daemon-light
  bind9-dnsutils mandoc clang libclang-rt-14-dev lld valgrind hyperfine python3
  iproute2 procps psmisc nftables daemontools
  prometheus chromium debhelper lintian dpkg-dev fakeroot systemd"

# fatal CODE MESSAGE: 100 for what only the user can fix, 111 for failures
fatal() { c=$1; shift; echo "deps.sh: fatal: $*" >&2; exit "$c"; }

command -v dpkg-query >/dev/null 2>&1 || fatal 100 "dpkg-query not found: this script is for Debian 12"

missing=
for p in $pkgs; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
  [ "$s" = installed ] || missing="$missing $p"
done

# A system daemon of a test dependency must not hold a port or answer for us:
# the tests start their own exim4 (-bs on a pipe), rbldnsd (on 127.x.y.z) and
# redis-server (on a unix socket in their scratch directory).
stop_service() {
  if command -v service >/dev/null 2>&1; then
    service "$1" stop >/dev/null 2>&1 || :
  elif [ -x "/etc/init.d/$1" ]; then
    "/etc/init.d/$1" stop >/dev/null 2>&1 || :
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d "$1" disable >/dev/null 2>&1 || :
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$1" >/dev/null 2>&1 || :
  fi
}

# the pid in a daemon's pid file, when that process is alive
running() {
  [ -r "$1" ] || return 1
  read -r pid < "$1" 2>/dev/null || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null
}

quiet_services() {
  if running /run/exim4/exim.pid || running /var/run/exim4/exim.pid; then
    stop_service exim4
  fi
  if running /run/rbldnsd.pid || running /var/run/rbldnsd.pid; then
    stop_service rbldnsd
  fi
  if running /run/redis/redis-server.pid || running /var/run/redis/redis-server.pid; then
    stop_service redis-server
  fi
  if running /run/prometheus/prometheus.pid; then
    stop_service prometheus
  fi
  for f in /run/rbldnsd-*.pid; do
    running "$f" && stop_service rbldnsd
  done
  :
}

# the libraries built with musl for "make LIBC=musl" (tools/musl.sh)
musl_libs() {
  sh "$(dirname "$0")/musl.sh" || fatal 111 "tools/musl.sh failed"
}

if [ -z "$missing" ]; then
  [ "$(id -u)" -eq 0 ] && quiet_services
  musl_libs
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fatal 100 "missing packages:$missing; run this script as root to install them"

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND

# keep maintainer scripts from starting daemons while they install
# (Debian's policy-rc.d mechanism); leave an existing policy alone
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\n# written by sdu tools/deps.sh during apt-get install\nexit 101\n' > "$policy" &&
    chmod 755 "$policy" || fatal 111 "unable to write $policy"
  trap 'rm -f "$policy"' EXIT
  trap 'rm -f "$policy"; exit 111' HUP INT TERM
fi

echo "deps.sh: installing:$missing"
apt-get update -qq || fatal 111 "apt-get update failed"
# shellcheck disable=SC2086
apt-get install -y -qq -o Dpkg::Use-Pty=0 $missing > /dev/null ||
  fatal 111 "apt-get install failed for:$missing"

[ -n "$policy" ] && rm -f "$policy"

# install-time starts can slip through (systemd ignores policy-rc.d on some setups);
# prometheus is there for promtool only (tests/e2e/report.t.sh)
stop_service prometheus
stop_service exim4
stop_service rbldnsd
stop_service redis-server
quiet_services
if command -v ss >/dev/null 2>&1 && ss -Hltn 'sport = :25' 2>/dev/null | grep -q .; then
  echo "deps.sh: warning: something still listens on port 25" >&2
fi

still=
for p in $missing; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
  [ "$s" = installed ] || still="$still $p"
done
[ -z "$still" ] || fatal 111 "still missing after apt-get install:$still"
musl_libs
echo "deps.sh: done"
exit 0
