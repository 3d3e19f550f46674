"""Started by bench/proc.py under `python -S`: forks the command, waits for it with os.wait4 and writes
"exit-code wall-seconds peak-rss-kB" to the pipe whose descriptor is the first argument.

Standard library only and nothing else imported, so that the memory a forked command inherits from
this process (and reports in ru_maxrss) stays at the interpreter's own ~9 MB.

    python -S bench/_launcher.py FD COMMAND [ARG ...]
"""

import os
import sys
import time


def _launch(result_fd: int, cmd: list[str]) -> int:
    os.set_inheritable(result_fd, False)  # the command must not hold the result pipe open
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os.write(2, f"cannot run {cmd[0]}\n".encode())
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    # ru_maxrss is in kB on Linux.
    os.write(result_fd, f"{os.waitstatus_to_exitcode(status)} {seconds:.6f} {usage.ru_maxrss}\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(_launch(int(sys.argv[1]), sys.argv[2:]))
