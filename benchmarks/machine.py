"""Where a benchmark ran, recorded in its JSON: speeds from different machines are not comparable."""

from __future__ import annotations

import platform
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
