#!/usr/bin/env python3
"""Memory under big requests, redis-server and the RESP sample in the same run, same script.

Case "set300": one client SETs a 300 MB value; peak RSS while it arrives, RSS after +OK,
and RSS 30 s after DEL. Case "lying500": 4 clients each announce a 500 MB bulk, send 200 MB of
it, then close; peak RSS, and RSS 30 s after they closed. Both servers run side by side, each
case against both at once (loopback, the same client code). Case "nonreaders" (one server at a time):
50 clients pipeline 100 GETs of a 1 MiB value each and never read, both servers with a 64 MB
output limit; the longest PING round trip of another client meanwhile, and peak RSS. Also
prints each idle server's descriptors. Case "churn": 10,000 times connect, PING, close with a
reset; each server's CPU time per connection. Usage:
bench/resp-memory/resp_memory.py [--dll path/to/Pike.Reactor.RespServer.dll] [set300 lying500 nonreaders churn] [-- sample options]
"""
import os, socket, struct, subprocess, sys, threading, time

SAMPLE_ARGS = []  # after "--": options for the sample, e.g. -- --spin-us 0
DLL = "samples/Pike.Reactor.RespServer/bin/Release/net10.0/Pike.Reactor.RespServer.dll"
MB = 1000 * 1000
CHUNK = b"x" * (1 << 20)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def wait_port(port):
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")

def start(name):
    port = free_port()
    if name == "redis-server":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
               "--client-output-buffer-limit", "normal 64mb 64mb 0"]
    else:
        cmd = ["dotnet", DLL, "--port", str(port)] + SAMPLE_ARGS
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    time.sleep(1)
    return proc, port

class Peak(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True); self.pid = pid; self.peak = 0.0; self.stop = False
    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_mb(self.pid)); time.sleep(0.02)

def send_bulk(sock, size):
    left = size
    while left > 0:
        n = min(left, len(CHUNK)); sock.sendall(CHUNK[:n]); left -= n

def call(sock, data):
    sock.sendall(data); reply = b""
    while not reply.endswith(b"\r\n"):
        reply += sock.recv(65536)
    return reply

def set300(name, pid, port, out):
    peak = Peak(pid); peak.start()
    s = socket.create_connection(("127.0.0.1", port))
    size = 300 * MB
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    send_bulk(s, size)
    assert call(s, b"\r\n") == b"+OK\r\n"
    after_set = rss_mb(pid)
    assert call(s, b"*2\r\n$3\r\nDEL\r\n$3\r\nbig\r\n") == b":1\r\n"
    time.sleep(30)
    peak.stop = True; peak.join()
    out[name] = (peak.peak, after_set, rss_mb(pid))
    s.close()

def lying500(name, pid, port, out):
    peak = Peak(pid); peak.start()
    def one():
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (500 * MB))
        send_bulk(s, 200 * MB)
        time.sleep(1)
        s.close()
    clients = [threading.Thread(target=one) for _ in range(4)]
    for c in clients: c.start()
    for c in clients: c.join()
    time.sleep(30)
    peak.stop = True; peak.join()
    out[name] = (peak.peak, rss_mb(pid))

def connected(sock):
    sock.sendall(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
    head = b""
    while b"\r\n" not in head:
        head += sock.recv(65536)
    length = int(head[1:head.index(b"\r\n")])
    body = head[head.index(b"\r\n") + 2:]
    while len(body) < length + 2:
        body += sock.recv(65536)
    for line in body.decode().split("\r\n"):
        if line.startswith("connected_clients:"):
            return int(line.split(":")[1])
    return -1

def nonreaders(name, pid, port, out, seconds=20):
    """50 clients each pipeline 100 GETs of a 1 MiB value and never read; another client's
    PING round trips are timed meanwhile: the longest is the stall. Ends when only the pinger
    is left or after `seconds`."""
    ping = socket.create_connection(("127.0.0.1", port))
    assert call(ping, b"*3\r\n$3\r\nSET\r\n$1\r\nv\r\n$%d\r\n%s\r\n" % (1 << 20, b"v" * (1 << 20))) == b"+OK\r\n"
    peak = Peak(pid); peak.start()
    gets = b"*2\r\n$3\r\nGET\r\n$1\r\nv\r\n" * 100
    clients = []
    for _ in range(50):
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        clients.append(c)
    start = time.monotonic()
    for c in clients:
        c.sendall(gets)
    worst = 0.0
    pings = 0
    left = 51
    while time.monotonic() - start < seconds:
        t = time.monotonic()
        assert call(ping, b"*1\r\n$4\r\nPING\r\n") == b"+PONG\r\n"
        worst = max(worst, time.monotonic() - t)
        pings += 1
        if pings % 50 == 0:
            left = connected(ping)
            if left <= 1:
                break
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    peak.stop = True; peak.join()
    out[name] = (worst * 1000, peak.peak, left - 1, elapsed)
    for c in clients: c.close()
    ping.close()

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def churn(name, pid, port, out, cycles=10000):
    """`cycles` times: connect, PING, read +PONG, close with a reset (SO_LINGER 0). The server
    process's CPU time (user + system, /proc/PID/stat) per connection, and the wall time."""
    linger = struct.pack("ii", 1, 0)
    before = cpu_seconds(pid)
    start = time.monotonic()
    for _ in range(cycles):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        assert call(s, b"*1\r\n$4\r\nPING\r\n") == b"+PONG\r\n"
        s.close()
    elapsed = time.monotonic() - start
    time.sleep(0.5)  # the last closes reach the server
    out[name] = ((cpu_seconds(pid) - before) / cycles * 1e6, elapsed)

def fds(pid):
    return sorted(os.readlink(f"/proc/{pid}/fd/{fd}").split("[")[0].rstrip(":") for fd in os.listdir(f"/proc/{pid}/fd"))

CASES = ("set300", "lying500", "nonreaders", "churn")

def main():
    args = sys.argv[1:]
    global DLL
    if "--" in args:
        at = args.index("--"); SAMPLE_ARGS.extend(args[at + 1:]); del args[at:]
    if "--dll" in args:
        at = args.index("--dll"); DLL = args[at + 1]; del args[at:at + 2]
    cases = args or list(CASES)
    servers = {name: start(name) for name in ("redis-server", "pike")}
    try:
        for name, (proc, _) in servers.items():
            names = fds(proc.pid)
            kinds = {k: names.count(k) for k in sorted(set(names))}
            print(f"{name}: idle RSS {rss_mb(proc.pid):.1f} MB, {len(names)} descriptors {kinds}")
        side_by_side = {"set300": (set300, "300 MB SET: peak / after +OK / 30 s after DEL (MB RSS)"),
                        "lying500": (lying500, "4 x 200 MB of an announced 500 MB, then close: peak / 30 s after close (MB RSS)")}
        for case in cases:
            if case not in side_by_side:
                continue
            run, label = side_by_side[case]
            out = {}
            threads = [threading.Thread(target=run, args=(name, proc.pid, port, out)) for name, (proc, port) in servers.items()]
            for t in threads: t.start()
            for t in threads: t.join()
            print(label, flush=True)
            for name in servers:
                print(f"  {name:12} " + " / ".join(f"{v:.0f}" for v in out[name]), flush=True)
        # Timed cases: one server at a time, so that neither shares the cores with the other's work.
        if "nonreaders" in cases:
            print("50 clients pipelining 100 GETs of 1 MiB, never reading (64 MB output limit): longest PING stall ms / peak MB RSS / clients still connected at the end / s", flush=True)
            for name, (proc, port) in servers.items():
                out = {}
                nonreaders(name, proc.pid, port, out)
                print(f"  {name:12} " + " / ".join(f"{v:.0f}" for v in out[name]), flush=True)
        if "churn" in cases:
            print("10,000 connect-PING-reset cycles: server CPU us per connection / wall s (two rounds, alternating)", flush=True)
            for _ in range(2):
                for name, (proc, port) in servers.items():
                    out = {}
                    churn(name, proc.pid, port, out)
                    print(f"  {name:12} {out[name][0]:.1f} / {out[name][1]:.1f}", flush=True)
        for name, (proc, _) in servers.items():
            print(f"{name}: descriptors after the cases {len(fds(proc.pid))}")
    finally:
        for proc, _ in servers.values():
            proc.terminate(); proc.wait()

if __name__ == "__main__":
    main()
