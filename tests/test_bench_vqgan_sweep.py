"""collect_vqgan_sweep.py gathers bench_vqgan.py outputs into one JSON, and table.py renders it with each row's settings."""

import json


def _bench_json(path, command, rows):
    path.write_text(json.dumps({
        "dataset": "fashion-mnist", "recon_fid_definition": "FID", "psnr_definition": "PSNR", "caveat": "caveat",
        "commands": [command], "minutes_per_model": 5, "machine": {"cpu": "Test CPU", "threads": 1}, "results": rows}))


def _row(model, fid):
    return {"model": model, "latent": "7x7", "steps": 100, "seconds_per_step": 0.2, "precision_used": "fp32",
            "recon_fid": fid, "test_psnr_db": 20.0, "test_ssim": 0.8, "codes_used": 500, "codebook_size": 512,
            "around_disc_start": [{"step": 1}]}


def test_sweep_keeps_every_row_with_its_command_and_renders_the_settings(tmp_path, benchmark_module):
    collect = benchmark_module("collect_vqgan_sweep")
    table = benchmark_module("table")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _bench_json(a, "python benchmarks/bench_vqgan.py --minutes 5 --sizes 7x7", [_row("vqvae", 2.0), _row("vqgan", 1.0)])
    _bench_json(b, "python benchmarks/bench_vqgan.py --minutes 5 --sizes 7x7 --set perceptual_weight=0.03 "
                   "--set disc_start=2000 --only vqgan --seed 1", [_row("vqgan", 1.5)])
    data = collect.collect([a, b])
    assert [(r["file"], r["model"], r["recon_fid"]) for r in data["rows"]] == [
        ("a.json", "vqvae", 2.0), ("a.json", "vqgan", 1.0), ("b.json", "vqgan", 1.5)]
    assert "around_disc_start" not in data["rows"][0]  # the per-step log stays in the source files
    out = tmp_path / "sweep.json"
    out.write_text(json.dumps(data))
    text = table.vqgan_sweep_table(out)
    assert "| `b.json` | 7x7 | vqgan | 1 | `perceptual_weight=0.03 disc_start=2000` | 100 |" in text
    assert "| `a.json` | 7x7 | vqgan | 0 | preset | 100 |" in text  # no --seed: bench_vqgan's default, 0
    assert "| `a.json` | 7x7 | vqvae | 0 | — | 100 |" in text


def test_seeds_table_judges_each_seed_and_counts_them(tmp_path, benchmark_module):
    table = benchmark_module("table")
    bar = {"fid_ratio_max": 0.5, "psnr_drop_max_db": 1.0}
    for seed, (fid, psnr) in enumerate([(0.8, 23.5), (1.0, 22.5)]):  # seed 1: ratio 0.5 but 1.5 dB lower
        rows = [{**_row("vqvae", 2.0), "test_psnr_db": 24.0}, {**_row("vqgan", fid), "test_psnr_db": psnr}]
        (tmp_path / f"rec-seed{seed}.json").write_text(json.dumps({"bar": bar, "results": rows}))
    (tmp_path / "other-seed0.json").write_text(json.dumps({"bar": bar, "results": []}))  # another recipe: left out
    text = table.vqgan_seeds_table(tmp_path / "rec-seed1.json")
    assert "| 7x7 | 0 | 100 | 2.00 / 24.00 | 100 | 0.80 / 23.50 | 0.400 | 0.50 | met |" in text
    assert "| 7x7 | 1 | 100 | 2.00 / 24.00 | 100 | 1.00 / 22.50 | 0.500 | 1.50 | **not met** |" in text
    assert "7x7: the bar is met on 1 of 2 seeds; mean FID ratio 0.450, mean PSNR drop 1.00 dB." in text
