"""The GAN benchmark's bar check on the limited-data rows."""


def _row(name, preset, fid, seed=0):
    return {"name": name, "preset": preset, "fid": fid, "seed": seed}


def test_diffaugment_must_lower_the_little_data_presets_fid_and_beat_the_best_preset_without_it(benchmark_module):
    bench = benchmark_module("bench_gan")
    rows = [_row("few", "fmnist-few", 4.0), _row("few-diffaugment", "fmnist-few", 3.5), _row("limited", "fmnist-best", 4.4)]
    bar = bench.check_bar(rows)
    assert bar["diffaugment_lowers_limited_data_fid"] == {"preset": "fmnist-few", "seeds": [0], "without": 4.0,
                                                          "with": 3.5, "without_each": [4.0], "with_each": [3.5],
                                                          "ok": True}
    assert bar["diffaugment_beats_best_preset_without"]["ok"] and bar["all_ok"]
    rows[2] = _row("limited", "fmnist-best", 3.4)  # lower than with DiffAugment: the gain is only over a weaker model
    assert not bench.check_bar(rows)["diffaugment_beats_best_preset_without"]["ok"]
    rows[1] = _row("few-diffaugment", "fmnist-few", 4.1)
    bar = bench.check_bar(rows)
    assert not bar["diffaugment_lowers_limited_data_fid"]["ok"] and not bar["all_ok"]


def test_the_diffaugment_checks_compare_means_over_the_seeds_both_runs_have(benchmark_module):
    bench = benchmark_module("bench_gan")
    rows = [_row("few", "fmnist-few", 4.0, 0), _row("few", "fmnist-few", 3.0, 1), _row("few", "fmnist-few", 9.0, 2),
            _row("few-diffaugment", "fmnist-few", 3.2, 1), _row("few-diffaugment", "fmnist-few", 3.9, 0),
            _row("limited", "fmnist-best", 5.0, 0), _row("limited", "fmnist-best", 3.0, 1)]
    check = bench.check_bar(rows)["diffaugment_lowers_limited_data_fid"]
    # seed 2 has no DiffAugment twin, so it is left out: means 3.5 without, 3.55 with
    assert check["seeds"] == [0, 1] and check["without_each"] == [4.0, 3.0] and check["with_each"] == [3.9, 3.2]
    assert check["without"] == 3.5 and abs(check["with"] - 3.55) < 1e-12 and not check["ok"]
    best = bench.check_bar(rows)["diffaugment_beats_best_preset_without"]
    assert best["seeds"] == [0, 1] and best["without"] == 4.0 and best["ok"]


def test_the_benchmark_trains_the_little_data_preset_with_a_mild_translation_and_without_any(benchmark_module):
    bench = benchmark_module("bench_gan")
    with_, without = bench.run_config("few-diffaugment", 5, 0), bench.run_config("few", 5, 0)
    assert (with_.gan.diffaugment, with_.gan.diffaugment_shift, with_.gan.diffaugment_fill) == ("translation", 1 / 16,
                                                                                             "edge")
    assert without.gan.diffaugment == "" and without.model == with_.model
    assert with_.limit == without.limit == 1000 and with_.train.minutes == 5 and with_.train.steps is None
