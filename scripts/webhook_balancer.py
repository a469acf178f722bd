"""HAProxy on 127.0.0.1 in front of webhook processes: installs it from Debian if missing.

    python3 scripts/webhook_balancer.py --listen 8080 --backend 8441:9441 --backend 8442:9442

Each backend is WEBHOOK_PORT:HEALTH_PORT of one `crewbot run`; HAProxy sends a request to a
process whose /readyz answers 200, and retries a request whose process failed (refused
connection, closed without an answer, 5xx) on another one. Runs in the foreground (as this
process) until SIGTERM or SIGINT. For tests and benchmarks; a production balancer also ends
TLS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

CONFIG = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
frontend telegram
    bind 127.0.0.1:{listen}
    default_backend bots
backend bots
    balance roundrobin
    # A POST tried again elsewhere must be whole here first; the bot's dedupe makes the
    # second try harmless when the first one had done its work.
    option http-buffer-request
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 500 502 503 504
    option httpchk
    http-check send meth GET uri /readyz
    default-server inter 300ms fall 1 rise 1
{servers}
"""


def haproxy() -> str:
    """The haproxy binary, installed with apt-get when missing."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "haproxy"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def config(listen: int, backends: list[tuple[int, int]]) -> str:
    servers = "\n".join(f"    server bot{i} 127.0.0.1:{web} check port {health}"
                        for i, (web, health) in enumerate(backends, 1))
    return CONFIG.format(listen=listen, servers=servers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--backend", action="append", required=True,
                        help="WEBHOOK_PORT:HEALTH_PORT of one bot process")
    args = parser.parse_args()
    backends = [tuple(int(p) for p in b.split(":")) for b in args.backend]
    binary = haproxy()
    # The configuration goes in on standard input, and haproxy replaces this process: killing
    # this process's id stops the balancer, and no file is left behind.
    read, write = os.pipe()
    os.write(write, config(args.listen, backends).encode())  # type: ignore[arg-type]
    os.close(write)
    os.dup2(read, 0)
    os.execv(binary, [binary, "-db", "-f", "/dev/stdin"])  # -db: foreground, logs to stderr

if __name__ == "__main__":
    sys.exit(main())
