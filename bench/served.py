"""A CLI run against the local tenant served over HTTP: `provisioner local serve` in its own process on
a free loopback port, and a config whose `kind = "graph"` profile reaches it with a static token, as
a real tenant is reached (the same client code path, requests over a socket).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

CLI = [sys.executable, "-m", "provisioner"]
TOKEN_ENV = "BENCH_GRAPH_TOKEN"


def base_env() -> dict[str, str]:
    """This environment without any PROVISIONER_ setting, so only what a run sets applies."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}


def positive(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def write_config(work: Path, graph_url: str = "http://127.0.0.1:1/v1.0") -> Path:
    """WORK/config.toml: the default profile "served" reaches GRAPH_URL with a static token from TOKEN_ENV;
    profile "inprocess" is the local tenant in WORK/tenant.db, in the CLI's own process."""
    config = work / "config.toml"
    config.write_text(
        'default_tenant = "served"\n'
        '[execution]\njournal = "journal.jsonl"\n'
        '[tenants.inprocess]\nkind = "local"\nstate = "tenant.db"\n'
        f'[tenants.served]\nkind = "graph"\nauth = "token"\ngraph_url = "{graph_url}"\ntoken_env = "{TOKEN_ENV}"\n',
        encoding="utf-8")
    return config


def last_line(stderr: str) -> str:
    # Never echo a generated password, even when reporting a failure.
    lines = [line for line in stderr.splitlines() if line.strip() and "password" not in line.lower()]
    return lines[-1] if lines else "(no message)"


class Served:
    """`provisioner local serve` on a free loopback port over STATE, with LATENCY_MS per request and
    any other realism setting in EXTRA (PROVISIONER_LOCAL_* variables, such as throttling)."""

    def __init__(self, state: Path, latency_ms: float, extra: dict[str, str] | None = None):
        env = {**base_env(), "PROVISIONER_LOCAL_LATENCY_MS": str(latency_ms), "PROVISIONER_LOCAL_JITTER_MS": "0",
               **(extra or {})}
        self.proc = subprocess.Popen(CLI + ["local", "serve", "--state", str(state), "--port", "0"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        found = re.search(r"at (http://\S+) \(", first)
        if not found:
            self.stop()
            raise SystemExit(f"local serve did not start: {first.strip() or '(no output)'}")
        self.url = found.group(1)
        # Keep reading its stderr, so that a chatty server never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self._wait_listening()

    def _wait_listening(self) -> None:
        # The address is printed before uvicorn starts listening on it.
        parts = urlsplit(self.url)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((parts.hostname, parts.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise SystemExit("local serve did not start listening") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn's clean shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
