"""One mutating command per tenant on this machine at a time.

Two commands that each read two Global Administrators and each remove one leave none: the check
must see the other's writes. A lock file per target tenant (in the user state directory) serialises the
mutating commands of this machine; a second one waits and says so. Across machines no client can
prevent it (Graph has no transactions): the writes that can remove a Global Administrator are
therefore also re-checked against a fresh read right before each is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from provisioner.config import Profile
from provisioner.errors import ProvisionerError


class Busy(ProvisionerError):
    """Another command holds the tenant's lock and this one was told not to wait."""


def lock_path(profile: Profile) -> Path:
    """The lock file of the profile's tenant: the same tenant reached by two profile names shares one."""
    if profile.is_local:
        from provisioner.bootstrap import local_state_path

        identity = f"local:{local_state_path(profile).resolve()}"
    else:
        identity = f"graph:{profile.graph_url or profile.cloud}:{(profile.tenant_id or profile.name).lower()}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    import platformdirs

    return Path(platformdirs.user_state_dir("provisioner", appauthor=False)) / "locks" / f"tenant-{digest}.lock"


def _try_lock(fd: int) -> bool:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
    return True


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except OSError:
        pid = ""
    return f" (process {pid})" if pid.isdigit() else ""


@asynccontextmanager
async def tenant_lock(profile: Profile, *, wait: bool = True,
                      on_wait: Callable[[str], None] | None = None) -> AsyncIterator[None]:
    """Hold the tenant's lock for the block; released when the process ends, whatever happens."""
    path = lock_path(profile)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise ProvisionerError(f"cannot create the lock file {path}: {e.strerror or e}; nothing was written. "
                               "Make that directory writable (or set XDG_STATE_HOME) and run again") from None
    try:
        told = False
        while not _try_lock(fd):
            busy = f"another provisioner command is changing tenant {profile.name}{_holder(path)}"
            if not wait:
                raise Busy(f"{busy}; run this one when it has finished, or without --no-wait to wait for it")
            if not told and on_wait is not None:
                on_wait(f"Waiting: {busy}.")
                told = True
            await asyncio.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
