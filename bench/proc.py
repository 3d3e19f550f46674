"""Run a command as a child process and measure it: exit code, wall seconds, and the child's own peak RSS.

Why a launcher in between: on Linux, a process's ru_maxrss also holds the high-water mark of the
address space it replaced at exec. `subprocess` starts children with vfork, whose address space until
exec is the parent's, so a child started straight from a harness that has seeded a tenant or imported
the SDK reports the harness's peak, not its own (a 17 MB `--help` then reads as 200 MB or more).
`measure` therefore starts bench/_launcher.py under `python -S` (os, sys and time only, about 9 MB),
which forks the command and reads its rusage with `os.wait4`; the only memory a measured command can
inherit is that small launcher's.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

LAUNCHER = Path(__file__).with_name("_launcher.py")


@dataclass(frozen=True)
class Measured:
    code: int  # exit code; -N when killed by signal N
    seconds: float  # wall time from fork to exit, launcher start-up excluded
    peak_mb: float  # the command's own peak RSS (ru_maxrss), in MB of 2**20 bytes


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None) -> Measured:
    """Run `cmd` to completion through the launcher. stdout and stderr are passed to the command as
    `subprocess.Popen` takes them (None: this process's own)."""
    import subprocess

    read_fd, write_fd = os.pipe()
    try:
        launcher = subprocess.Popen([sys.executable, "-S", str(LAUNCHER), str(write_fd), *cmd], env=env, cwd=cwd,
                                    stdout=stdout, stderr=stderr, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, encoding="ascii") as result:
        line = result.read()
    if launcher.wait() != 0 or not line:
        raise RuntimeError(f"could not run {cmd[0]}: launcher exit {launcher.returncode}")
    code, seconds, peak_kb = line.split()
    return Measured(int(code), float(seconds), int(peak_kb) / 1024)


def proc_peak_mb() -> float:
    """This process's own peak RSS (VmHWM, per address space: nothing inherited from a parent), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure_quiet(cmd: list[str], *, env: dict[str, str], cwd: Path) -> tuple[Measured, str]:
    """Run `cmd` as :func:`measure` does, its stdout discarded and its stderr kept (in cwd/stderr.txt,
    not a pipe: a long run's log would fill one) and returned."""
    import subprocess

    with (cwd / "stderr.txt").open("w+", encoding="utf-8") as err:
        run = measure(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        return run, err.read()
