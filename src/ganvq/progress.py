"""Progress of a long loop, readable wherever its output goes.

On a terminal: a tqdm bar with rate and ETA. Anywhere else (`> log 2>&1`, nohup, CI, `| tee`): one plain
line at the start, then one every `interval` seconds and one at the end, each flushed at once. Quiet:
nothing. Every long command (train, sample, eval, compress, report) reports through `progress(...)`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import TextIO

INTERVAL = 15.0  # seconds between plain lines; GANVQ_PROGRESS_SECONDS overrides it (e.g. 1 in tests)


def _interval() -> float:
    try:
        value = float(os.environ.get("GANVQ_PROGRESS_SECONDS", INTERVAL))
    except ValueError:
        return INTERVAL
    return value if math.isfinite(value) and value >= 0 else INTERVAL


def format_seconds(seconds: float) -> str:
    """A duration as 7s, 2m05s or 1h02m."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Progress:
    """A bar on a terminal, plain periodic lines elsewhere, nothing when quiet (see the module docstring)."""

    def __init__(self, total: int | None, desc: str, unit: str = "step", initial: int = 0, quiet: bool = False,
                 stream: TextIO | None = None, interval: float | None = None):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.stream = stream if stream is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.postfix: dict[str, object] = {}
        self._start_n, self._start = initial, time.perf_counter()
        self._last_n, self._last = initial, self._start
        self._rate: float | None = None  # units per second over the last interval
        self._printed = self._closed = False
        self._bar = None
        self.mode = "quiet" if quiet else ("bar" if _isatty(self.stream) else "lines")
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream,
                             dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int = 1) -> None:
        """Count `n` more units done."""
        self.n += n
        if self._closed:
            return
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines":
            now = time.perf_counter()
            if not self._printed or now - self._last >= self.interval:
                self._rate = (self.n - self._last_n) / max(now - self._last, 1e-9)
                self._last_n, self._last = self.n, now
                self._line()

    def set_total(self, total: int | None) -> None:
        """A total learned on the way (a time budget turned into a step count)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix(self, values: dict[str, object]) -> None:
        """Figures shown after the rate (latest losses, scores); numbers are shortened to 4 digits."""
        self.postfix = dict(values)
        if self._bar is not None:
            self._bar.set_postfix({k: _number(v) for k, v in values.items()}, refresh=False)

    def note(self, message: str) -> None:
        """One line about a phase of the work (e.g. final scoring): above the bar, or a plain line (also once closed)."""
        if self.mode == "quiet":
            return
        if self._bar is not None:
            self._bar.write(f"{self.desc}: {message}", file=self.stream)
        else:
            self._write(f"{self.desc}: {message}")

    def close(self) -> None:
        """Remove the bar, or write the final plain line; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self.n != self._start_n:
            elapsed = time.perf_counter() - self._start
            self._rate = (self.n - self._start_n) / max(elapsed, 1e-9)
            self._last_n = self.n
            self._line(done=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self, done: bool = False) -> None:
        parts = [f"{self.unit} {self.n}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        if self._rate is not None and (self._printed or done):
            rate = self._rate
            parts.append(f"{rate:.3g} {self.unit}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.3g} s/{self.unit}")
            if done:  # a line cut short (Ctrl-C, an error, an early stop) does not say the work took that long
                short = self.total is not None and self.n < self.total
                took = format_seconds(time.perf_counter() - self._start)
                parts.append(f"{'stopped after' if short else 'took'} {took}")
            elif self.total and rate > 0:
                parts.append(f"ETA {format_seconds((self.total - self.n) / rate)}")
        parts += [f"{k} {_number(v)}" for k, v in self.postfix.items()]
        self._write(f"{self.desc}: " + "  ".join(parts))
        self._printed = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) must not end the work
            self.mode = "quiet"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress(total: int | None, desc: str, unit: str = "step", initial: int = 0, quiet: bool = False) -> Progress:
    """The progress display every long command uses: `with progress(n, "eval vqvae", "image") as p: p.update(k)`.

    A tqdm bar on a terminal; plain lines on stderr every GANVQ_PROGRESS_SECONDS (default 15) otherwise;
    nothing when `quiet`.
    """
    return Progress(total, desc, unit=unit, initial=initial, quiet=quiet)
