"""bench_privacy.py --combine gathers the outputs of invocations run side by side into one file with the bars."""

import json


def _part(path, wall, rows, command):
    path.write_text(json.dumps({"machine": {"cpu": "Test CPU", "threads": 1}, "wall_minutes_this_invocation": wall,
                                "commands": [command], "results": rows}))


def _full(name, accuracy, epsilon=None):
    row = {"name": name, "train_images": 60000, "utility": {"accuracy": accuracy}, "fid": 20.0}
    return {**row, "privacy": {"target_epsilon": epsilon}} if epsilon else row


def test_combine_keeps_both_invocations_rows_and_judges_the_bar(tmp_path, benchmark_module):
    bench = benchmark_module("bench_privacy")
    dp, rest, redo = tmp_path / "dp.json", tmp_path / "rest.json", tmp_path / "redo.json"
    _part(dp, 50.0, [_full("full-dp-eps10", 0.70, 10.0)], "bench_privacy.py --no-nonprivate")
    _part(rest, 40.0, [_full("full-nonprivate", 0.80)], "bench_privacy.py --epsilons")
    _part(redo, 55.0, [_full("full-dp-eps10", 0.76, 10.0)], "bench_privacy.py --no-nonprivate --seed 1")
    rows, machine, wall, commands = bench.combine([str(dp), str(rest)])
    assert [r["name"] for r in rows] == ["full-dp-eps10", "full-nonprivate"]
    assert machine["cpu"] == "Test CPU" and wall == 50.0 and len(commands) == 2
    assert bench.check_bar(rows)["downstream_accuracy_eps10"]["ok"] is False
    rows = bench.combine([str(dp), str(rest), str(redo)])[0]  # a later file's row of the same name wins
    assert [r["utility"]["accuracy"] for r in rows] == [0.76, 0.80]
    assert bench.check_bar(rows)["downstream_accuracy_eps10"]["ok"] is True


def test_full_runs_give_every_n_d_the_same_discriminator_steps(benchmark_module):
    bench = benchmark_module("bench_privacy")
    args = bench.argparse.Namespace(epsilons=[10.0, 1.0], n_d=[5, 20], batch_sizes=None, full_steps=5500,
                                    nonprivate=True, seed=0, d_projection=None, class_loss=None,
                                    d_width=None, dp_clipping=None, suffix="", noise_multiplier=None)
    runs = bench.full_runs(args)
    assert [r[0] for r in runs] == ["full-dp-eps10", "full-dp-eps10-nd20", "full-dp-eps1", "full-dp-eps1-nd20",
                                    "full-nonprivate"]
    assert {n_d * steps for _, _, n_d, _, steps in runs} == {27500}
    args = bench.argparse.Namespace(epsilons=[10.0], n_d=None, batch_sizes=[128, 512], full_steps=5500,
                                    nonprivate=False, seed=1, d_projection=None, class_loss=None, d_width=None,
                                    dp_clipping=None, suffix="", noise_multiplier=None)
    runs = bench.full_runs(args)  # a larger batch: fewer steps, the same images through D; another seed, its name
    assert [(r[0], r[3], r[4]) for r in runs] == [("full-dp-eps10-s1", 128, 5500), ("full-dp-eps10-b512-s1", 512, 1375)]
    args.batch_sizes, args.d_projection = None, "pooled"  # another projection of D's class embedding, its name
    assert [(r[0], r[4]) for r in bench.full_runs(args)] == [("full-dp-eps10-pooled-s1", 5500)]
    args.d_projection, args.class_loss = None, 1.0  # a class loss, its weight in the name
    assert [r[0] for r in bench.full_runs(args)] == ["full-dp-eps10-cls1-s1"]
    config = bench.run_config(None, 10, 10.0, 1, 1, class_loss=1.0)
    assert config.gan.class_loss == 1.0 and config.privacy.epsilon == 10.0
    assert "--class-loss 1 " in bench.command(None, 10, 10.0, 1, 1, bench.Path("x"), None, class_loss=1.0)
    args.class_loss, args.d_width = None, 16  # a narrower D, its width in the name; G keeps the preset's
    assert [r[0] for r in bench.full_runs(args)] == ["full-dp-eps10-dw16-s1"]
    config = bench.run_config(None, 10, 10.0, 1, 1, d_width=16)
    assert (config.model.g_width, config.model.d_width) == (32, 16)
    assert "d_width 16" in bench.command(None, 10, 10.0, 1, 1, bench.Path("x"), None, d_width=16)
    args.d_width, args.dp_clipping, args.suffix = None, "separate", "-fixed"  # the other clipping, a suffix
    assert [r[0] for r in bench.full_runs(args)] == ["full-dp-eps10-sep-fixed-s1"]
    assert bench.run_config(None, 10, 10.0, 1, 1, clipping="separate").privacy.clipping == "separate"
    assert bench.run_config(None, 10, 10.0, 1, 1).privacy.clipping == "pair"
    assert "--dp-clipping separate" in bench.command(None, 10, 10.0, 1, 1, bench.Path("x"), clipping="separate")
    args.dp_clipping, args.epsilons, args.noise_multiplier = None, [1e9], 0.01  # clipping without its noise
    assert [r[0] for r in bench.full_runs(args)] == ["full-dp-eps1e+09-sigma0.01-fixed-s1"]
    assert bench.run_config(None, 10, 1e9, 1, 1, noise=0.01).privacy.noise_multiplier == 0.01
    assert "--dp-noise-multiplier 0.01" in bench.command(None, 10, 1e9, 1, 1, bench.Path("x"), noise=0.01)


def test_the_bar_takes_the_best_private_run_at_epsilon_10_and_names_it(benchmark_module):
    bench = benchmark_module("bench_privacy")
    rows = [_full("full-dp-eps10", 0.70, 10.0), _full("full-dp-eps10-nd20", 0.76, 10.0),
            _full("full-dp-eps1", 0.90, 1.0), _full("full-nonprivate", 0.95)]
    bar = bench.check_bar(rows)["downstream_accuracy_eps10"]
    assert bar["run"] == "full-dp-eps10-nd20" and bar["accuracy"] == 0.76 and bar["ok"] is True
    assert bar["each"] == {"full-dp-eps10": 0.70, "full-dp-eps10-nd20": 0.76}


def test_the_attack_bar_takes_gan_leaks_best_variant_and_holds_every_attack_to_chance_under_dp(benchmark_module):
    bench = benchmark_module("bench_privacy")

    def attacked(name, aucs, private=False):
        attacks = {k: {"auc": v, "tpr_at_1pct_fpr": 0.01} for k, v in aucs.items()}
        return {"name": name, "train_images": 500, "membership": {"attacks": attacks},
                **({"privacy": {"target_epsilon": 10.0}} if private else {})}

    rows = [attacked("overfit", {"logan": 0.70, "gan_leaks": 0.53, "gan_leaks_calibrated": 0.62}),
            attacked("overfit-dp-eps10", {"logan": 0.52, "gan_leaks": 0.50, "gan_leaks_calibrated": 0.56}, True)]
    bar = bench.check_bar(rows)
    assert bar["attacks_work_on_overfit_run"]["ok"] is True  # GAN-Leaks works through its calibrated variant
    assert bar["dp_attacks_near_chance"]["ok"] is False  # the calibrated variant is 0.06 from chance
    rows[0]["membership"]["attacks"]["gan_leaks_calibrated"]["auc"] = 0.59
    assert bench.check_bar(rows)["attacks_work_on_overfit_run"]["ok"] is False


def test_attack_runs_trains_only_the_attacked_runs_asked_for(benchmark_module, monkeypatch, tmp_path):
    bench = benchmark_module("bench_privacy")
    trained = []
    monkeypatch.setattr(bench, "train_row", lambda name, limit, steps, epsilon, *a, **k: (
        trained.append((name, limit, epsilon)) or {"name": name}, tmp_path / name))
    monkeypatch.setattr(bench, "audit_row", lambda row, out, args: row)
    args = bench.argparse.Namespace(attack_images=200, attack_steps=10, seed=0, threads=1, attack_width=32,
                                    attack_runs=["dp"])
    assert [r["name"] for r in bench.attack_part(args, tmp_path)] == ["overfit-dp-eps10"]
    assert trained == [("overfit-dp-eps10", 200, 10.0)]
    args.attack_runs = ["overfit", "dp"]  # the default: both, the overfit one first
    assert [r["name"] for r in bench.attack_part(args, tmp_path)] == ["overfit", "overfit-dp-eps10"]


def test_combined_rows_keep_their_cpu_and_the_table_marks_rows_from_another_machine(tmp_path, benchmark_module):
    bench, table = benchmark_module("bench_privacy"), benchmark_module("table")
    run = {"train_images": 60000, "generator_steps": 10, "discriminator_steps": 50, "minutes": 1.0, "clipping": "pair",
           "seconds_per_generator_step": 6.0, "load_average_before": [1.0], "load_average_after": [2.0],
           "privacy": {"epsilon": 9.9, "target_epsilon": 10.0, "delta": 1e-5, "noise_multiplier": 0.5,
                       "sample_rate": 0.002}}
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    _part(here, 5.0, [{**run, "name": "full-dp-eps10"}], "bench_privacy.py")
    there.write_text(json.dumps({"machine": {"cpu": "Other CPU", "threads": 1}, "wall_minutes_this_invocation": 5.0,
                                 "results": [{**run, "name": "full-dp-eps10-b256"}]}))
    rows, machine, _, _ = bench.combine([str(here), str(there)])
    assert [r["cpu"] for r in rows] == ["Test CPU", "Other CPU"] and machine["cpu"] == "Test CPU"
    out = tmp_path / "privacy.json"
    out.write_text(json.dumps({"machine": machine, "results": rows, "preset": "dp-fmnist", "samples_per_run": 100}))
    text = table.privacy_table(out)
    assert "| full-dp-eps10 |" in text and "| full-dp-eps10-b256‡ |" in text
    assert "‡ Trained and scored on CPU Other CPU instead" in text
    rows[1]["cpu"] = "Test CPU"  # all on the file's machine: no mark, no footnote
    out.write_text(json.dumps({"machine": machine, "results": rows, "preset": "dp-fmnist", "samples_per_run": 100}))
    assert "‡" not in table.privacy_table(out)
