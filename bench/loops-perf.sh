#!/usr/bin/env bash
# What one more loop costs per request: the RESP sample with 1 and 2 loops (on epoll, on io_uring,
# and on io_uring with --wake-batching-us 1000) and redis-server, each under redis-benchmark
# --threads 2 -c 50 (PING_INLINE, -P 1 and -P 16), counted by `perf stat` attached to the server:
# CPU time, context switches, system calls, and waits: epoll_wait, or io_uring_enter (which also
# counts the few enters that only submit, such as a removal's).
# usage: bench/loops-perf.sh [REQUESTS_P1] [REQUESTS_P16]   (Release build of the sample first:
# ./build.sh --target=Bench-Loops builds it, or dotnet build -c Release samples/Pike.Reactor.RespServer)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sample="$here/samples/Pike.Reactor.RespServer/bin/Release/net10.0/Pike.Reactor.RespServer.dll"
n1=${1:-500000}
n16=${2:-6000000}
[ -f "$sample" ] || { echo "loops-perf: build the sample in Release first ($sample)" >&2; exit 2; }
for tool in perf redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "loops-perf: $tool is missing (build/install-deps.sh installs it)" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "loops-perf: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %-5s %12s %10s %12s %10s %12s\n' server P req/s cpu_us/req ctxsw/req sysc/req wait/req
for P in 1 16; do
  n=$([ "$P" = 1 ] && echo "$n1" || echo "$n16")
  for server in redis epoll:1 epoll:2 io_uring:1 io_uring:2 batching:1 batching:2; do
    port=$((20000 + RANDOM % 20000))
    case $server in
      redis) label=redis-server
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null & ;;
      epoll:*) label="pike epoll ${server#*:} loop$([ "${server#*:}" = 1 ] || echo s)"
        dotnet "$sample" --port "$port" --poller epoll --loops "${server#*:}" >/dev/null 2>&1 & ;;
      io_uring:*) label="pike io_uring ${server#*:} loop$([ "${server#*:}" = 1 ] || echo s)"
        dotnet "$sample" --port "$port" --poller io_uring --loops "${server#*:}" >/dev/null 2>&1 & ;;
      batching:*) label="pike batching ${server#*:} loop$([ "${server#*:}" = 1 ] || echo s)"
        dotnet "$sample" --port "$port" --poller io_uring --wake-batching-us 1000 --loops "${server#*:}" >/dev/null 2>&1 & ;;
    esac
    pid=$!
    up=
    for _ in $(seq 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { up=1; break; }; sleep 0.1; done
    [ -n "$up" ] || { kill "$pid" 2>/dev/null; echo "loops-perf: $label did not answer PING on port $port within 10 s" >&2; exit 1; }
    redis-benchmark -p "$port" --threads 2 -c 50 -P "$P" -n 100000 -t ping_inline -q >/dev/null 2>&1
    perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_io_uring_enter -p "$pid" -o "$out/stat" &
    perfpid=$!
    sleep 0.3
    rate=$(redis-benchmark -p "$port" --threads 2 -c 50 -P "$P" -n "$n" -t ping_inline -q 2>/dev/null | tr '\r' '\n' | grep -a 'requests per second' | tail -1 | awk '{print $2}')
    kill -INT "$perfpid"; wait "$perfpid" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -n "$rate" ] || { echo "loops-perf: redis-benchmark printed no rate for $label at -P $P" >&2; exit 1; }
    grep -q '^[0-9]' "$out/stat" || { echo "loops-perf: perf counted nothing for $label (perf_event_paranoid, tracefs?): $(head -3 "$out/stat")" >&2; exit 1; }
    awk -F, -v n="$n" -v s="$label" -v p="$P" -v r="$rate" '
      $3 == "task-clock" { cpu = $1 * 1000 / n }
      $3 == "context-switches" { cs = $1 / n }
      $3 == "raw_syscalls:sys_enter" { sc = $1 / n }
      $3 ~ /sys_enter_(epoll_wait|io_uring_enter)$/ { ew += $1 / n }
      END { printf "%-22s %-5s %12s %10.2f %12.3f %10.3f %12.3f\n", s, p, r, cpu, cs, sc, ew }' "$out/stat"
  done
done
