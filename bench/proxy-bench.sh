#!/usr/bin/env bash
# The proxy sample (samples/Pike.Reactor.Proxy) against the same proxy written with .NET's
# async/await Socket API (bench/Pike.Reactor.AsyncProxy), both in front of one redis-server,
# driven by redis-benchmark in the same run, rounds alternating the order. Per case: requests/s
# (median of the rounds), the proxy's CPU per request (user+system from /proc/PID/stat over the
# run), then in a separate pass under strace -f -c the proxy's system calls per request.
# Usage: bench/proxy-bench.sh [ROUNDS=3] [REQUESTS=100000] [CLIENTS=50]
set -euo pipefail
ROUNDS=${1:-3}
REQUESTS=${2:-100000}
CLIENTS=${3:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT

dotnet build -c Release "$ROOT/samples/Pike.Reactor.Proxy" -v q -nologo >/dev/null
dotnet build -c Release "$ROOT/bench/Pike.Reactor.AsyncProxy" -v q -nologo >/dev/null
PIKE="$ROOT/samples/Pike.Reactor.Proxy/bin/Release/net10.0/Pike.Reactor.Proxy.dll"
ASYNC="$ROOT/bench/Pike.Reactor.AsyncProxy/bin/Release/net10.0/Pike.Reactor.AsyncProxy.dll"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
echo $! > "$OUT/redis.pid"
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done

start_proxy() { # kind -> sets PROXY_PID, PROXY_PORT
  local dll=$PIKE; [ "$1" = async ] && dll=$ASYNC
  PROXY_PORT=$(free_port)
  dotnet "$dll" --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$REDIS_PORT" >"$OUT/$1.log" 2>&1 &
  PROXY_PID=$!; echo $PROXY_PID > "$OUT/proxy.pid"
  until redis-cli -p "$PROXY_PORT" ping >/dev/null 2>&1; do sleep 0.1; done
  redis-benchmark -p "$PROXY_PORT" -t ping_inline,set,get -c "$CLIENTS" -n 20000 -q >/dev/null  # warm-up (JIT)
}
stop_proxy() { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; rm -f "$OUT/proxy.pid"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); $(dotnet --version)"
echo "command: redis-benchmark -p PROXY -t T -c $CLIENTS -n $REQUESTS -q --csv (T = ping_inline, set, get), $ROUNDS rounds alternating"
for round in $(seq 1 "$ROUNDS"); do
  order="pike async"; [ $((round % 2)) -eq 0 ] && order="async pike"
  for kind in $order; do
    start_proxy "$kind"
    for t in ping_inline set get; do
      before=$(cpu_ticks "$PROXY_PID")
      rps=$(redis-benchmark -p "$PROXY_PORT" -t "$t" -c "$CLIENTS" -n "$REQUESTS" -q --csv | awk -F'"' 'NR==2 { print $4 }')
      after=$(cpu_ticks "$PROXY_PID")
      echo "$round $kind $t $rps $((after - before))" | tee -a "$OUT/runs"
    done
    stop_proxy
  done
  echo "round $round done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo
echo "syscalls (strace -f -c, $REQUESTS requests of each case):"
for kind in pike async; do
  start_proxy "$kind"
  for t in ping_inline set get; do
    strace -f -c -o "$OUT/strace.$kind.$t" -p "$PROXY_PID" 2>/dev/null &
    spid=$!; sleep 1
    redis-benchmark -p "$PROXY_PORT" -t "$t" -c "$CLIENTS" -n "$REQUESTS" -q >/dev/null
    kill -INT $spid; wait $spid 2>/dev/null || true
    calls=$(awk '$NF=="total" { print $4 }' "$OUT/strace.$kind.$t")
    top=$(awk 'NR>2 && $1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %s\n", $NF, $4 }' "$OUT/strace.$kind.$t" | sort -k2 -nr | head -4 | awk -v r="$REQUESTS" '{ printf "%s %.2f, ", $1, $2 / r }')
    echo "$kind $t: $(awk -v c="$calls" -v r="$REQUESTS" 'BEGIN { printf "%.2f per request (%.2f per forwarded message)", c / r, c / r / 2 }'); $top" | tee -a "$OUT/syscalls"
  done
  stop_proxy
done

echo
echo "| case | pike proxy req/s | async proxy req/s | pike × async | pike CPU µs/req | async CPU µs/req |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for t in ping_inline set get; do
  awk -v t="$t" -v n="$REQUESTS" '
    $3 == t { r[$2] = r[$2] " " $4; c[$2] += $5; k[$2]++ }
    function median(s,   a, m, i, j, x) { m = split(s, a, " "); for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    END { p = median(r["pike"]); a = median(r["async"]);
      printf "| %s, %d clients | %.0f | %.0f | %.2f | %.1f | %.1f |\n", toupper(t), '"$CLIENTS"', p, a, p / a, c["pike"] * 10000 / (n * k["pike"]), c["async"] * 10000 / (n * k["async"]) }' "$OUT/runs"
done
