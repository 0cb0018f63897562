# tests/lib/e2e.sh: helpers for end-to-end tests with real servers (sourced by tests/*/*.t.sh)
#
#   . "$SDU_TOP/tests/lib/e2e.sh"; e2e_init NAME
#
# Every server is started in its own process group (setsid) and its pid is
# written to $E2E_DIR/.pids, so that e2e_stop_all (run by the EXIT trap, also
# after a signal) stops it and everything it forked, with bounded waits.
# Ports and loopback addresses are chosen at random and checked free with ss;
# nothing is assumed free. Results are "ok - ", "not ok - ", "skip - " lines.

E2E_TOP=${SDU_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PATH="$E2E_TOP/tests:$E2E_TOP/rblcheck:$E2E_TOP/throttle:$E2E_TOP/rcptcheck:$E2E_TOP/spamgrab:$PATH:/usr/sbin:/sbin"
export PATH E2E_TOP
E2E_FAILED=0
E2E_N=0

# e2e_init NAME: scratch dir tests/tmp/NAME.$$ as E2E_DIR, cleanup on exit
e2e_init() {
  E2E_NAME=$1
  umask 022
  E2E_DIR="$E2E_TOP/tests/tmp/$1.$$"
  rm -rf "$E2E_DIR"
  mkdir -p "$E2E_DIR" || { echo "not ok - $1: unable to create $E2E_DIR"; exit 111; }
  : > "$E2E_DIR/.pids"
  export E2E_DIR E2E_NAME
  trap 'e2e_exit' EXIT
  trap 'exit 143' HUP INT TERM
  # a reader that went away (| head) must not leave the servers running
  trap 'exec > /dev/null 2>&1; exit 141' PIPE
}

# the EXIT trap: stop every server; keep the scratch dir only after a failure
e2e_exit() {
  _e_rc=$?
  e2e_stop_all
  if [ "$E2E_FAILED" -eq 0 ] && [ "$_e_rc" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then
    rm -rf "$E2E_DIR"
  else
    echo "# scratch files kept in $E2E_DIR"
  fi
  [ "$_e_rc" -eq 0 ] && [ "$E2E_FAILED" -gt 0 ] && _e_rc=1
  exit "$_e_rc"
}

# e2e_need_root: the rest of the test needs root (port 53, exim -C): skip it otherwise
e2e_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "skip - $E2E_NAME: needs root (${1:-port 53, exim4 -C})"
    exit 0
  fi
}

# e2e_need_prog PROG...: skip the rest of the test when a program is missing
e2e_need_prog() {
  for _e_p in "$@"; do
    command -v "$_e_p" > /dev/null 2>&1 && continue
    echo "skip - $E2E_NAME: $_e_p not installed (sh tools/deps.sh)"
    exit 0
  done
}

e2e_random() { # a number 0..65535
  od -An -N2 -tu2 /dev/urandom | tr -d ' \n'
}

# e2e_free_port: prints a TCP port on which nothing listens or connects,
# below Linux's ephemeral range so that clients do not take it meanwhile
e2e_free_port() {
  _e_i=0
  while [ $_e_i -lt 100 ]; do
    _e_p=$((20000 + $(e2e_random) % 12000))
    if [ -z "$(ss -Htan "( sport = :$_e_p or dport = :$_e_p )" 2>/dev/null)" ]; then
      echo "$_e_p"
      return 0
    fi
    _e_i=$((_e_i + 1))
  done
  echo "e2e_free_port: no free port found" >&2
  return 1
}

# e2e_free_addr: prints a 127.x.y.z address that no socket uses
# (the whole of 127.0.0.0/8 is local on Linux without configuration)
e2e_free_addr() {
  _e_i=0
  while [ $_e_i -lt 100 ]; do
    _e_a="127.$((1 + $(e2e_random) % 250)).$(($(e2e_random) % 256)).$((1 + $(e2e_random) % 250))"
    if [ -z "$(ss -Htuan "( src $_e_a or dst $_e_a )" 2>/dev/null)" ]; then
      echo "$_e_a"
      return 0
    fi
    _e_i=$((_e_i + 1))
  done
  echo "e2e_free_addr: no free address found" >&2
  return 1
}

e2e_remember() { # PID NAME
  echo "$1 $2" >> "$E2E_DIR/.pids"
}

# e2e_alive PGID: true while the process PGID or any process of the group
# it started is alive (zombies waiting for us to reap them do not count).
# The process itself counts: just after "setsid prog &" it may not have made
# its group yet (a race that made a live rbldnsd look dead at its start).
e2e_alive() {
  ps -e -o pid=,pgid=,stat= | awk -v g="$1" '($1 == g || $2 == g) && $3 !~ /^Z/ { found = 1 } END { exit !found }'
}

# e2e_stop PID: TERM to its process group, then KILL after at most 5 seconds
e2e_stop() {
  kill -TERM "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
  _e_i=0
  while e2e_alive "$1" && [ $_e_i -lt 50 ]; do sleep 0.1; _e_i=$((_e_i + 1)); done
  if e2e_alive "$1"; then
    kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null
    _e_i=0
    while e2e_alive "$1" && [ $_e_i -lt 20 ]; do sleep 0.1; _e_i=$((_e_i + 1)); done
  fi
  wait "$1" 2>/dev/null
  return 0
}

# e2e_stop_all: stop every server this test started, newest first
e2e_stop_all() {
  [ -f "$E2E_DIR/.pids" ] || return 0
  for _e_pid in $(awk '{ print $1 }' "$E2E_DIR/.pids" | sort -rn); do
    e2e_stop "$_e_pid"
  done
  : > "$E2E_DIR/.pids"
}

# e2e_wait TENTHS CMD...: runs CMD every tenth of a second until it succeeds,
# at most TENTHS times; status of the last run
e2e_wait() {
  _e_n=$1; shift
  while ! "$@"; do
    _e_n=$((_e_n - 1))
    [ "$_e_n" -gt 0 ] || return 1
    sleep 0.1
  done
}

# e2e_listening PID PORT: PID listens on TCP PORT
e2e_listening() {
  ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
}

# e2e_tcpserver [tcpserver options] [-a host] PORT prog args...
# starts "tcpserver -vRHl0 [options] host PORT prog args..." (host 127.0.0.1
# unless -a: "::1" or "0" for IPv6 tests with -6), its stderr (tcpserver's
# log and every program's messages) appended to $E2E_DIR/tcpserver.log;
# returns once the port listens. PORT 0: a free port is chosen (and another
# one tried if it was taken meanwhile). Sets E2E_PORT and E2E_TCPSERVER_PID.
e2e_tcpserver() {
  _e_host=127.0.0.1
  _e_opts=
  while :; do
    case "$1" in
      -a) _e_host=$2; shift 2 ;;
      -[xcbtugBlI]) _e_opts="$_e_opts $1 $2"; shift 2 ;;
      -*) _e_opts="$_e_opts $1"; shift ;;
      *) break ;;
    esac
  done
  _e_want=$1; shift
  # E2E_TCPLOG_TO: where tcpserver's output goes instead of tcpserver.log
  # (a FIFO that multilog reads, as a site logs: bench/throttle.sh)
  E2E_TCPLOG="${E2E_TCPLOG_TO:-$E2E_DIR/tcpserver.log}"
  _e_tries=0
  while [ $_e_tries -lt 5 ]; do
    _e_tries=$((_e_tries + 1))
    if [ "$_e_want" = 0 ]; then _e_port=$(e2e_free_port) || return 1; else _e_port=$_e_want; fi
    # shellcheck disable=SC2086
    setsid tcpserver -vRHl0 $_e_opts "$_e_host" "$_e_port" "$@" >> "$E2E_TCPLOG" 2>&1 < /dev/null &
    _e_pid=$!
    e2e_remember "$_e_pid" tcpserver
    if e2e_wait 100 e2e_listening "$_e_pid" "$_e_port"; then
      E2E_PORT=$_e_port
      E2E_TCPSERVER_PID=$_e_pid
      return 0
    fi
    e2e_stop "$_e_pid"
    [ "$_e_want" = 0 ] || break
  done
  echo "# e2e_tcpserver: tcpserver on $_e_host $_e_want did not start:" >&2
  [ -f "$E2E_TCPLOG" ] && tail -n 5 "$E2E_TCPLOG" | sed 's/^/#   /' >&2
  return 1
}

# e2e_tcprules CDB: builds a tcprules cdb from the rules on stdin
e2e_tcprules() {
  tcprules "$1" "$1.tmp"
}

# e2e_dig IP NAME [TYPE]: the answer of the DNS server at IP, one record a line
e2e_dig() {
  dig +short +time=2 +tries=2 +norecurse "@$1" "$2" "${3:-A}"
}

e2e_dns_answers() { # IP: the server at IP answers (any reply code counts)
  dig +time=1 +tries=1 +norecurse "@$1" "${2:-sdu.test}" SOA > /dev/null 2>&1
}

# e2e_rbldnsd IP ZONE:TYPE:FILE...: rbldnsd on IP port 53 in the foreground
# of its own process group (needs root: it binds port 53 and drops to rbldns);
# returns once it answers. Sets E2E_RBLDNSD_PID; its output: rbldnsd.log.
e2e_rbldnsd() {
  _e_ip=$1; shift
  if ! id rbldns > /dev/null 2>&1; then
    echo "# e2e_rbldnsd: no user rbldns (is rbldnsd installed?)" >&2
    return 1
  fi
  if [ -n "$(ss -Hluan "src $_e_ip:53" 2>/dev/null)" ]; then
    echo "# e2e_rbldnsd: $_e_ip port 53 is taken" >&2
    return 1
  fi
  _e_log="$E2E_DIR/rbldnsd.log"
  setsid rbldnsd -n -u rbldns -b "$_e_ip/53" -c 0 -p "$E2E_DIR/rbldnsd.$_e_ip.pid" "$@" >> "$_e_log" 2>&1 < /dev/null &
  _e_pid=$!
  e2e_remember "$_e_pid" rbldnsd
  _e_zone=${1%%:*}
  _e_i=0
  while [ $_e_i -lt 100 ]; do
    if ! e2e_alive "$_e_pid"; then
      echo "# e2e_rbldnsd: rbldnsd exited:" >&2
      tail -n 5 "$_e_log" | sed 's/^/#   /' >&2
      return 1
    fi
    if command -v dig > /dev/null 2>&1; then
      e2e_dns_answers "$_e_ip" "$_e_zone" && break
    elif [ -s "$E2E_DIR/rbldnsd.$_e_ip.pid" ] && [ -n "$(ss -Hluan "src $_e_ip:53" 2>/dev/null)" ]; then
      sleep 0.3 # no DNS client to ask: socket bound, zones loaded in the foreground before
      break
    fi
    sleep 0.1
    _e_i=$((_e_i + 1))
  done
  if [ $_e_i -ge 100 ]; then
    echo "# e2e_rbldnsd: no answer from $_e_ip within 10 seconds" >&2
    e2e_stop "$_e_pid"
    return 1
  fi
  E2E_RBLDNSD_PID=$_e_pid
  return 0
}

# e2e_exim_conf: writes $E2E_DIR/exim.conf for "exim4 -C ... -odi -bs": mail
# for any local part at example.net and example.org from anyone, PIPELINING,
# no TLS, CHUNKING, DNS or ident; each message delivered as one file in the
# maildir $E2E_DIR/exim-mail (new/), spool and logs in $E2E_DIR too.
# Exim runs the delivery as Debian-exim (root is a fixed never_user, and -C
# costs exim its privilege), so that user owns the directories.
e2e_exim_conf() {
  _e_user=Debian-exim
  id "$_e_user" > /dev/null 2>&1 || _e_user=$(exim4 -bP exim_user 2>/dev/null | sed 's/.*= *//')
  mkdir -p "$E2E_DIR/exim-spool" "$E2E_DIR/exim-log" "$E2E_DIR/exim-mail" || return 1
  chown "$_e_user:" "$E2E_DIR/exim-spool" "$E2E_DIR/exim-log" "$E2E_DIR/exim-mail" || return 1
  cat > "$E2E_DIR/exim.conf" <<EOF
# written by tests/lib/e2e.sh: a throw-away exim for one test
primary_hostname = exim.sdu.test
qualify_domain = example.net
spool_directory = $E2E_DIR/exim-spool
log_file_path = $E2E_DIR/exim-log/%slog
pid_file_path = $E2E_DIR/exim.pid
keep_environment =
domainlist local_domains = example.net : example.org
acl_smtp_rcpt = acl_rcpt
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
pipelining_advertise_hosts = *
tls_advertise_hosts =
chunking_advertise_hosts =
smtputf8_advertise_hosts =
queue_only = false
message_size_limit = 50M
smtp_accept_max_nonmail = 1000

begin acl
acl_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted

begin routers
local:
  driver = accept
  domains = +local_domains
  transport = tofile

begin transports
tofile:
  driver = appendfile
  directory = $E2E_DIR/exim-mail
  maildir_format = true
  user = $_e_user
  group = $_e_user
  mode = 0644
  envelope_to_add
  return_path_add

begin retry
* * F,1h,1m
EOF
}

# e2e_exim_cmd: the words that put this exim at the end of a chain
e2e_exim_cmd() {
  echo "exim4 -C $E2E_DIR/exim.conf -odi -bs"
}

# e2e_count DIR [GLOB]: number of files in DIR matching GLOB (default *)
e2e_count() {
  _e_n=0
  for _e_f in "$1"/${2:-*}; do [ -f "$_e_f" ] && _e_n=$((_e_n + 1)); done
  echo "$_e_n"
}

# e2e_swaks ARGS...: swaks to 127.0.0.1:$E2E_PORT (unless --server is given)
# with a 10 second timeout; the transcript goes to $E2E_DIR/swaks.N.out,
# named in E2E_LAST; the status is swaks's.
e2e_swaks() {
  E2E_N=$((E2E_N + 1))
  E2E_LAST="$E2E_DIR/swaks.$E2E_N.out"
  _e_server="--server 127.0.0.1:${E2E_PORT:-25}"
  for _e_a in "$@"; do
    case "$_e_a" in --server|-s) _e_server= ;; esac
  done
  # shellcheck disable=SC2086
  swaks $_e_server --timeout 10 --helo client.sdu.test "$@" > "$E2E_LAST" 2>&1 < /dev/null
}

# e2e_ok DESC CMD...: "ok - DESC" when CMD succeeds
e2e_ok() {
  _e_d=$1; shift
  E2E_N=$((E2E_N + 1))
  _e_out="$E2E_DIR/ok.$E2E_N.out"
  if "$@" > "$_e_out" 2>&1; then
    echo "ok - $_e_d"
    return 0
  fi
  e2e_fail "$_e_d" "command failed ($?): $*" "$_e_out"
  return 1
}

# e2e_check DESC 'SHELL CONDITION': "ok - DESC" when the condition holds;
# on failure shows the condition and the end of $E2E_LAST (the last transcript)
e2e_check() {
  if eval "$2"; then
    echo "ok - $1"
    return 0
  fi
  e2e_fail "$1" "condition false: $2" "${E2E_LAST:-}"
  return 1
}

# e2e_fail DESC WHY [FILE]: "not ok - DESC" with a few lines of context
e2e_fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  printf 'not ok - %s\n#   %s\n' "$1" "$2"
  if [ -n "${3:-}" ] && [ -f "$3" ]; then
    echo "#   last lines of $3:"
    tail -n 12 "$3" | cat -v | sed 's/^/#     /'
  fi
}

# e2e_skip DESC WHY
e2e_skip() {
  echo "skip - $1: $2"
}

# e2e_redis SOCKET: a redis-server of the test's own on the unix socket
# SOCKET (its files beside it), no persistence; returns once it answers.
# Sets E2E_REDIS_PID (stopped by pid with the others). 2 when there is no
# redis-server: the caller skips.
e2e_redis() {
  command -v redis-server > /dev/null 2>&1 && command -v redis-cli > /dev/null 2>&1 || return 2
  _e_rd=$(dirname "$1")
  setsid redis-server --port 0 --unixsocket "$1" --unixsocketperm 777 --dir "$_e_rd" --save '' \
    --appendonly no --logfile "$1.log" --daemonize no < /dev/null > /dev/null 2>&1 &
  E2E_REDIS_PID=$!
  e2e_remember "$E2E_REDIS_PID" redis-server
  if e2e_wait 100 sh -c '[ "$(redis-cli -s "$1" ping 2>/dev/null)" = PONG ]' sh "$1"; then return 0; fi
  echo "# e2e_redis: redis-server on $1 did not start:" >&2
  [ -f "$1.log" ] && tail -n 5 "$1.log" | sed 's/^/#   /' >&2
  return 1
}

# One test suite, two stores: a test of throttle's or rcptcheck's state runs
# once on an LMDB directory and once on a redis-server of its own.
#
#   e2e_each_store "$@"   (before e2e_init) unless SDU_TEST_STORE is set, runs
#                         this test twice, SDU_TEST_STORE=lmdb then redis, each
#                         result line marked [lmdb] or [redis]; exits with the
#                         worse status. With SDU_TEST_STORE set, returns.
#   e2e_store_init        (after e2e_init) starts the test's redis-server for
#                         SDU_TEST_STORE=redis (the test is skipped without one)
#   e2e_store NAME        prints the name of the store NAME for -d: the
#                         directory $E2E_DIR/NAME, or the Redis address of a
#                         database of its own (its local= directory $E2E_DIR/NAME)
#   e2e_store_break       the store fails as it does in the field: LMDB's
#   e2e_store_mend        data.mdb of NAME corrupt, Redis stopped; mend: the
#                         files removed, Redis started again (empty);
#                         E2E_STORE_BROKEN: what the warning then says (grep)
e2e_each_store() {
  [ -n "${SDU_TEST_STORE:-}" ] && return 0
  _e_rc=0
  _e_st="$E2E_TOP/tests/tmp/each-store.$$"
  mkdir -p "$E2E_TOP/tests/tmp"
  for _e_s in lmdb redis; do
    { SDU_TEST_STORE=$_e_s sh "$0" "$@" 2>&1; echo $? > "$_e_st"; } |
      sed "s/^\(ok\|not ok\|skip\) - /\1 - [$_e_s] /"
    _e_r=$(cat "$_e_st" 2>/dev/null || echo 1)
    [ "$_e_r" -gt "$_e_rc" ] && _e_rc=$_e_r
  done
  rm -f "$_e_st"
  exit "$_e_rc"
}

e2e_store_init() {
  case "${SDU_TEST_STORE:-lmdb}" in
    lmdb) E2E_STORE_BROKEN='database corrupt' ;;
    redis)
      E2E_STORE_SOCK=$E2E_DIR/store-redis.sock
      e2e_redis "$E2E_STORE_SOCK"
      case $? in
        0) ;;
        2) echo "skip - $E2E_NAME: redis-server not installed (sh tools/deps.sh)"; exit 0 ;;
        *) echo "not ok - $E2E_NAME: redis-server did not start"; exit 1 ;;
      esac
      E2E_STORE_BROKEN="unable to connect to unix:$E2E_STORE_SOCK" ;;
    *) echo "not ok - $E2E_NAME: SDU_TEST_STORE is lmdb or redis"; exit 1 ;;
  esac
  : > "$E2E_DIR/.stores"
  export E2E_STORE_BROKEN
}

e2e_store() {
  mkdir -p "$E2E_DIR/$1"
  if [ "${SDU_TEST_STORE:-lmdb}" = lmdb ]; then echo "$E2E_DIR/$1"; return 0; fi
  grep -qx "$1" "$E2E_DIR/.stores" || echo "$1" >> "$E2E_DIR/.stores"
  # a deadline of 1 s, not the 50 ms default: on a loaded test machine a
  # check of what the limits do must not see the store fail open
  # (tests/e2e/redis.t.sh tests the deadline itself)
  echo "unix:$E2E_STORE_SOCK?db=$(grep -nx "$1" "$E2E_DIR/.stores" | cut -d: -f1)&local=$E2E_DIR/$1&timeout=1s"
}

e2e_store_break() { # NAME
  if [ "${SDU_TEST_STORE:-lmdb}" = lmdb ]; then
    head -c 20000 /dev/zero | tr '\0' 'x' > "$E2E_DIR/$1/data.mdb"
  else
    e2e_stop "$E2E_REDIS_PID"
  fi
}

e2e_store_mend() { # NAME
  if [ "${SDU_TEST_STORE:-lmdb}" = lmdb ]; then
    rm -f "$E2E_DIR/$1/data.mdb" "$E2E_DIR/$1/lock.mdb"
  else
    e2e_redis "$E2E_STORE_SOCK"
  fi
}
