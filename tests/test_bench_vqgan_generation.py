"""bench_vqgan_generation.py's prior options (--prior-set) and its table: one verdict per sampling temperature."""

import json


def test_prior_set_options_become_a_nested_config_layer(benchmark_module):
    bench = benchmark_module("bench_vqgan_generation")
    assert bench._nested(["train.lr=0.003", "train.warmup_steps=20", "model.dropout=0", "model.arch=local"]) == {
        "train": {"lr": 0.003, "warmup_steps": 20}, "model": {"dropout": 0, "arch": "local"}}


def _route(fid, recall, **extra):
    return {"total_minutes": 8, "fid": fid, "kid_mean": 0.04, "precision": 0.86, "recall": recall, "density": 0.7,
            "coverage": 0.4, "class_coverage": 10, "label_entropy": 2.3,
            "memorization": {"median_ratio": 1.1, "closer_than_test_q0.01_fraction": 0.0}, **extra}


PRIOR = {"prior_steps": 400, "prior_train_seconds": 180, "vqgan_minutes": 5, "vqgan_steps": 1500}


def _write(path, command, results, **extra):
    """A bench_vqgan_generation.py result file with `results` (route name -> row) and any further keys."""
    path.write_text(json.dumps({
        "commands": [command], "samples": 5000, "threads": 1, "features": "ganvq-fmnist-cnn-v1",
        "machine": {"cpu": "Test CPU"}, "bar": {"fid_ratio_max": 1.5}, "results": results, **extra}))
    return path


def test_the_table_judges_each_temperature_against_the_gan(tmp_path, benchmark_module):
    table = benchmark_module("table")
    results = {"vqgan+prior T=1": _route(4.0, 0.75, temperature=1.0, **PRIOR),
               "vqgan+prior T=0.9": _route(5.0, 0.72, temperature=0.9, **PRIOR),
               "gan fmnist-best": _route(3.0, 0.70, steps=5000, train_seconds=480)}
    path = _write(tmp_path / "vqgan-generation.json", "python benchmarks/bench_vqgan_generation.py", results,
                  prior_config_changes=["train.lr=0.003"],
                  judged={"vqgan+prior T=1": {"meets_bar": True}, "vqgan+prior T=0.9": {"meets_bar": False}})
    text = table.vqgan_generation_table(path)
    assert "VQGAN 5 min (1,500 steps), then prior 400 steps in 3.0 min, sampled at temperature 0.9" in text
    assert "vqgan+prior T=1: FID 4.00 within 1.5 × the GAN's 3.00 (×1.33): met; recall 0.750" in text
    assert "vqgan+prior T=0.9: FID 5.00 within 1.5 × the GAN's 3.00 (×1.67): **not met**" in text
    assert "(the JSON records" not in text  # each stored verdict agrees with the one computed here
    assert "the library's default with `train.lr=0.003`" in text


def test_an_ablation_without_the_gan_renders_without_a_bar(tmp_path, benchmark_module):
    table = benchmark_module("table")
    path = _write(tmp_path / "ablation.json", "python benchmarks/bench_vqgan_generation.py --no-gan",
                  {"vqvae+prior T=1": _route(6.0, 0.7, temperature=1.0, **PRIOR)}, judged={}, meets_bar=None)
    text = table.vqgan_generation_table(path)
    assert "| vqvae+prior T=1 | VQ-VAE 5 min (1,500 steps), then prior 400 steps" in text
    assert text.endswith("No GAN in this run (an ablation of the route through codes): no bar.")


def test_the_table_adds_each_routes_inception_fid_when_scored(tmp_path, benchmark_module):
    table = benchmark_module("table")
    results = {"vqgan+prior T=1": _route(4.0, 0.75, temperature=1.0, fid_inception=47.4, inception_images=2000,
                                         **PRIOR),
               "gan fmnist-best": _route(3.0, 0.70, steps=5000, train_seconds=480, fid_inception=36.8,
                                         inception_images=2000)}
    path = _write(tmp_path / "gen.json", "python benchmarks/bench_vqgan_generation.py --inception 2000", results,
                  judged={"vqgan+prior T=1": {"meets_bar": True}})
    text = table.vqgan_generation_table(path)
    assert "(the first 2,000 samples, classes in turn" in text
    assert "vqgan+prior T=1 47.40; gan fmnist-best 36.80." in text
