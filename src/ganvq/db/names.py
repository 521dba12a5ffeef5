"""Entry names (where each image came from), stored compactly: numbered runs cost a few bytes per thousand.

A run of names `prefix + number` with consecutive numbers of one width ("fashion-mnist/all/00000" ...
"fashion-mnist/all/00999") is stored as [prefix, first number, count, width]; any other name as itself.
"""

from __future__ import annotations

import re

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def compact(names: list[str]) -> list:
    """Names -> a list of plain names and [prefix, first, count, width] runs (see the module docstring)."""
    out: list = []
    for name in names:
        m = _NUMBERED.match(name)
        if m:
            prefix, digits = m.group(1), m.group(2)
            last = out[-1] if out else None
            if (isinstance(last, list) and last[0] == prefix and last[3] == len(digits)
                    and last[1] + last[2] == int(digits)):
                last[2] += 1
                continue
            out.append([prefix, int(digits), 1, len(digits)])
        else:
            out.append(name)
    return out


def count(runs: list) -> int:
    """How many names `runs` (from `compact`) stands for."""
    return sum(r[2] if isinstance(r, list) else 1 for r in runs)


def name_at(runs: list, i: int) -> str:
    """The i-th name that `runs` stands for."""
    for r in runs:
        n = r[2] if isinstance(r, list) else 1
        if i < n:
            return f"{r[0]}{r[1] + i:0{r[3]}d}" if isinstance(r, list) else r
        i -= n
    raise IndexError(i)


def expand(runs: list) -> list[str]:
    """Every name `runs` stands for, in order (name_at for all of them at once)."""
    out: list[str] = []
    for r in runs:
        out.extend((f"{r[0]}{r[1] + i:0{r[3]}d}" for i in range(r[2])) if isinstance(r, list) else [r])
    return out


def well_formed(runs) -> bool:
    """Whether `runs` (read from an archive) has the shape `compact` gives."""
    return isinstance(runs, list) and all(
        isinstance(r, str) or (isinstance(r, list) and len(r) == 4 and isinstance(r[0], str)
                               and all(isinstance(v, int) and v >= 0 for v in r[1:]) and r[2] >= 1 and r[3] <= 32)
        for r in runs)
