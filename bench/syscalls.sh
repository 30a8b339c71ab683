#!/usr/bin/env bash
# System calls, context switches and CPU per request: redis-server and the RESP sample on epoll,
# io_uring, io_uring with --wake-batching-us 50 and io_uring with --ring-receives, each driven by redis-benchmark -t ping_inline
# -c 50 at -P 1 and -P 16, counted by `perf stat` attached to the server (its tracepoints cost
# little, unlike strace, which slows a .NET server several times and so changes its batches).
# usage: bench/syscalls.sh [REQUESTS_P1] [REQUESTS_P16]   (Release build of the sample first:
# ./build.sh --target=Bench builds it, or dotnet build -c Release samples/Pike.Reactor.RespServer)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sample="$here/samples/Pike.Reactor.RespServer/bin/Release/net10.0/Pike.Reactor.RespServer.dll"
n1=${1:-200000}
n16=${2:-2000000}
[ -f "$sample" ] || { echo "syscalls: build the sample in Release first ($sample)" >&2; exit 2; }
for tool in perf redis-server redis-benchmark redis-cli python3 dotnet; do
  command -v "$tool" >/dev/null || { echo "syscalls: $tool is missing (build/install-deps.sh installs it)" >&2; exit 2; }
done
out=$(mktemp -d)
server_pid=
perf_pid=
cleanup() {
  [ -n "$perf_pid" ] && kill "$perf_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
events=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_io_uring_enter,context-switches
echo "syscalls: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# wait/req: epoll_wait, or io_uring_enter (which also counts the few enters that only submit, as a removal's).
printf '%-10s %-4s %10s %10s %10s %10s %10s %10s %10s\n' server P req/s cpu_us/req sysc/req recv/req send/req wait/req ctxsw/req

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

measure() { # name command...
  local name=$1; shift
  local port; port=$(free_port)
  "${@//\{port\}/$port}" >/dev/null 2>&1 &
  local pid=$!
  server_pid=$pid
  local up=
  for _ in $(seq 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { up=1; break; }; sleep 0.1; done
  [ -n "$up" ] || { echo "syscalls: $name did not answer PING on port $port within 10 s (it may not run here: $*)" >&2; exit 1; }
  redis-benchmark -p "$port" -t ping_inline -c 50 -n 50000 -q >/dev/null 2>&1 # warm-up
  for P in 1 16; do
    local n=$n1; [ "$P" = 16 ] && n=$n16
    perf stat -e "$events" -p "$pid" -x, -o "$out/perf" &
    local sp=$!
    perf_pid=$sp
    sleep 0.5
    local c0; c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    local rps; rps=$(redis-benchmark -p "$port" -t ping_inline -c 50 -P "$P" -n "$n" -q --csv | tail -1 | cut -d, -f2 | tr -d '"')
    local c1; c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    kill -INT "$sp"; wait "$sp" 2>/dev/null || true
    perf_pid=
    grep -q '^[0-9]' "$out/perf" || { echo "syscalls: perf counted nothing for $name (perf_event_paranoid, tracefs?): $(head -3 "$out/perf")" >&2; exit 1; }
    local tick; tick=$(getconf CLK_TCK)
    awk -F, -v n="$n" -v name="$name" -v P="$P" -v rps="$rps" -v cpu="$(( c1 - c0 ))" -v tick="$tick" '
      $1 ~ /^[0-9]/ { e=$3; sub(/.*:sys_enter_?/, "", e); c[e]=$1 }
      END {
        printf "%-10s %-4s %10.0f %10.2f %10.3f %10.3f %10.3f %10.3f %10.3f\n", name, P, rps, cpu*1e6/tick/n,
          c[""]/n, (c["read"]+c["recvfrom"])/n, (c["write"]+c["sendto"])/n, (c["epoll_wait"]+c["io_uring_enter"])/n, c["context-switches"]/n
      }' "$out/perf"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  server_pid=
}

measure redis redis-server --port '{port}' --bind 127.0.0.1 --save '' --appendonly no --daemonize no --protected-mode no
measure epoll dotnet "$sample" --port '{port}' --poller epoll
measure io_uring dotnet "$sample" --port '{port}' --poller io_uring
measure batch50 dotnet "$sample" --port '{port}' --poller io_uring --wake-batching-us 50
measure ringrecv dotnet "$sample" --port '{port}' --poller io_uring --ring-receives
