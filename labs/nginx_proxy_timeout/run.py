"""Loopback lab: Debian's nginx ``stream`` proxy with ``proxy_timeout`` in front of a TLS server,
with watch-like clients. Measures which traffic resets nginx's idle timer, when the cut lands,
and the TLS server's CPU per full handshake on this machine. Writes ``results.json`` beside it.

Run by hand (not by the test suite): ``python3 labs/nginx_proxy_timeout/run.py``; needs
``nginx`` and its stream module (Debian: ``nginx libnginx-mod-stream``) and ``openssl``.
Everything listens on 127.0.0.1 only.

The clients stand for the node's Kubernetes clients: each keeps one TLS connection through the
proxy (as a kubelet's or kube-proxy's watches do) and, when it is cut, dials again at once (a
reflector re-watching). Traffic patterns:
- ``client_every``: the client sends a request every so many seconds on its own clock, whatever
  happens to its connection (a kubelet's node status loop);
- ``server_every``: the server pushes a message every so many seconds on the cluster's clock
  (multiples of the period since the server started: watch events happen when the cluster
  changes, not when a connection was made), the client never writes;
- neither: an idle connection.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROXY_TIMEOUT = 3.0  # Kargo's nginx.conf template of the report's era
DURATION = 60.0
CONNECTIONS = 4
PATTERNS: list[dict[str, float | None]] = [
    {"client_every": None, "server_every": None},
    {"client_every": 10.0, "server_every": None},
    {"client_every": 2.0, "server_every": None},
    {"client_every": None, "server_every": 2.0},
    {"client_every": None, "server_every": 4.0},
    {"client_every": None, "server_every": 10.0},
]
HANDSHAKES = 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the TLS server (its own process, so its CPU is its own) ----------------------------------
def serve(port: int, cert: str, key: str, ready: Any, stats: Any) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handshakes = 0
    epoch = time.monotonic()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal handshakes
        handshakes += 1
        stats["handshakes"] = handshakes
        stats["cpu"] = time.process_time()
        try:
            hello = (await reader.readline()).decode().split()
            push = float(hello[1]) if len(hello) == 2 and hello[1] != "-" else None

            async def pusher() -> None:
                while push is not None:
                    elapsed = time.monotonic() - epoch
                    await asyncio.sleep(push - elapsed % push)
                    writer.write(b"EVENT\n")
                    await writer.drain()

            task = asyncio.ensure_future(pusher())
            while line := await reader.readline():
                if line.strip() == b"REQ":
                    writer.write(b"OK\n")
                    await writer.drain()
            task.cancel()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=context, backlog=512)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- clients ----------------------------------------------------------------------------------
async def watch_like(port: int, pattern: dict[str, float | None], until: float, out: list[dict[str, float]]) -> None:
    """One client: connect, announce the server's push period, then keep the pattern; on a cut,
    note how long the connection had been silent and dial again at once."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client_every, server_every = pattern["client_every"], pattern["server_every"]
    next_request = time.monotonic() + client_every if client_every else float("inf")
    while time.monotonic() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        connected = last = time.monotonic()
        writer.write(f"HELLO {server_every if server_every else '-'}\n".encode())
        await writer.drain()
        last = time.monotonic()
        cut = False
        while time.monotonic() < until:
            wait = min(next_request, until) - time.monotonic()
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=max(wait, 0.001))
            except TimeoutError:
                if time.monotonic() >= next_request:
                    writer.write(b"REQ\n")
                    await writer.drain()
                    last = time.monotonic()
                    next_request += client_every or float("inf")
                continue
            except (ConnectionError, ssl.SSLError):
                line = b""
            if not line:
                now = time.monotonic()
                out.append({"silent": now - last, "lived": now - connected})
                cut = True
                break
            last = time.monotonic()
        writer.close()
        if not cut:
            break


async def run_patterns(port: int) -> list[dict[str, Any]]:
    until = time.monotonic() + DURATION
    cuts: list[list[dict[str, float]]] = [[] for _ in PATTERNS]
    tasks = [watch_like(port, p, until, cuts[i]) for i, p in enumerate(PATTERNS) for _ in range(CONNECTIONS)]
    await asyncio.gather(*tasks)
    rows = []
    for pattern, found in zip(PATTERNS, cuts, strict=True):
        silent = [c["silent"] for c in found]
        rows.append({**pattern, "connections": CONNECTIONS, "seconds": DURATION,
                     "cuts_per_connection_per_minute": len(found) / CONNECTIONS * 60.0 / DURATION,
                     "silence_before_cut_seconds_median": statistics.median(silent) if silent else None})
    return rows


async def handshake_burst(port: int, count: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        writer.write(b"HELLO -\nREQ\n")
        await writer.drain()
        await reader.readline()
        writer.close()


def main() -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    module = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cert, key = work / "cert.pem", work / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        backend, front = free_port(), free_port()
        (work / "logs").mkdir()
        conf = work / "nginx.conf"
        conf.write_text(
            (f"load_module {module};\n" if module.exists() else "")
            + f"worker_processes 1;\ndaemon off;\npid {work}/nginx.pid;\nerror_log {work}/error.log info;\n"
            "events { worker_connections 1024; }\n"
            "stream {\n"
            f"  upstream apiserver {{ server 127.0.0.1:{backend}; }}\n"
            f"  server {{ listen 127.0.0.1:{front}; proxy_pass apiserver; proxy_timeout {PROXY_TIMEOUT:g}s;"
            " proxy_connect_timeout 1s; }\n"
            "}\n")
        manager = mp.Manager()
        stats = manager.dict(handshakes=0, cpu=0.0)
        ready = mp.Event()
        server = mp.Process(target=serve, args=(backend, str(cert), str(key), ready, stats), daemon=True)
        server.start()
        ready.wait(10)
        proxy = subprocess.Popen([nginx, "-p", str(work), "-c", str(conf)], stderr=subprocess.PIPE)
        time.sleep(0.5)
        try:
            rows = asyncio.run(run_patterns(front))
            before_n, before_cpu = stats["handshakes"], stats["cpu"]
            started = time.monotonic()
            asyncio.run(handshake_burst(front, HANDSHAKES))
            wall = time.monotonic() - started
            time.sleep(0.2)
            per_handshake = (stats["cpu"] - before_cpu) / max(1, stats["handshakes"] - before_n)
        finally:
            proxy.terminate()
            proxy.wait(5)
            server.terminate()
        version = subprocess.run([nginx, "-v"], check=True, capture_output=True, text=True).stderr.strip()
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    doc = {
        "lab": "nginx stream proxy_timeout in front of a TLS server, watch-like clients on loopback",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": cpu_model, "cpus": os.cpu_count(), "kernel": platform.release(),
                    "nginx": version, "openssl": ssl.OPENSSL_VERSION, "python": sys.version.split()[0],
                    "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss},
        "proxy_timeout_seconds": PROXY_TIMEOUT,
        "patterns": rows,
        "handshake": {"count": HANDSHAKES, "key": "RSA-2048", "server": "Python ssl (OpenSSL), one process",
                      "server_cpu_seconds_per_handshake": per_handshake,
                      "handshakes_per_second_wall": HANDSHAKES / wall},
    }
    (HERE / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
