"""Ctrl-C and SIGTERM while a run trains: requests the loop honours where its state is whole.

The first SIGINT or SIGTERM only sets a flag (and, with `notify`, says so at once); the loop checks it between
steps and around scoring and saving, writes a checkpoint and raises TrainingInterrupted (exit 128 + signal: 130 or
143). Scoring changes no training state, so a request cuts it short at once. A second signal stops at once without
saving.

Under torchrun (`escalate=False`) a repeated signal is not "stop now": the launcher relays each signal it
gets to every worker, so one Ctrl-C reaches a worker twice (from the terminal and from torchrun); the
processes agree on the request at the next step, and torchrun's own SIGKILL after 30 seconds is the hard stop.
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path

from ganvq.errors import GanvqError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
VERBS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class TrainingInterrupted(GanvqError):
    """A signal stopped training; `signum` gives the exit code (128 + signum) and the message says how to resume."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopNow(KeyboardInterrupt):
    """A second signal: stop at once, without saving a state that may be mid-step. A KeyboardInterrupt, so that
    the loop's handlers for a second signal (and the CLI's for Ctrl-C) catch it."""


class StopScoring(BaseException):
    """A signal during scoring: cut it short (scoring changes no training state)."""


class StopRequests:
    """Turns SIGINT/SIGTERM into a request (`requested`, `signum`) for the code running inside it.

    While `immediate` is set (during scoring) the first signal raises StopScoring at once. Outside the main
    thread signals cannot be caught, and stay as they were.
    """

    def __init__(self, escalate: bool = True) -> None:
        self.escalate = escalate
        self.notify = False  # say on stderr at once, at the first signal, that a checkpoint is being saved
        self.signum: int | None = None
        self.immediate = False
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            if self.escalate:
                raise StopNow
            return
        self.signum = signum
        if self.immediate:
            self.immediate = False  # one StopScoring at most, raised inside the guarded call
            raise StopScoring
        if self.notify:  # a step can take seconds: the user learns at once that the signal was heard
            _say(stopping_notice(signum, self.escalate))

    def __enter__(self) -> StopRequests:
        for sig in SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def stopping_notice(signum: int, escalate: bool = True) -> str:
    """The line said at the first signal, at once: the step in progress ends, and the checkpoint is written."""
    verb = VERBS.get(signum, "interrupted")
    again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
    then = f" ({again} stops at once, without saving)" if escalate else ""
    return f"ganvq: {verb}: saving a checkpoint, then stopping{then}"


def _say(line: str) -> None:
    # os.write, not print: a signal handler can run while the main thread is inside sys.stderr's own write, and a
    # buffered stream then refuses the reentrant call; a progress bar on a terminal is left on its own line
    try:
        lead = "\n" if os.isatty(2) else ""
        os.write(2, f"{lead}{line}\n".encode())
    except OSError:  # stderr closed: the final message still says what happened
        pass


def _launcher() -> str:
    """How this process was started, as a resume command should start it again: `ganvq`, or under torchrun on one
    machine `torchrun --nproc-per-node N -m ganvq` (a run resumes on any number of processes)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return "ganvq"
    local = os.environ.get("LOCAL_WORLD_SIZE")
    nodes = "" if local in (None, str(world)) else " --nnodes ..."
    return f"torchrun{nodes} --nproc-per-node {local or world} -m ganvq"


def resume_hint(kind: str, out: Path, finished: bool = False) -> str:
    """The command that continues (or, once finished, extends) the run in `out`."""
    command = f"{_launcher()} train {kind} --resume {shlex.quote(str(out))}"
    return f"train longer with: {command} --steps N" if finished else f"resume with: {command}"


def interrupted(signum: int | None, kind: str, out: Path, step: int, finished: bool = False) -> TrainingInterrupted:
    """The one-line TrainingInterrupted for a run stopped (and saved) at `step`."""
    signum = signum or signal.SIGINT
    verb = VERBS.get(signum, "interrupted")
    where = f"after the run finished at step {step}" if finished else f"at step {step}"
    return TrainingInterrupted(f"{verb} {where}; checkpoint saved; {resume_hint(kind, out, finished)}", signum)
