"""Start a function on several local processes as torchrun would (RANK, WORLD_SIZE, ... in the environment),
with a time limit: a test of collectives fails rather than hangs."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(fn, rank: int, world: int, port: int, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world), OMP_NUM_THREADS="1")
    import torch

    torch.set_num_threads(1)
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - printed here, then the exit code tells the parent
        traceback.print_exc()
        raise SystemExit(1) from None
    # The work is done and its files are written: leave without the interpreter's finalization, where torch's gloo
    # teardown sometimes aborts a non-zero rank ("terminate called without an active exception", exit code -6, no
    # Python frame on the stack; 9 of 100 two-process runs here) after a run that succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn(fn, world: int, *args, timeout: float = 120.0) -> None:
    """Run fn(*args) on `world` processes that form one process group; AssertionError when any fails or the
    group is not done within `timeout` seconds (every process is killed then)."""
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=_entry, args=(fn, r, world, port, args)) for r in range(world)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.join(max(deadline - time.monotonic(), 0.1))
        hung = [r for r, p in enumerate(procs) if p.is_alive()]
        assert not hung, f"ranks {hung} still running after {timeout} s: a collective hangs"
        codes = [p.exitcode for p in procs]
        assert codes == [0] * world, f"exit codes {codes}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
