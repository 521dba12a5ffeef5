"""One writer per run folder: an exclusive lock that a second training process is refused."""

from __future__ import annotations

import os
from pathlib import Path

from ganvq.errors import GanvqError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs there are not guarded
    fcntl = None

LOCK = ".lock"  # in the run folder; holds the pid of the process that trains it


class RunLock:
    """Held while a process writes a run folder (creating it if needed); a second writer gets a GanvqError.

    The lock is the kernel's (flock) on RUN/.lock, so it ends with the process, however it ends: a
    killed run leaves no stale lock. A folder this lock created and nothing else wrote is removed on release.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._fd: int | None = None
        self._created = False

    def __enter__(self) -> "RunLock":
        self._created = not self.folder.exists()
        path = self.folder / LOCK
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise GanvqError(f"cannot write the run folder {self.folder}: {e.strerror or e}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise GanvqError(f"{self.folder} is in use by another ganvq process (pid {holder}); "
                                 f"wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        if self._created and [p.name for p in self.folder.iterdir()] == [LOCK]:
            (self.folder / LOCK).unlink(missing_ok=True)  # nothing was written: leave no empty run behind
            try:
                self.folder.rmdir()
            except OSError:
                pass
        os.close(self._fd)  # releases the flock
        self._fd = None
