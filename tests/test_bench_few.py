"""The small-data benchmark's bars, and its smoke mode end to end."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_few.py"


def _row(config, fid, seed, gain=None):
    utility = None if gain is None else {"real": {"accuracy": 0.6}, "real_plus_synthetic": {"accuracy": 0.6 + gain / 100},
                                         "synthetic": {"accuracy": 0.5}, "gain_points": gain}
    return {"config": config, "train_images": 100, "seed": seed, "fid": fid, "precision": 0.5, "recall": 0.5,
            "generator_steps": 10, "memorization": {"median_ratio": 1.0}, "utility": utility}


def test_the_fid_bar_needs_a_ratio_of_0_7_and_a_gap_beyond_the_seed_spread(benchmark_module):
    bench = benchmark_module("bench_few")
    rows = [_row("few-100", f, s, 2.0) for s, f in enumerate([5.0, 5.5, 6.0])]
    rows += [_row("no-augmentation", f, s, 0.0) for s, f in enumerate([10.0, 9.0, 11.0])]
    bar = bench.check_bar(rows)
    ratio, gap = bar["fid_at_most_0.7_of_no_augmentation"], bar["fid_gap_larger_than_seed_spread"]
    assert ratio["config"] == "few-100" and ratio["mean"] == 5.5 and ratio["no_augmentation"] == 10.0 and ratio["ok"]
    assert gap["gap"] == 4.5 and gap["spread"] == 2.0 and gap["ok"]
    assert bar["utility_real_plus_synthetic_beats_real_by_1_point"]["mean"] == 2.0 and bar["all_ok"]
    rows[0], rows[2] = _row("few-100", 1.0, 0, 0.5), _row("few-100", 9.0, 2, 2.0)  # mean 5.17, but a range of 8
    bar = bench.check_bar(rows)
    assert bar["fid_at_most_0.7_of_no_augmentation"]["ok"] and not bar["fid_gap_larger_than_seed_spread"]["ok"]
    assert bar["utility_real_plus_synthetic_beats_real_by_1_point"]["mean"] == pytest.approx(1.5)
    rows = [_row("few-100", 8.0, 0, 0.9), _row("no-augmentation", 10.0, 0), _row("lecam-1", 6.0, 0, 3.0)]
    bar = bench.check_bar(rows)
    other = bar["other_configs_fid_against_no_augmentation"]  # listed beside the bars, not one of them
    assert list(other) == ["lecam-1"] and other["lecam-1"]["ratio"] == 0.6 and other["lecam-1"]["seeds"] == [0]
    assert not bar["fid_at_most_0.7_of_no_augmentation"]["ok"] and not bar["fid_gap_larger_than_seed_spread"]["ok"]
    assert not bar["utility_real_plus_synthetic_beats_real_by_1_point"]["ok"] and not bar["all_ok"]
    # a configuration with its own counterpart without augmentation is set against that one, and the counterpart
    # itself is no candidate; nor is the textbook DCGAN, which the table shows beside the preset
    rows += [_row("wide", 4.0, 0), _row("wide-no-augmentation", 5.0, 0), _row("textbook", 14.0, 0)]
    other = bench.check_bar(rows)["other_configs_fid_against_no_augmentation"]
    assert list(other) == ["lecam-1", "wide"] and other["wide"]["ratio"] == 0.8
    assert other["wide"]["against"] == "wide-no-augmentation" and "against" not in other["lecam-1"]
    # with rows of the preset's configuration the bars are its own, against its counterpart, and `few-100` (the
    # preset before) is one of the others
    preset, plain = bench.PRESET_CONFIG, bench.PLAIN[bench.PRESET_CONFIG]
    rows += [_row(preset, 3.0, 0, 1.5), _row(plain, 6.0, 0)]
    bar = bench.check_bar(rows)
    ratio = bar["fid_at_most_0.7_of_no_augmentation"]
    assert (ratio["config"], ratio["against"], ratio["ratio"], ratio["ok"]) == (preset, plain, 0.5, True)
    assert bar["utility_real_plus_synthetic_beats_real_by_1_point"]["config"] == preset
    assert bar["other_configs_fid_against_no_augmentation"]["few-100"]["ratio"] == 0.8


def test_the_runs_compared_differ_only_in_what_the_benchmark_compares(benchmark_module):
    bench = benchmark_module("bench_few")
    few, plain = bench.run_config("few-100", 100, 1), bench.run_config("no-augmentation", 100, 1)
    textbook = bench.run_config("textbook", 100, 1)
    assert few.gan.diffaugment and not plain.gan.diffaugment and few.model == plain.model
    assert dict(vars(few.gan), diffaugment="") == vars(plain.gan)
    assert {c.subset for c in (few, plain, textbook)} == {100} and textbook.gan.loss == "non-saturating"
    assert {c.train.threads for c in (few, plain, textbook)} == {1}
    wide, wide_plain = bench.run_config("wide", 100, 1), bench.run_config("wide-no-augmentation", 100, 1)
    assert wide.model == wide_plain.model != few.model and wide.model.d_width == 64 and wide.gan == few.gan
    assert wide_plain.gan == plain.gan
    b32, b32_plain = bench.run_config("batch-32", 100, 1), bench.run_config("batch-32-no-augmentation", 100, 1)
    assert b32.train.batch_size == b32_plain.train.batch_size == 32 != few.train.batch_size
    assert dict(vars(b32.train), batch_size=few.train.batch_size) == vars(few.train) and b32.gan == few.gan
    assert b32_plain.gan == plain.gan and b32.model == few.model


def test_the_preset_configuration_is_the_preset_and_few_100_the_one_before(benchmark_module):
    from ganvq.runs import gan_preset

    bench = benchmark_module("bench_few")
    preset, run = gan_preset("few-100"), bench.run_config(bench.PRESET_CONFIG, 100, 1)
    assert run.model == preset.model
    assert dataclasses.replace(run.gan, sample_every=preset.gan.sample_every) == preset.gan
    bench_only = ("steps", "minutes", "seed", "ckpt_every", "ckpt_minutes", "threads")  # the benchmark's own settings
    assert dataclasses.replace(run.train, **{k: getattr(preset.train, k) for k in bench_only}) == preset.train
    before = bench.run_config("few-100", 100, 1)  # the preset until 2026-12-06: DiffAugment alone at batch 64
    assert (before.train.batch_size, before.gan.lecam_weight) == (64, 0.0) and before.gan.diffaugment


def test_quick_mode_trains_scores_and_writes_every_column(tmp_path, benchmark_module):
    bench = benchmark_module("bench_few")
    out = tmp_path / "few.json"
    subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(out), "--workdir", str(tmp_path / "runs")],
                   check=True, capture_output=True, timeout=600)
    doc = json.loads(out.read_text())
    assert doc["quick"] and {r["config"] for r in doc["results"]} == set(bench.DEFAULT_CONFIGS)
    for row in doc["results"]:
        assert row["first_leg_steps"] == 2 and row["generator_steps"] == 4  # the second leg resumed the first
        assert row["fid"] > 0 and row["memorization"]["training_images"] == 20
        assert row["memorization_shifted"]["shift_pixels"] == 2 and row["memorization_shifted"]["median_ratio"] > 0
        assert row["load_average_before"] and row["machine"]["cpu"]
        assert (row["utility"] is None) == (row["config"] == "textbook")
    assert (tmp_path / "few_real-20.png").is_file()
    assert (tmp_path / f"few_samples-20_{bench.PRESET_CONFIG}.png").is_file()
    assert "fid_at_most_0.7_of_no_augmentation" in doc["bar"] and doc["summary"]

    # the yardsticks join the same JSON, and a later write of its runs keeps them
    subprocess.run([sys.executable, str(BENCH), "--quick", "--references", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    refs = json.loads(out.read_text())["references"]
    (copies,) = refs["subsets"]
    assert copies["train_images"] == 20 and copies["repeats"] == 5 and copies["fid"] > 0 and refs["samples"] == 100
    assert [c["pixels"] for c in copies["shifted_copies"]] == [1, 2, 3]
    assert all(c["fid"] > 0 and c["fid"] != copies["fid"] for c in copies["shifted_copies"])
    assert refs["other_training_images"]["images"] == 100 and refs["other_training_images"]["fid"] > 0
    subprocess.run([sys.executable, str(BENCH), "--quick", "--combine", str(out), "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    assert json.loads(out.read_text())["references"] == refs

    # the filtering benchmark reads such a run: libraries of n images, equal per class, from a pool of 2n
    filtered = tmp_path / "few_filter.json"
    run = tmp_path / "runs" / f"20-{bench.PRESET_CONFIG}-seed0"
    subprocess.run([sys.executable, str(BENCH.with_name("bench_few_filter.py")), str(run), "--n", "20",
                    "--oversample", "2", "--steps", "2", "--out", str(filtered)],
                   check=True, capture_output=True, timeout=600)
    row = json.loads(filtered.read_text())["results"][0]
    assert row["config"] == bench.PRESET_CONFIG and row["size"] == 20 and row["pool"] == 40
    assert row["d_membership_auc"]["per_side"] == 20 and 0 <= row["d_membership_auc"]["logan"] <= 1
    none = row["filters"]["none"]
    assert none["agreement"] == 1.0 and none["library"] == 20
    for f in row["filters"].values():
        assert 0 <= f["agreement"] <= 1 and f["library"] <= 20 and 0 <= f["accuracy"] <= 1

    # and so does the truncation benchmark: one score per truncation, the plain prior's being bench_few's samples
    truncated = tmp_path / "few_truncation.json"
    subprocess.run([sys.executable, str(BENCH.with_name("bench_few_truncation.py")), str(run), "--samples", "100",
                    "--test-limit", "100", "--truncations", "none", "1", "--threads", "1", "--out", str(truncated)],
                   check=True, capture_output=True, timeout=600)
    (row,) = json.loads(truncated.read_text())["results"]
    assert row["config"] == bench.PRESET_CONFIG and [r["truncation"] for r in row["by_truncation"]] == [None, 1.0]
    assert all(r["fid"] > 0 and 0 <= r["precision"] <= 1 for r in row["by_truncation"])
    assert row["by_truncation"][0]["fid"] != row["by_truncation"][1]["fid"]


def test_the_shift_aware_audit_calls_shifted_copies_copies_and_test_images_new(benchmark_module):
    import torch

    bench = benchmark_module("bench_few")
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (10, 1, 12, 12), generator=g, dtype=torch.uint8)
    test = torch.randint(0, 256, (50, 1, 12, 12), generator=g, dtype=torch.uint8)
    moved = train.roll(1, dims=3)  # each image one pixel to the right: far in plain pixel distance
    moved[..., 0] = train[..., 0]  # the uncovered column repeats the edge, as the audit's shifts fill it
    audit = bench.shift_aware_audit(moved, train, test)
    assert audit["median_ratio"] < 0.01 and audit["closer_than_every_test_fraction"] == 1.0  # 0 but for rounding
    assert 0.95 < bench.shift_aware_audit(test[:25], train, test[25:])["median_ratio"] < 1.05  # new images: as far
