"""The training loop every model kind shares: schedule, progress, metrics, checkpoints, resume.

A model kind supplies a `Task`: its modules and optimizers, one `train_step`, and any extra
state. The loop owns everything else, so GAN, VQ-VAE and prior runs behave the same way:
`run` locks the run folder, starts or resumes the run there, and trains the task it is given.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from ganvq.config import to_dict
from ganvq.device import resolve_device, resolve_precision
from ganvq.errors import GanvqError, warn
from ganvq.io import append_jsonl, flatten_state, save_checkpoint, unflatten_state, write_json
from ganvq.runs import CHECKPOINT, CONFIG, METRICS, Run, RunLock, TrainConfig, module_weights, open_run

CALIBRATION_STEPS = 20  # steps timed before a --minutes budget is turned into a step count


class TrainingInterrupted(GanvqError):
    """Ctrl-C during training: a checkpoint was saved and the run can be resumed."""


class TrainingDiverged(GanvqError):
    """Raised by a task's train_step when the run has blown up; the loop adds the last good checkpoint."""


class Task(Protocol):
    kind: str  # "vqvae", "gan", "prior": stored in the checkpoint

    def modules(self) -> dict[str, nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def config_dict(self) -> dict: ...
    def train_step(self, step: int) -> dict[str, float]: ...
    def extra_state(self) -> dict: ...
    def load_extra_state(self, state: dict) -> None: ...
    def evaluate(self) -> dict[str, float]: ...
    def summarize(self, metrics: list[dict]) -> dict[str, float]: ...
    def lr_scale(self) -> float: ...  # multiplies every scheduled learning rate (a GAN halves it on roll-back)


def lr_factor(cfg: TrainConfig, step: int, total: int | None) -> float:
    """Multiplier of the base learning rate: linear warm-up, then cosine to 0 or constant."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant" or not total:
        return 1.0
    progress = min((step - cfg.warmup_steps) / max(total - cfg.warmup_steps, 1), 1.0)
    return 0.5 * (1 + math.cos(math.pi * progress))


def checkpoint_state(task: Task, meta: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything needed to continue a run: weights, optimizers, RNG, data position, counters."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in task.modules().items():
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    opt_t, opt_skel = flatten_state("optim", {k: o.state_dict() for k, o in task.optimizers().items()})
    extra_t, extra_skel = flatten_state("extra", task.extra_state())
    tensors.update(opt_t)
    tensors.update(extra_t)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = dict(meta, kind=task.kind, config=task.config_dict(), optimizers=opt_skel, extra=extra_skel)
    return tensors, meta


def restore(task: Task, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load a checkpoint written by checkpoint_state into the task, for an exact continuation.

    The schedulers' base learning rates stay those of the task's own optimizers (its config's), not the
    checkpoint's: runs saved before the schedulers kept a GAN roll-back's halving there.
    """
    for name, module in task.modules().items():
        module.load_state_dict(module_weights(tensors, name))
    for name, state in unflatten_state(meta["optimizers"], tensors).items():
        opt = task.optimizers()[name]
        base = [group["lr"] for group in opt.param_groups]  # a new task's optimizers start at the config's rates
        opt.load_state_dict(state)
        for group, lr in zip(opt.param_groups, base):
            group["initial_lr"] = lr
    task.load_extra_state(unflatten_state(meta["extra"], tensors))
    torch.set_rng_state(tensors["rng.torch"])


class _StopNow(BaseException):
    """A second Ctrl-C: stop at once, without saving a state that may be mid-step."""


class _StopRequests:
    """Turns Ctrl-C / SIGTERM into a request honoured between steps, so a checkpoint is never mid-step.

    A second Ctrl-C raises _StopNow at once, for a user who will not wait.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise _StopNow
        self.requested = True

    def __enter__(self) -> "_StopRequests":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals stay as they were
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress(total: int | None, start: int, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, smoothing=0.1)


def _tensorboard(out: Path):
    """A SummaryWriter in the run folder when TensorBoard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _schedulers(task: Task, cfg: TrainConfig, step: int, total: Callable[[], int | None]) -> list:
    """One LambdaLR per optimizer, at `step`: lr = base lr * lr_factor(step, total()) * task.lr_scale().

    `total` is read at every step, since a --minutes budget fixes the step count only after calibration.
    A resumed optimizer's groups hold their base rates as `initial_lr` (see `restore`).
    """
    def factor(s: int) -> float:
        return lr_factor(cfg, s, total()) * task.lr_scale()

    return [torch.optim.lr_scheduler.LambdaLR(opt, factor, last_epoch=step - 1) for opt in task.optimizers().values()]


@contextlib.contextmanager
def seeded(cfg: TrainConfig):
    """Train in a fork of torch's RNG seeded with cfg.seed, on cfg.threads threads: the caller's RNG state
    and thread count are restored afterwards, so a library call leaves the process as it found it.

    `run` trains inside it; code that builds a Task and calls `train` itself does so inside it too, or
    the task's initial weights come from whatever state torch's RNG was in.
    """
    threads = torch.get_num_threads()
    device = resolve_device(cfg.device)
    devices = []  # CPU runs leave CUDA uninitialised
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _refuse_existing(out: Path) -> None:
    """A GanvqError when `out` already holds a run: a new one must not overwrite it."""
    if (out / CHECKPOINT).exists():
        raise GanvqError(f"{out} already holds a run; pass --resume to continue it or choose another --out")


def run(kind: str, config, out: str | Path, make_task: Callable[[object, Run | None], Task], resume: bool = False,
        quiet: bool = False) -> dict:
    """Lock run folder `out`, then train `make_task(config, None)` there, or resume the run it holds
    (`make_task(its config, the run)`); returns the final summary.

    A new run writes RUN/config.json (the config as trained: channels and classes follow the data); a
    resumed one keeps the config stored in its checkpoint. A second process writing `out` is refused.
    """
    out = Path(out)
    with RunLock(out):
        previous = None
        if resume:
            if not (out / CHECKPOINT).exists():
                raise GanvqError(f"nothing to resume: {out / CHECKPOINT} not found")
            previous = open_run(out, kind)
            if previous.meta.get("finished"):
                raise GanvqError(f"{out} already finished at step {previous.meta.get('step')}; "
                                 "start a new run to train longer")
            config = previous.config
        else:
            _refuse_existing(out)  # before the data is loaded and config.json written
        if config is None:
            raise GanvqError("give a config to train, or resume=True to continue the run in `out`")
        with seeded(config.train):
            task = make_task(config, previous)
            if previous is None:
                write_json(out / CONFIG, to_dict(task.config))
            return train(task, task.config.train, out, previous, quiet)


def train(task: Task, cfg: TrainConfig, out: str | Path, previous: Run | None = None, quiet: bool = False) -> dict:
    """Train `task` into run folder `out`, or continue the run `previous` read from there; returns the final summary."""
    out = Path(out)
    ckpt_path = out / CHECKPOINT
    step, elapsed_before, total = 0, 0.0, cfg.steps
    if previous is not None:
        restore(task, previous.tensors, previous.meta)
        meta = previous.meta
        step, elapsed_before, total = meta["step"], meta["elapsed_seconds"], meta["total_steps"]
    else:
        _refuse_existing(out)
        if cfg.steps is not None and cfg.minutes is None and cfg.steps < cfg.learn_steps:
            warn(f"{cfg.steps} steps are fewer than the {cfg.learn_steps} this recipe needs to learn anything: "
                 "expect poor results")
    out.mkdir(parents=True, exist_ok=True)

    budget = cfg.minutes * 60 if cfg.minutes else math.inf
    first_group = next(iter(task.optimizers().values())).param_groups[0]
    start_time = time.perf_counter() - elapsed_before
    calib_from = None  # (step, time) when the timed calibration began, then of the last re-fit
    fitted = False  # whether `total` came from the budget (and is re-fitted as the speed changes)
    window: list[dict] = []

    def elapsed() -> float:
        return time.perf_counter() - start_time

    def calibrate() -> None:
        """With a --minutes budget and no step count yet: time CALIBRATION_STEPS steps, then fix the count; every
        CALIBRATION_STEPS steps after, fit it again to their speed, so a machine that speeds up or slows down
        (other work starting or ending) still trains for the whole budget and ends its schedule on time."""
        nonlocal calib_from, total, fitted
        if total is None and cfg.minutes and calib_from is None and step >= 3:
            calib_from = (step, elapsed())  # skip warm-up steps (allocation, k-means init)
        if (total is None or fitted) and calib_from and step >= calib_from[0] + CALIBRATION_STEPS:
            per_step = (elapsed() - calib_from[1]) / (step - calib_from[0])
            new_total = step + max(int((budget - elapsed()) / per_step), 1)
            if cfg.steps:
                new_total = min(new_total, cfg.steps)
            if not fitted and new_total < cfg.learn_steps:
                warn(f"{cfg.minutes:g} minute(s) give about {new_total} steps on this machine ({per_step:.2f} s/step), "
                     f"and this recipe needs about {cfg.learn_steps} to learn anything "
                     f"(~{cfg.learn_steps * per_step / 60:.0f} minutes here): expect poor results; give more --minutes")
            total, fitted, calib_from = new_total, True, (step, elapsed())
            if bar is not None:
                bar.total = total
                bar.refresh()

    saved_step = step if previous is not None else None  # step of the last checkpoint on disk, all of them finite

    def last_good() -> str:
        # Resuming would replay the same steps exactly, so the advice is a new run with other settings.
        if saved_step is None:
            return "no checkpoint was saved yet; start again with a lower learning rate"
        return f"last good checkpoint: {ckpt_path} (step {saved_step}); start again with a lower learning rate"

    def save(finished: bool = False) -> None:
        nonlocal saved_step
        saved_step = step
        tensors, meta = checkpoint_state(
            task, {"step": step, "total_steps": total, "elapsed_seconds": elapsed(), "finished": finished}
        )
        save_checkpoint(ckpt_path, tensors, meta)

    bar = board = None

    def log(record: dict) -> None:
        append_jsonl(out / METRICS, record)
        if board is not None:
            for key, value in record.items():
                if "/" in key and isinstance(value, (int, float)):
                    board.add_scalar(key, value, record["step"])

    def close_outputs() -> None:
        nonlocal bar, board
        if bar is not None:
            bar.close()
            bar = None
        if board is not None:
            board.close()
            board = None

    try:
        bar = _progress(total, step, quiet)
        board = _tensorboard(out)
        calibrate()
        schedulers = _schedulers(task, cfg, step, lambda: total)
        with _StopRequests() as stop:
            while (total is None or step < total) and elapsed() < budget:
                if stop.requested:
                    raise KeyboardInterrupt
                try:
                    metrics = task.train_step(step)
                except TrainingDiverged as e:
                    raise GanvqError(f"training diverged at step {step + 1} ({e}); {last_good()}") from None
                if not all(math.isfinite(v) for v in metrics.values()):
                    raise GanvqError(f"training diverged at step {step + 1} (non-finite loss); {last_good()}")
                step += 1
                window.append(metrics)
                if bar is not None:
                    bar.update(1)
                if step % cfg.log_every == 0:
                    record = {"step": step, "elapsed_seconds": round(elapsed(), 2),
                              "lr": first_group["lr"], **task.summarize(window)}
                    window = []
                    log(record)
                    if bar is not None:
                        bar.set_postfix({k.split("/")[-1]: f"{v:.4g}" for k, v in record.items()
                                         if k in ("train/loss", "train/psnr", "train/codes_used",
                                                  "train/d_loss", "train/g_loss")})
                if step % cfg.ckpt_every == 0 and (total is None or step < total):
                    log({"step": step, **task.evaluate()})
                    save()
                calibrate()
                with warnings.catch_warnings():  # a GAN step rolled back before any optimizer step: expected
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)` before")
                    for scheduler in schedulers:
                        scheduler.step()
        if bar is not None:  # before the final scoring prints anything
            bar.close()
            bar = None
        if cfg.minutes and not fitted and step < cfg.learn_steps:  # the budget ended before calibration did
            warn(f"{cfg.minutes:g} minute(s) gave {step} steps on this machine, and this recipe needs about "
                 f"{cfg.learn_steps} to learn anything: expect poor results; give more --minutes")
        if window:
            log({"step": step, "elapsed_seconds": round(elapsed(), 2), **task.summarize(window)})
        train_seconds = elapsed()
        precision = resolve_precision(getattr(task, "device", torch.device("cpu")), cfg.precision)
        final = {"step": step, "train_seconds": round(train_seconds, 2), "precision_used": precision,
                 **task.evaluate()}
        log(final)
        total = step
        save(finished=True)
    except _StopNow:
        raise TrainingInterrupted(
            f"stopped at once by a second interrupt, without saving; the last checkpoint "
            f"({ckpt_path if ckpt_path.exists() else 'none yet'}) can be resumed with --resume"
        ) from None
    except KeyboardInterrupt:
        close_outputs()
        save()
        raise TrainingInterrupted(
            f"interrupted at step {step}; checkpoint saved to {ckpt_path}; continue with --resume"
        ) from None
    finally:
        close_outputs()
    return {"run": str(out), "checkpoint": str(ckpt_path), **final}
