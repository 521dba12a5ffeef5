"""One writer per run folder: an exclusive lock that a second training process is refused."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ganvq.errors import GanvqError, warn
from ganvq.io import cannot_write

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs there are not guarded
    fcntl = None

LOCK = ".lock"  # in the run folder; holds the pid of the process that trains it, while it does
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)  # flock's "someone else holds it"


class RunLock:
    """Held while a process writes a run folder (creating it if needed); a second writer gets a GanvqError.

    The lock is the kernel's (flock) on RUN/.lock, so it ends with the process, however it ends: a
    killed run leaves no stale lock. A folder this lock created and nothing else wrote is removed on
    release; a process that opened the lock file just before that removal sees that its file is no
    longer the folder's and starts over.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._fd: int | None = None
        self._created = False

    def _open(self) -> int:
        self._created = self._created or not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if self.folder.exists() and not self.folder.is_dir():
                raise GanvqError(f"cannot write the run folder {self.folder}: it is a file, not a folder") from None
            raise GanvqError(cannot_write(self.folder, e).replace("cannot write", "cannot write the run folder", 1)
                             ) from None

    def _is_current(self, fd: int) -> bool:
        """Whether `fd` is still the folder's lock file (not one a releasing process has just removed)."""
        try:
            return os.fstat(fd).st_ino == os.stat(self.folder / LOCK).st_ino
        except OSError:
            return False

    def __enter__(self) -> RunLock:
        while True:
            fd = self._open()
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in _BUSY:  # a filesystem without flock (some network ones): run unguarded
                    warn(f"cannot lock {self.folder} ({e.strerror}); do not start a second run in it")
                    break
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise GanvqError(f"{self.folder} is in use by another ganvq process (pid {holder}); "
                                 f"wait for it to finish or choose another --out") from None
            if self._is_current(fd):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def _release_folder(self) -> None:
        """Remove the folder if this lock created it and it holds nothing but the lock file."""
        if not self._created:
            return
        try:
            if [p.name for p in self.folder.iterdir()] == [LOCK]:
                (self.folder / LOCK).unlink()
                self.folder.rmdir()
        except OSError:
            pass

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # no pid left behind in a finished run
            self._release_folder()  # while still locked: a waiting opener sees the file go and starts over
        except OSError:
            pass
        finally:
            os.close(self._fd)  # releases the flock
            self._fd = None
