"""Where a benchmark ran, recorded in its JSON: speeds from different machines are not comparable."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

from ganvq.device import native_bf16


def describe() -> dict:
    """Platform, CPU model name, torch version and threads, and whether the CPU has native bf16."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return {"platform": platform.platform(), "cpu": cpu, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "native_bf16": native_bf16(torch.device("cpu"))}


def run_record(load_at_start: list[float], started: float) -> dict:
    """Machine, Python, load averages at start and end, date and wall seconds of a benchmark run begun at
    `started` (time.perf_counter()) with `load_at_start` (os.getloadavg(), rounded)."""
    return {"machine": describe(), "python": sys.version.split()[0], "load_average_at_start": load_at_start,
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()], "measured": time.strftime("%Y-%m-%d"),
            "wall_seconds": round(time.perf_counter() - started, 1)}
