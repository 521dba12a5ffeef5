"""The training loop every model kind shares: schedule, progress, metrics, checkpoints, resume.

A model kind supplies a `Task`: its modules and optimizers, one `train_step`, and any extra
state. The loop owns everything else, so GAN, VQ-VAE and prior runs behave the same way.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from ganvq.config import TrainConfig
from ganvq.errors import GanvqError
from ganvq.io import append_jsonl, flatten_state, load_checkpoint, save_checkpoint, unflatten_state

CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
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


def resolve_device(name: str) -> torch.device:
    """--device auto: CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanvqError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanvqError("--device cuda was asked for, but no CUDA device is available")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU with
    AVX-512-BF16 or AMX. Elsewhere bf16 is emulated: measured on an AVX2-only CPU, a bf16-autocast
    convolution ran 40x slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_supports("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return False


def cpu_supports(*probes: str) -> bool:
    """Whether any of torch.cpu's feature probes (e.g. "_is_vnni_supported") says yes; a probe this
    torch lacks counts as no."""
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(device: torch.device, precision: str) -> str:
    """"auto" becomes "bf16" where `device` runs it natively, else "fp32"; an explicit choice stays."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(device: torch.device, precision: str):
    """bf16 autocast when `precision` resolves to bf16 (about 1.8x faster with AMX), else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=resolve_precision(device, precision) == "bf16")


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


def module_weights(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The state dict of module `name` from a checkpoint's flat tensors."""
    prefix = f"{name}."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def restore(task: Task, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load a checkpoint written by checkpoint_state into the task, for an exact continuation."""
    for name, module in task.modules().items():
        module.load_state_dict(module_weights(tensors, name))
    for name, state in unflatten_state(meta["optimizers"], tensors).items():
        task.optimizers()[name].load_state_dict(state)
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


def train(task: Task, cfg: TrainConfig, out: str | Path, resume: bool = False, quiet: bool = False) -> dict:
    """Run (or resume) training of `task` into run folder `out`; returns the final summary."""
    out = Path(out)
    ckpt_path = out / CHECKPOINT
    step, elapsed_before, total = 0, 0.0, cfg.steps
    if resume:
        if not ckpt_path.exists():
            raise GanvqError(f"nothing to resume: {ckpt_path} does not exist")
        tensors, meta = load_checkpoint(ckpt_path)
        if meta.get("kind") != task.kind:
            raise GanvqError(f"{ckpt_path} is a {meta.get('kind')} checkpoint, not {task.kind}")
        restore(task, tensors, meta)
        step, elapsed_before, total = meta["step"], meta["elapsed_seconds"], meta["total_steps"]
        if meta.get("finished"):
            raise GanvqError(f"{out} already finished at step {step}; start a new run to train longer")
    elif ckpt_path.exists():
        raise GanvqError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)

    budget = cfg.minutes * 60 if cfg.minutes else math.inf
    params = [g for o in task.optimizers().values() for g in o.param_groups]
    for g in params:
        g.setdefault("initial_lr", g["lr"])
    start_time = time.perf_counter() - elapsed_before
    calib_from = None  # (step, time) when the timed calibration began
    window: list[dict] = []
    bar = _progress(total, step, quiet)
    board = _tensorboard(out)

    def elapsed() -> float:
        return time.perf_counter() - start_time

    saved_step = step if resume else None  # step of the last checkpoint on disk, all of them finite

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

    def log(record: dict) -> None:
        append_jsonl(out / METRICS, record)
        if board is not None:
            for key, value in record.items():
                if "/" in key and isinstance(value, (int, float)):
                    board.add_scalar(key, value, record["step"])

    try:
        with _StopRequests() as stop:
            while (total is None or step < total) and elapsed() < budget:
                if stop.requested:
                    raise KeyboardInterrupt
                if total is None and cfg.minutes and calib_from is None and step >= 3:
                    calib_from = (step, elapsed())  # skip warm-up steps (allocation, k-means init)
                if total is None and calib_from and step >= calib_from[0] + CALIBRATION_STEPS:
                    per_step = (elapsed() - calib_from[1]) / (step - calib_from[0])
                    total = step + max(int((budget - elapsed()) / per_step), 1)
                    if cfg.steps:
                        total = min(total, cfg.steps)
                    if bar is not None:
                        bar.total = total
                        bar.refresh()
                for g in params:
                    g["lr"] = g["initial_lr"] * lr_factor(cfg, step, total)
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
                              "lr": params[0]["lr"], **task.summarize(window)}
                    window = []
                    log(record)
                    if bar is not None:
                        bar.set_postfix({k.split("/")[-1]: f"{v:.4g}" for k, v in record.items()
                                         if k in ("train/loss", "train/psnr", "train/codes_used",
                                                  "train/d_loss", "train/g_loss")})
                if step % cfg.ckpt_every == 0 and (total is None or step < total):
                    log({"step": step, **task.evaluate()})
                    save()
    except _StopNow:
        raise TrainingInterrupted(
            f"stopped at once by a second interrupt, without saving; the last checkpoint "
            f"({ckpt_path if ckpt_path.exists() else 'none yet'}) can be resumed with --resume"
        ) from None
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        if board is not None:
            board.close()
        save()
        raise TrainingInterrupted(
            f"interrupted at step {step}; checkpoint saved to {ckpt_path}; continue with --resume"
        ) from None
    if bar is not None:
        bar.close()
    if window:
        log({"step": step, "elapsed_seconds": round(elapsed(), 2), **task.summarize(window)})
    train_seconds = elapsed()
    precision = resolve_precision(getattr(task, "device", torch.device("cpu")), cfg.precision)
    final = {"step": step, "train_seconds": round(train_seconds, 2), "precision_used": precision, **task.evaluate()}
    log(final)
    total = step
    save(finished=True)
    if board is not None:
        board.close()
    return {"run": str(out), "checkpoint": str(ckpt_path), **final}

