"""The training loop every model kind shares: schedule, progress, metrics, checkpoints, resume.

A model kind supplies a `Task`: its modules and optimizers, one `train_step`, and any extra
state. The loop owns everything else, so GAN, VQ-VAE and prior runs behave the same way:
`run` locks the run folder, starts or resumes the run there, and trains the task it is given.

Under torchrun (train.distributed) every process runs this loop in step: rank 0 alone locks the folder,
logs, scores and writes checkpoints; the decisions that end or interrupt a run (a stop request, the
--minutes budget, the step count fitted to it, a diverged loss, scoring cut short) are agreed through one
small collective per step, so no process is ever left waiting on the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from ganvq.data import DATA_FILE, changed_data_note, data_fingerprint
from ganvq.device import resolve_device, resolve_precision
from ganvq.errors import GanvqError, warn
from ganvq.io import append_jsonl, flatten_state, save_checkpoint, unflatten_state, write_json
from ganvq.progress import Progress, format_seconds
from ganvq.runs import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    Run,
    RunLock,
    TrainConfig,
    module_weights,
    open_run,
    read_metrics,
    trim_metrics,
)
from ganvq.train import distributed
from ganvq.train.stop import (
    VERBS,
    StopRequests,
    StopScoring,
    TrainingInterrupted,
    interrupted,
    resume_hint,
)

CALIBRATION_STEPS = 20  # steps timed before a --minutes budget is turned into a step count
REFIT_SHARE = 0.05  # ... and refitted at least this often (a share of the budget) when steps slow down


class TrainingDiverged(GanvqError):
    """Raised by a task's train_step when the run has blown up; the loop adds the last good checkpoint."""


class Task(Protocol):
    kind: str  # "vqvae", "gan", "prior": stored in the checkpoint
    # a task may also set `command`, its `ganvq train` subcommand where that is not `kind` (a VQGAN: "vqgan"):
    # the progress label and the resume hints name it; and `budget_note(steps) -> str | None`, a line for the user
    # once a --minutes budget has been turned into a step count (a VQGAN: whether its discriminator will join);
    # and `cannot_extend(previous_run) -> str | None`, why a resumed run cannot train longer (a private GAN whose ε
    # is spent), asked before a --steps/--minutes extension changes anything

    def modules(self) -> dict[str, nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def config_dict(self) -> dict: ...
    def train_step(self, step: int) -> dict[str, float]: ...
    def extra_state(self) -> dict: ...
    def load_extra_state(self, state: dict) -> None: ...
    def evaluate(self) -> dict[str, float]: ...
    def summarize(self, metrics: list[dict]) -> dict[str, float]: ...
    def lr_scale(self) -> float: ...  # multiplies every scheduled learning rate (a GAN halves it on roll-back)


WSD_DECAY = 0.2  # "wsd": the share of the steps after warm-up over which the learning rate falls linearly to 0
WARMUP_SHARE = 10  # the warm-up lasts at most 1/WARMUP_SHARE of the steps, once their number is known


def lr_factor(cfg: TrainConfig, step: int, total: int | None) -> float:
    """Multiplier of the base learning rate: linear warm-up (`cfg.warmup_steps`, at most a tenth of `total`), then
    cosine to 0, constant, or "wsd" (warm-up, stable, decay: constant, then linearly to 0 over the last WSD_DECAY
    of the steps; Hägele et al. 2024)."""
    warmup = min(cfg.warmup_steps, max(total // WARMUP_SHARE, 1)) if total else cfg.warmup_steps
    if warmup and step < warmup:
        return (step + 1) / warmup
    if cfg.lr_schedule == "constant" or not total:
        return 1.0
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    if cfg.lr_schedule == "wsd":
        return min(1.0, (1.0 - progress) / WSD_DECAY)
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
    device = getattr(task, "device", torch.device("cpu"))
    if device.type == "cuda":  # GAN latents, DiffAugment and code restarts draw on the GPU
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    meta = dict(meta, kind=task.kind, config=task.config_dict(), optimizers=opt_skel, extra=extra_skel)
    return tensors, meta


def mismatch(error: RuntimeError) -> str:
    """The first thing load_state_dict found wrong ("size mismatch for encoder.0.weight: ..."), on one line."""
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error).strip()]
    more = f"; and {len(lines) - 1} more" if len(lines) > 1 else ""
    return lines[0].rstrip(".") + more


def restore(task: Task, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load a checkpoint written by checkpoint_state into the task, for an exact continuation.

    The schedulers' base learning rates stay those of the task's own optimizers (its config's), not the
    checkpoint's: runs saved before the schedulers kept a GAN roll-back's halving there.
    """
    for name, module in task.modules().items():
        try:
            module.load_state_dict(module_weights(tensors, name))
        except RuntimeError as e:
            raise GanvqError(f"the checkpoint's {name} does not fit the {name} built for the data now ({mismatch(e)}): "
                             "the data's channels or classes have changed since the run began; restore the data "
                             "as it was, or start a new run") from None
    for name, state in unflatten_state(meta["optimizers"], tensors).items():
        opt = task.optimizers()[name]
        base = [group["lr"] for group in opt.param_groups]  # a new task's optimizers start at the config's rates
        opt.load_state_dict(state)
        for group, lr in zip(opt.param_groups, base):
            group["initial_lr"] = lr
    task.load_extra_state(unflatten_state(meta["extra"], tensors))
    torch.set_rng_state(tensors["rng.torch"])
    device = getattr(task, "device", torch.device("cpu"))
    if device.type == "cuda" and "rng.cuda" in tensors:  # a run saved on CPU resumes on CUDA with a fresh stream
        state = tensors["rng.cuda"]
        if state.dtype != torch.uint8 or state.ndim != 1:
            raise GanvqError(f"checkpoint tensor rng.cuda must be a uint8 vector, got {state.dtype} {list(state.shape)}")
        torch.cuda.set_rng_state(state, device)


def _command(task: Task) -> str:
    """The `ganvq train` subcommand that trains and resumes the task's runs."""
    return getattr(task, "command", task.kind)


def _progress(total: int | None, start: int, quiet: bool, kind: str = "") -> Progress:
    return Progress(total, f"train {kind}".strip(), initial=start, quiet=quiet)


# Figures the progress display shows after the rate, from the latest metric records.
SHOWN = ("train/loss", "train/psnr", "train/codes_used", "train/d_loss", "train/g_loss", "train/bits_per_code",
         "train/aug_p", "val/psnr", "val/bits_per_code")


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


def _extended(previous: Run, steps: int | None, minutes: float | None) -> Run:
    """`previous` with a new length when one is given: `steps` is the total to reach, `minutes` more minutes of
    training from now (the cosine schedule is fitted to the new end); a finished run needs one of them."""
    meta, step = previous.meta, previous.meta["step"]
    if steps is None and minutes is None:
        return previous
    if steps is not None and steps <= step:
        raise GanvqError(f"{previous.folder} is at step {step}; --steps is the total to reach, so give more than {step}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < math.inf):
        raise GanvqError(f"--minutes must be a positive number of minutes, not {minutes!r}")
    train_cfg = dataclasses.replace(
        previous.config.train, steps=steps,
        minutes=None if minutes is None else meta["elapsed_seconds"] / 60 + minutes)
    config = dataclasses.replace(previous.config, train=train_cfg)
    meta = dict(meta, total_steps=steps, finished=False)
    return dataclasses.replace(previous, config=config, meta=meta)


MACHINE_OPTIONS = ("device", "threads", "precision")  # what a resumed run may change: where it runs, not what it learns


def _moved(previous: Run, machine: dict | None) -> Run:
    """`previous` to go on with the train options in `machine` (device, threads, precision) instead of its stored
    ones, e.g. a run begun on a GPU and continued on a laptop's CPU."""
    if not machine:
        return previous
    unknown = sorted(set(machine) - set(MACHINE_OPTIONS))
    if unknown:
        raise GanvqError(f"a resumed run can change only {', '.join(MACHINE_OPTIONS)}, not {', '.join(unknown)}")
    config = dataclasses.replace(previous.config, train=dataclasses.replace(previous.config.train, **machine))
    return dataclasses.replace(previous, config=config)


def _absolute_data(config):
    """`config` with its data path made absolute where it names a file or folder that exists: later commands (eval,
    audit, report, sample's source.json) read the run's data from anywhere, not only from where training ran."""
    data = getattr(config, "data", None)
    if not isinstance(data, str) or not data.strip():
        return config
    path = Path(data).expanduser()
    if path.is_absolute() or not path.exists():
        return config  # absolute already, or a dataset name
    return dataclasses.replace(config, data=str(path.resolve()))


def run(kind: str, config, out: str | Path, make_task: Callable[[object, Run | None], Task], resume: bool = False,
        quiet: bool = False, steps: int | None = None, minutes: float | None = None,
        machine: dict | None = None) -> dict:
    """Lock run folder `out`, then train `make_task(config, None)` there, or resume the run it holds
    (`make_task(its config, the run)`); returns the final summary.

    A new run writes RUN/config.json (the config as trained: channels and classes follow the data); a
    resumed one keeps the config stored in its checkpoint, with a new length when `steps` (the total to reach)
    or `minutes` (more minutes) is given, which also extends a finished run, and on the machine `machine` gives
    (train options device, threads, precision; those given replace the stored ones). A second process writing `out`
    is refused. From here on SIGINT/SIGTERM save a checkpoint and raise TrainingInterrupted (see train.stop).
    """
    out = Path(out)
    procs = distributed.launched()  # under torchrun rank 0 alone locks and writes the folder
    lock = RunLock(out) if procs.main else contextlib.nullcontext()
    with StopRequests(escalate=not procs.enabled) as stop, lock:
        for stray in out.glob(".*.tmp") if procs.main else ():  # a kill -9 mid-write leaves its temporary file
            stray.unlink(missing_ok=True)
        previous = None
        if resume:
            if not (out / CHECKPOINT).exists():
                raise GanvqError(f"nothing to resume: {out / CHECKPOINT} not found")
            previous = _moved(_extended(open_run(out, kind), steps, minutes), machine)
            if previous.meta.get("finished"):  # e.g. killed after its final save: resuming has nothing to do
                step = previous.meta["step"]
                warn(f"{out} already finished at step {step}: nothing to train; to train longer, resume it with "
                     f"--steps N (the total to reach, above {step}) or --minutes M (more minutes)")
                final = next((r for r in reversed(read_metrics(out)) if "train_seconds" in r), {"step": step})
                return {"run": str(out), "checkpoint": str(out / CHECKPOINT), **final}
            config = previous.config
            if procs.main and (changed := changed_data_note(out, getattr(config, "data", None), resuming=True)):
                warn(changed)
        else:
            if steps is not None or minutes is not None:
                raise GanvqError("steps and minutes change the length of a resumed run; a new run takes them "
                                 "from its config")
            if procs.main:
                _refuse_existing(out)  # before the data is loaded and config.json written
        if config is None:
            raise GanvqError("give a config to train, or resume=True to continue the run in `out`")
        if previous is None:
            config = _absolute_data(config)
        with distributed.session(config.train.device), seeded(config.train):
            task = make_task(config, previous)
            if previous is not None and (steps is not None or minutes is not None):
                refusal = getattr(task, "cannot_extend", lambda run: None)(previous)
                if refusal:  # before config.json is rewritten: a refused extension changes nothing
                    raise GanvqError(f"{out}: {refusal}")
            if procs.main and (previous is None or steps is not None or minutes is not None or machine):
                write_json(out / CONFIG, to_dict(task.config))
            if procs.main and previous is None and (data := data_fingerprint(getattr(task.config, "data", None))):
                write_json(out / DATA_FILE, data)  # to tell later whether the data changed (data.changed_data_note)
            return train(task, task.config.train, out, previous, quiet, stop)


def _fork_rng(task: Task):
    """A fork of torch's RNG (CPU and the task's GPU) around scoring, so scoring never shifts a run's randomness."""
    device = getattr(task, "device", torch.device("cpu"))
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    return torch.random.fork_rng(devices=devices)


def _saved_window(meta: dict) -> list[dict]:
    """The per-step metrics a checkpoint holds since its last metric line ([] in checkpoints from before them)."""
    window = meta.get("window", [])
    if not (isinstance(window, list) and all(
            isinstance(m, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in m.values())
            for m in window)):
        raise GanvqError("checkpoint field 'window' must be a list of objects of numbers; the file is damaged")
    return [dict(m) for m in window]


def _non_finite_weight(task: Task) -> str | None:
    """The first weight (parameter or floating buffer) of the task's modules holding NaN or inf, as module.name, or
    None. An optimiser step can leave weights non-finite under a finite loss (the loss is taken before it)."""
    for name, module in task.modules().items():
        for key, tensor in (*module.named_parameters(), *module.named_buffers()):
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                return f"{name}.{key}"
    return None


class _Interrupt(Exception):
    """A stop request reached a point where the run's state is whole: save it and stop."""


def train(task: Task, cfg: TrainConfig, out: str | Path, previous: Run | None = None, quiet: bool = False,
          stop: StopRequests | None = None) -> dict:
    """Train `task` into run folder `out`, or continue the run `previous` read from there; returns the final summary.

    A checkpoint is written at the start of a new run, every cfg.ckpt_every steps (scored), every
    cfg.ckpt_minutes minutes, at the end, and when SIGINT/SIGTERM arrives (then TrainingInterrupted is raised).
    RUN/metrics.jsonl is first trimmed to the steps the checkpoint holds, so a killed run's log never repeats steps.
    """
    if stop is None:
        with StopRequests() as own:
            return train(task, cfg, out, previous, quiet, own)
    out = Path(out)
    ckpt_path = out / CHECKPOINT
    procs = distributed.current()
    main = procs.main
    stop.notify = main  # from here a signal is answered at once, and honoured once the step in progress ends
    step, elapsed_before, total = 0, 0.0, cfg.steps
    window: list[dict] = []  # per-step metrics since the last metric line (kept in checkpoints)
    pending = False  # a periodic scoring that a signal cut short, done first on resume
    fitted = False  # whether `total` came from the --minutes budget (and is re-fitted as the speed changes)
    if previous is not None:
        restore(task, previous.tensors, previous.meta)
        meta = previous.meta
        step, elapsed_before, total = meta["step"], meta["elapsed_seconds"], meta["total_steps"]
        window, pending = _saved_window(meta), meta.get("score_pending") is True
        # a --minutes run without --steps has a count only once it was fitted to the budget
        fitted = bool(cfg.minutes) and cfg.steps is None and total is not None
        if total is None and cfg.minutes and step > 0 and elapsed_before > 0:
            # extended by --minutes: a first count at the speed so far, so the schedule goes on from where it is
            # rather than at the full rate until this session's timing fits it again
            left = cfg.minutes * 60 - elapsed_before
            total, fitted = step + max(int(left / (elapsed_before / step)), 1), True
    elif main:
        _refuse_existing(out)
        if cfg.steps is not None and cfg.minutes is None and cfg.steps < cfg.learn_steps:
            steps = "1 step is" if cfg.steps == 1 else f"{cfg.steps:,} steps are"
            warn(f"{steps} fewer than the {cfg.learn_steps:,} this recipe needs to learn anything: expect poor results")
    if main:
        out.mkdir(parents=True, exist_ok=True)
        trim_metrics(out, step)

    budget = cfg.minutes * 60 if cfg.minutes else math.inf
    first_group = next(iter(task.optimizers().values())).param_groups[0]
    start_time = time.perf_counter() - elapsed_before
    calib_from = None  # (step, time) when the timed calibration began, then of the last re-fit
    calib_start = None  # (step, time) when the timed calibration began
    first_step = step  # this session's: its timing starts a few steps on (a resumed run is timed afresh)
    proposed = None  # several processes: the step count rank 0 fitted, adopted by all at the next agreement
    agreed_stop = agreed_over = False  # several processes: the last agreement's stop request and budget end

    def elapsed() -> float:
        return time.perf_counter() - start_time

    def calibrate() -> None:
        """With a --minutes budget and no step count yet: time CALIBRATION_STEPS steps, then fix the count; every
        CALIBRATION_STEPS steps after (or every REFIT_SHARE of the budget, when steps are that slow), fit it again
        to their speed, so a machine that speeds up or slows down (other work starting or ending) still trains for
        the whole budget and ends its schedule on time. A count reached with more than REFIT_SHARE of the budget
        left (a slow spell fitted a count that a faster machine since has reached) is fitted again, at the faster
        of the last slice's and the whole calibrated run's speed, rather than ending the run early."""
        nonlocal calib_from, calib_start, total, fitted, proposed
        if not main:
            return  # timing is rank 0's; the others take its step count when they agree
        if (total is None or fitted) and cfg.minutes and calib_from is None and step >= first_step + 3:
            calib_from = calib_start = (step, elapsed())  # skip warm-up steps (allocation, k-means init)
        count = proposed if proposed is not None else total
        early_end = (fitted and count is not None and step >= count and (not cfg.steps or step < cfg.steps)
                     and budget - elapsed() > REFIT_SHARE * budget)
        due = calib_from and (step >= calib_from[0] + CALIBRATION_STEPS  # or, once fitted, a slice of the budget:
                              or fitted and step > calib_from[0] and elapsed() - calib_from[1] >= REFIT_SHARE * budget
                              or early_end)
        if (total is None or fitted) and due:
            rates = [(elapsed() - t0) / (step - s0) for s0, t0 in (calib_from, calib_start) if step > s0]
            per_step = min(rates) if early_end else rates[0]
            new_total = step + max(int((budget - elapsed()) / per_step), 1)
            if cfg.steps:
                new_total = min(new_total, cfg.steps)
            if not fitted and new_total < cfg.learn_steps:
                warn(f"a budget of {format_seconds(budget)} gives about {new_total} steps on this machine "
                     f"({per_step:.2f} s/step), and this recipe needs about {cfg.learn_steps} to learn anything "
                     f"(~{cfg.learn_steps * per_step / 60:.0f} minutes here): expect poor results; give more --minutes")
            note = getattr(task, "budget_note", None)
            if not fitted and not quiet and note is not None and (line := note(new_total)):
                print(f"ganvq: {line}", file=sys.stderr)
            fitted, calib_from = True, (step, elapsed())
            if procs.enabled:
                proposed = new_total
            else:
                total = new_total
            if bar is not None:
                bar.set_total(new_total)

    def agree(metrics: dict[str, float]) -> dict[str, float]:
        """Several processes: one collective that sums stop requests, averages `metrics` over the processes
        (each holds the mean over its slice of the batch) and hands everyone rank 0's budget end and step
        count. One process: `metrics` as they are, and nothing else happens."""
        nonlocal total, agreed_stop, agreed_over
        if not procs.enabled:
            return metrics
        count = proposed if proposed is not None else total
        own = [float(main and elapsed() >= budget), (-1.0 if count is None else float(count)) if main else 0.0]
        values = distributed.agree([float(stop.requested), *own, *metrics.values()])
        agreed_stop, agreed_over = values[0] > 0, values[1] > 0
        total = None if values[2] < 0 else int(values[2])
        return {k: v / procs.world for k, v in zip(metrics, values[3:])}

    def out_of_time() -> bool:
        return agreed_over if procs.enabled else elapsed() >= budget

    def stop_asked() -> bool:
        return agreed_stop if procs.enabled else stop.requested

    saved_step = step if previous is not None else None  # step of the last checkpoint on disk, all of them finite
    saved_at = time.perf_counter()

    def last_good() -> str:
        # Resuming would replay the same steps exactly, so the advice is a new run with other settings.
        if saved_step is None:
            return "no checkpoint was saved yet; start again with a lower learning rate"
        return f"last good checkpoint: {ckpt_path} (step {saved_step}); start again with a lower learning rate"

    checked_step = None  # the step whose weights weights_finite() last found finite

    def weights_finite() -> None:
        # every process holds the same weights, so all of them stop alike. Only a training step changes them, so
        # the scoring and the checkpoint of one step share a single pass over the weights
        nonlocal checked_step
        if checked_step == step:
            return
        if (bad := _non_finite_weight(task)) is not None:
            raise GanvqError(f"training diverged by step {step} (weight {bad} is not finite, though the loss was); "
                             f"{last_good()}")
        checked_step = step

    def save(finished: bool = False) -> None:
        nonlocal saved_step, saved_at
        weights_finite()  # a checkpoint on disk is always one training can go on from
        if main:  # every process holds the same state; rank 0 writes it
            tensors, meta = checkpoint_state(task, {
                "step": step, "total_steps": total, "elapsed_seconds": elapsed(), "finished": finished,
                "window": window, "score_pending": pending})
            try:
                save_checkpoint(ckpt_path, tensors, meta)
            except GanvqError as e:  # e.g. a full disk: the file written before stands whole (atomic writes)
                if saved_step is None:
                    raise
                raise GanvqError(f"{e}; the checkpoint of step {saved_step} stands, and the run can go on from "
                                 f"there once there is room: {resume_hint(_command(task), out)}") from None
        saved_step, saved_at = step, time.perf_counter()

    def score() -> dict | None:
        """task.evaluate(), or None when a stop request came first or cut it short (scoring changes no state)."""
        if stop.requested:
            return None
        modes = {name: m.training for name, m in task.modules().items()}
        try:
            stop.immediate = True
            with _fork_rng(task):
                result = task.evaluate()
            stop.immediate = False
            return result
        except StopScoring:
            for name, module in task.modules().items():
                module.train(modes[name])
            return None
        finally:
            stop.immediate = False

    def score_agreed() -> dict | None:
        """score() on rank 0 (the others score nothing); None on every process when rank 0's was cut short."""
        weights_finite()
        if not procs.enabled:
            return score()
        result = score() if main else {}
        (cut,) = distributed.agree([float(main and result is None)])
        return None if cut > 0 else result

    bar = board = None
    shown: dict[str, object] = {}

    def log(record: dict) -> None:
        if not main:
            return
        append_jsonl(out / METRICS, record)
        if board is not None:
            for key, value in record.items():
                if "/" in key and isinstance(value, (int, float)):
                    board.add_scalar(key, value, record["step"])
        if bar is not None and any(k in record for k in SHOWN):
            shown.update({k.removeprefix("train/"): record[k] for k in SHOWN if k in record})
            bar.set_postfix(shown)

    def close_bar() -> None:
        if bar is not None:
            bar.close()  # idempotent; a closed display still prints notes

    def close_outputs() -> None:
        nonlocal board
        close_bar()
        if board is not None:
            board.close()
            board = None

    def unsaved(what: str) -> TrainingInterrupted:
        signum = stop.signum or signal.SIGINT
        verb = VERBS.get(signum, "interrupted")
        if saved_step is None:
            return TrainingInterrupted(f"{verb} {what}, without saving; no checkpoint was saved yet", signum)
        return TrainingInterrupted(f"{verb} {what}, without saving; the checkpoint of step {saved_step} "
                                   f"can be continued: {resume_hint(_command(task), out)}", signum)

    try:
        bar = _progress(total, step, quiet or not main, _command(task))
        board = _tensorboard(out) if main else None
        if previous is None:
            save()  # step 0: a run is never without a checkpoint to resume
        if pending:
            result = score_agreed()
            if result is None:
                raise _Interrupt
            log({"step": step, **result})
            pending = False
        calibrate()
        agree({})
        schedulers = _schedulers(task, cfg, step, lambda: total)
        spent = getattr(task, "budget_spent", lambda: False)  # a private GAN stops when its ε is spent
        while (total is None or step < total) and not out_of_time() and not spent():
            if stop_asked():
                raise _Interrupt
            try:
                metrics = task.train_step(step)
            except TrainingDiverged as e:
                raise GanvqError(f"training diverged at step {step + 1} ({e}); {last_good()}") from None
            metrics = agree(metrics)
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
            more = total is None or step < total
            if step % cfg.ckpt_every == 0 and more:
                result = score_agreed()
                if result is None:
                    pending = True
                    raise _Interrupt
                log({"step": step, **result})
                save()
            elif more and cfg.ckpt_minutes and time.perf_counter() - saved_at >= cfg.ckpt_minutes * 60:
                save()
            calibrate()
            if procs.enabled and cfg.minutes and total is not None and step >= total and not agreed_over:
                agree({})  # rank 0's count, fitted again at an early end (see calibrate), reaches every process
            with warnings.catch_warnings():  # a GAN step rolled back before any optimizer step: expected
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)` before")
                for scheduler in schedulers:
                    scheduler.step()
        close_bar()  # before the final scoring prints anything
        bar.note(f"step {step}: final scoring and checkpoint")
        if main and cfg.minutes and not fitted and step < cfg.learn_steps:  # the budget ended before calibration did
            warn(f"a budget of {format_seconds(budget)} gave {step} steps on this machine, and this recipe needs about "
                 f"{cfg.learn_steps} to learn anything: expect poor results; give more --minutes")
        if window:
            log({"step": step, "elapsed_seconds": round(elapsed(), 2), **task.summarize(window)})
            window = []
        result = score_agreed()
        if result is None:
            raise _Interrupt
        train_seconds = elapsed()
        precision = resolve_precision(getattr(task, "device", torch.device("cpu")), cfg.precision)
        final = {"step": step, "train_seconds": round(train_seconds, 2), "precision_used": precision, **result}
        log(final)
        total = step
        save(finished=True)
        if stop.requested:
            raise interrupted(stop.signum, _command(task), out, step, finished=True)
    except _Interrupt:
        close_outputs()
        try:
            save()
        except KeyboardInterrupt:  # a second signal while saving: the checkpoint before stands
            raise unsaved(f"at step {step}") from None
        raise interrupted(stop.signum, _command(task), out, step) from None
    except KeyboardInterrupt:  # a second signal (StopNow), or one raised by the task's own code
        raise unsaved(f"during step {step + 1}") from None
    finally:
        close_outputs()
    return {"run": str(out), "checkpoint": str(ckpt_path), **final}
