"""`tradenet up` as a subprocess (its own home, free ports), its output collected line by line,
and the processes it started (read from /proc: children run in their own sessions)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from chain.anvil import free_port
from chain.settings import PROJECT_ROOT
from tradenet.localnet import READY


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (pp := _ppid(int(entry))) is not None:
            parents[int(entry)] = pp
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Ports:
    chain: int = field(default_factory=free_port)
    api: int = field(default_factory=free_port)
    oracles: tuple[int, int, int] = field(default_factory=lambda: (free_port(), free_port(), free_port()))

    def args(self) -> list[str]:
        return ["--port", str(self.chain), "--api-port", str(self.api),
                "--oracle-ports", ",".join(map(str, self.oracles))]


class Up:
    """`tradenet up` in `home` on free ports; `lines` fills as it prints."""

    def __init__(self, home: Path, *extra: str, ports: Ports | None = None):
        self.home = home
        self.ports = ports or Ports()
        self.lines: list[str] = []
        env = dict(os.environ, TRADENET_DEPLOYMENTS_DIR=str(home / "deployments"), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "tradenet", "up", *self.ports.args(), "--home", str(home),
                                      *extra], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    def wait_for_line(self, needle: str, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            if self.proc.poll() is not None:
                self._reader.join(5)
                if any(needle in line for line in self.lines):
                    return
                raise AssertionError(f"tradenet up exited ({self.proc.returncode}) before {needle!r}:\n{self.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout}s:\n{self.text}")
            time.sleep(0.1)

    def wait_ready(self, timeout: float = 240.0) -> None:
        self.wait_for_line(READY, timeout)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM to `tradenet up` only (not to its children); its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        for pid in descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def players_on(api) -> "Players":
    """The demo's participants signed in to an in-process node API (`tests.support.api.make_api`)."""
    from tradenet.node_client import NodeClient
    from tradenet.scenario import Players, demo_cast

    net = api.net
    return Players(NodeClient("http://testserver", http=api.client, before_read=api.sync),
                   demo_cast(net.chain, net.deployment, net.keys))
