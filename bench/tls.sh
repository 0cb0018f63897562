#!/bin/sh
# bench/tls.sh: STARTTLS in the chain's proxy, ratios in one run (issue 15):
#  1. handshake cost: the server's CPU for a STARTTLS session through the chain
#     (tcpserver + rblcheck/throttle/rcptcheck in one process + smtpsink)
#     against the plaintext session's CPU plus the handshake's CPU measured
#     alone by bench/tls_floor, ECDSA P-256 and RSA-2048; target <= 1.25.
#     The floor is one handshake in a fresh process, as the proxy does one
#     per connection: sdu_tls reading the certificate and key, making the
#     context and doing the handshake, less the same exec doing nothing
#     (tls_floor.c says more); the ratio against the handshake alone in a
#     warm process (its cryptography only) is printed too. ROUNDS rounds
#     (default 5) of the three in turn; the median of the rounds' ratios
#  2. DATA throughput under TLS against plaintext through the same chain, a
#     10 MB message, median of 5 each; target >= 0.8
#  3. a TLS session at rest in the proxy: its RSS (target < 4 MiB in the musl
#     build), and a plaintext session's
# usage: sh bench/tls.sh [ sessions ]   (after make; run as root or not)
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-200}
work=$top/tests/tmp/bench-tls.$$
mkdir -p "$work/state"
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM
fatal() { echo "tls.sh: fatal: $*" >&2; exit 111; }

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # port VAR=VALUE... -- : the chain, smtpsink counting only
  port=$1; shift
  env_=
  while [ "$1" != "--" ]; do env_="$env_ $1"; shift; done
  # shellcheck disable=SC2086
  env $env_ tcpserver -RHl0 127.0.0.1 "$port" "$top/rblcheck/rblcheck" -f "$work/policy" \
    "$top/throttle/throttle" -d "$work/state" -b 3h "$top/rcptcheck/rcptcheck" -f "$work/rcpt.cdb" \
    "$top/tests/smtpsink" -x nodir 2>>"$work/tcpserver.log" &
  srv=$!
  pids="$pids $srv"
  i=0; while [ $i -lt 50 ] && ! ss -Hltn "sport = :$port" | grep -q .; do sleep 0.1; i=$((i+1)); done
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# the CPU of tcpserver's children that have ended, in clock ticks
kids() { awk '{ print $16 + $17 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

for b in bench/tls_floor bench/tlsbench.py chain/sdu-chain tests/smtpsink rcptcheck/rcptcheck-build; do
  [ -e "$top/$b" ] || fatal "$b is not built (make)"
done
# rblcheck with a policy of no lists: it tags nothing, so throttle and
# rcptcheck stand in the middle (one proxy for the two)
printf '# no lists\n' > "$work/policy"
printf 'one@example.net\n' > "$work/valid"
"$top/rcptcheck/rcptcheck-build" -f "$work/rcpt.cdb" "$work/valid" || fatal "rcptcheck-build failed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ec.key" -out "$work/ec.crt" \
  -days 2 -subj /CN=bench.invalid 2>/dev/null || fatal "openssl req failed"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" -out "$work/rsa.crt" \
  -days 2 -subj /CN=bench.invalid 2>/dev/null || fatal "openssl req failed"
echo "# $(cat "$top/bench/cc" 2>/dev/null | cut -c1-60)...; $(nproc) CPUs, shared: figures vary from run to run"

# each key type: ROUNDS rounds (default 5) of the floor, N plaintext sessions
# and N STARTTLS sessions in turn, so that what else the machine does falls
# on all three alike; the ratio of each round, and their median
rounds=${ROUNDS:-5}
for k in ec rsa; do
  port=$(freeport); serve "$port" SDU_TLS_CERT="$work/$k.crt" SDU_TLS_KEY="$work/$k.key" --
  python3 "$top/bench/tlsbench.py" sessions 127.0.0.1 "$port" 5 plain > /dev/null || fatal "client failed"
  : > "$work/rounds"
  r=0
  while [ $r -lt "$rounds" ]; do
    floor=$(SDU_TLS_CERT=$work/$k.crt SDU_TLS_KEY=$work/$k.key "$top/bench/tls_floor" "$n") || fatal "tls_floor failed"
    c0=$(kids "$srv"); python3 "$top/bench/tlsbench.py" sessions 127.0.0.1 "$port" "$n" plain > /dev/null; sleep 0.3; c1=$(kids "$srv")
    python3 "$top/bench/tlsbench.py" sessions 127.0.0.1 "$port" "$n" tls > /dev/null || fatal "TLS client failed"; sleep 0.3; c2=$(kids "$srv")
    echo "$floor p=$((c1 - c0)) t=$((c2 - c1))" | tr ' ' '\n' | sed 's/_us//' | tr '\n' ' ' >> "$work/rounds"
    echo >> "$work/rounds"
    r=$((r + 1))
  done
  stop "$srv"
  awk -v n="$n" -v hz="$hz" -v k="$k" '
    { for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
      pu = v["p"] / n / hz * 1e6; tu = v["t"] / n / hz * 1e6
      R[NR] = tu / (pu + v["cold"]); W[NR] = tu / (pu + v["handshake"]); F[NR] = tu / (pu + v["handshake"] + v["load"])
      P[NR] = pu; T[NR] = tu; C[NR] = v["cold"]; L[NR] = v["load"]; H[NR] = v["handshake"]
      line = line sprintf(" %.2f", R[NR]) }
    function med(a, m,   i, j, t, b) { for (i = 1; i <= m; ++i) b[i] = a[i]
      for (i = 1; i <= m; ++i) for (j = i + 1; j <= m; ++j) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
      return m % 2 ? b[(m + 1) / 2] : (b[m / 2] + b[m / 2 + 1]) / 2 }
    END {
      printf "handshake %s, medians of %d rounds of %d sessions: plaintext session %.0f us CPU, STARTTLS session %.0f us; floor: a handshake in a fresh process %.0f us (warm: reading the files %.0f us, the handshake %.0f us)\n", (k == "ec" ? "ECDSA P-256" : "RSA-2048"), NR, n, med(P, NR), med(T, NR), med(C, NR), med(L, NR), med(H, NR)
      printf "  ratio STARTTLS / (plaintext + floor) = %.2f (target <= 1.25; the rounds:%s); against the warm handshake alone %.2f, with the files read %.2f\n", med(R, NR), line, med(W, NR), med(F, NR) }' "$work/rounds"
done

# DATA: 10 MB, plaintext and TLS taking turns, median of 5
port=$(freeport); serve "$port" SDU_TLS_CERT="$work/ec.crt" SDU_TLS_KEY="$work/ec.key" --
: > "$work/p"; : > "$work/t"
for r in 1 2 3 4 5; do
  python3 "$top/bench/tlsbench.py" data 127.0.0.1 "$port" 10485760 plain >> "$work/p" || fatal "data plain failed"
  python3 "$top/bench/tlsbench.py" data 127.0.0.1 "$port" 10485760 tls >> "$work/t" || fatal "data TLS failed"
done
p=$(sort -n "$work/p" | sed -n 3p); t=$(sort -n "$work/t" | sed -n 3p)
awk -v p="$p" -v t="$t" 'BEGIN { printf "data 10 MB, median of 5: plaintext %.1f MB/s, TLS %.1f MB/s: ratio %.2f (target >= 0.8)\n", 10.48576 / p, 10.48576 / t, p / t }'

# memory at rest: a TLS session after its EHLO, the proxy's RSS
: > "$work/tcpserver.log"
stop "$srv"
env SDU_TLS_CERT="$work/ec.crt" SDU_TLS_KEY="$work/ec.key" tcpserver -vRHl0 127.0.0.1 "$port" env TCPREMOTEIP=192.0.2.1 \
  "$top/rblcheck/rblcheck" -f "$work/policy" "$top/throttle/throttle" -d "$work/state" -b 3h \
  "$top/rcptcheck/rcptcheck" -f "$work/rcpt.cdb" "$top/tests/smtpsink" -x nodir 2>>"$work/tcpserver.log" &
srv=$!; pids="$pids $srv"
i=0; while [ $i -lt 50 ] && ! ss -Hltn "sport = :$port" | grep -q .; do sleep 0.1; i=$((i+1)); done
# (the pid is tcpserver's child; the chain's links exec in it, the proxy
# stays, smtpsink is its child)
for mode in tls plain; do
  : > "$work/idle"
  python3 "$top/bench/tlsbench.py" idle 127.0.0.1 "$port" 2 "$mode" > "$work/idle" &
  idle=$!
  i=0; while [ $i -lt 50 ] && ! grep -q ready "$work/idle"; do sleep 0.1; i=$((i+1)); done
  sleep 0.2
  pid=$(sed -n 's/^tcpserver: pid \([0-9]*\) .*/\1/p' "$work/tcpserver.log" | tail -n 1)
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  if [ "$mode" = tls ]; then
    echo "a TLS session at rest in the proxy: RSS ${rss:-?} kB, ${anon:-?} kB of it anonymous (target < 4096 kB in the musl build)"
  else
    echo "a plaintext session at rest in the proxy: RSS ${rss:-?} kB, ${anon:-?} kB of it anonymous"
  fi
  wait "$idle"
done
