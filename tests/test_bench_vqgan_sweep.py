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
        if seed == 1:  # scored on Inception-v3 too
            rows = [{**rows[0], "recon_fid_inception": 30.0}, {**rows[1], "recon_fid_inception": 28.5}]
        (tmp_path / f"rec-seed{seed}.json").write_text(json.dumps({"bar": bar, "results": rows}))
    (tmp_path / "other-seed0.json").write_text(json.dumps({"bar": bar, "results": []}))  # another recipe: left out
    text = table.vqgan_seeds_table(tmp_path / "rec-seed1.json")
    assert "| 7x7 | 0 | 100 | 2.00 / 24.00 | 100 | 0.80 / 23.50 | 0.400 | 0.50 | met |" in text
    assert "| 7x7 | 1 | 100 | 2.00 / 24.00 | 100 | 1.00 / 22.50 | 0.500 | 1.50 | **not met** |" in text
    assert ("7x7: the bar is met on 1 of 2 seeds; mean FID ratio 0.450, mean PSNR drop 1.00 dB. On Inception-v3 "
            "(seed 1): FID ratio 0.950.") in text


def test_sweep_shows_the_inception_fid_where_a_run_was_scored_on_it(tmp_path, benchmark_module):
    collect = benchmark_module("collect_vqgan_sweep")
    table = benchmark_module("table")
    a = tmp_path / "a.json"
    _bench_json(a, "python benchmarks/bench_vqgan.py --minutes 5 --sizes 7x7 --inception-images 2000",
                [_row("vqvae", 2.0), {**_row("vqgan", 1.0), "recon_fid_inception": 33.5, "inception_images": 2000}])
    out = tmp_path / "sweep.json"
    out.write_text(json.dumps(collect.collect([a])))
    text = table.vqgan_sweep_table(out)
    assert "over the first 2,000 test images" in text
    assert "| 0.2 | — | fp32 | 2.00 | — | 20.00 | 0.800 |" in text.replace("0.200", "0.2")  # not scored: a dash
    assert "| fp32 | 1.00 | 33.50 | 20.00 | 0.800 |" in text


def _pair(source, latent, cnn, inception, drop=0.5):
    return {"source": source, "latent": latent, "seed": "0", "minutes_per_model": 5, "psnr_drop_db_10k": drop,
            "fid_ratio_cnn_10k": cnn, "fid_ratio_cnn": cnn, "fid_ratio_inception": inception,
            "vqvae": {"steps": 1000, "fid_inception": 30.0}, "vqgan": {"steps": 900, "fid_inception": 30.0 * inception}}


def test_extractors_table_sets_each_pair_on_both_networks_and_averages_per_size(tmp_path, benchmark_module):
    table = benchmark_module("table")
    path = tmp_path / "vqgan-extractors.json"
    path.write_text(json.dumps({
        "command": "python benchmarks/bench_vqgan_extractors.py a.json b.json", "machine": {"cpu": "Test CPU"},
        "measured": "2026-12-04", "method": "the method", "bar": {"fid_ratio_max": 0.5},
        "pairs": [_pair("a.json", "7x7", 0.4, 0.9), _pair("b.json", "7x7", 0.5, 1.1),
                  _pair("c.json", "14x14", 0.8, 0.95)],
        "skipped": ["d.json 7x7: runs/x is not on disk"]}))
    text = table.vqgan_extractors_table(path)
    assert "| `a.json` | 7x7 | 0 | 5 | 1,000 / 900 | 0.50 | 0.400 | 0.400 | 30.00 / 27.00 | 0.900 |" in text
    assert ("7x7: 2 pairs; mean FID ratio 0.450 on the CNN, 1.000 on Inception-v3; the VQGAN's Inception FID is the "
            "lower on 1 of 2.") in text
    assert "14x14: 1 pair; mean FID ratio 0.800 on the CNN, 0.950 on Inception-v3" in text
    assert text.endswith("Skipped: d.json 7x7: runs/x is not on disk.")


def test_the_bar_line_adds_the_inception_ratio_when_both_models_were_scored_on_it(tmp_path, benchmark_module):
    table = benchmark_module("table")
    vqgan = {"loss": "hinge", "disc_weight": 0.1, "adaptive": True, "disc_start": 2000, "perceptual": "auto",
             "perceptual_weight": 0.03, "d_width": 32, "d_norm": "sn"}
    rows = [{**_row("vqvae", 2.0), "preset": "fmnist-7x7", "test_psnr_db": 24.0, "perplexity": 300.0,
             "recon_fid_inception": 34.0, "inception_images": 2000, "around_disc_start": []},
            {**_row("vqgan", 0.8), "preset": "fmnist-7x7", "test_psnr_db": 23.5, "perplexity": 300.0,
             "recon_fid_inception": 35.7, "inception_images": 2000, "vqgan": vqgan, "around_disc_start": []}]
    path = tmp_path / "v.json"
    _bench_json(path, "python benchmarks/bench_vqgan.py --inception-images 2000", rows)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "bar": {"fid_ratio_max": 0.5, "psnr_drop_max_db": 1.0}, "wall_minutes": 11}))
    text = table.vqgan_table(path)
    assert "recon FID 0.80 / 2.00 = 0.400 (≤ 0.5), PSNR 0.50 dB lower (≤ 1): met (on Inception-v3, which no loss " \
           "sees, first 2,000 test images: 35.70 / 34.00 = 1.050)" in text


def test_sweep_names_a_step_budget_beside_the_minutes(tmp_path, benchmark_module):
    collect = benchmark_module("collect_vqgan_sweep")
    table = benchmark_module("table")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _bench_json(a, "python benchmarks/bench_vqgan.py --minutes 5 --sizes 7x7", [_row("vqgan", 1.0)])
    _bench_json(b, "python benchmarks/bench_vqgan.py --steps 100 --sizes 7x7 --only vqgan", [_row("vqgan", 1.5)])
    data = json.loads(b.read_text())
    b.write_text(json.dumps({**data, "minutes_per_model": None}))  # what bench_vqgan.py --steps writes
    out = tmp_path / "sweep.json"
    out.write_text(json.dumps(collect.collect([a, b])))
    assert ("5 minutes of training per model (where a command says `--steps N`: N steps) on 1 thread"
            in table.vqgan_sweep_table(out))


def test_a_pair_run_as_two_invocations_is_joined_with_its_comparison(tmp_path, benchmark_module):
    bench = benchmark_module("bench_vqgan")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _bench_json(a, "python benchmarks/bench_vqgan.py --minutes 40 --only vqvae", [_row("vqvae", 0.2)])
    _bench_json(b, "python benchmarks/bench_vqgan.py --minutes 40 --only vqgan", [{**_row("vqgan", 0.09),
                                                                                "test_psnr_db": 19.5}])
    data = bench.combine(a, b, tmp_path / "pair.json")
    assert json.loads((tmp_path / "pair.json").read_text()) == data
    assert [r["model"] for r in data["results"]] == ["vqvae", "vqgan"] and len(data["commands"]) == 2
    assert data["comparisons"] == [{"latent": "7x7", "fid_ratio_vqgan_over_vqvae": 0.45, "psnr_drop_db": 0.5,
                                    "steps": [100, 100], "meets_bar": True}]


def test_combine_joins_a_pair_and_says_how_the_two_ran(tmp_path, benchmark_module):
    """--combine joins a VQ-VAE's and a VQGAN's --only files into one pair with the bar's comparison; --apart records
    that the two did not run at once, and how each ran, which table.py then says instead of "both at once"."""
    bench = benchmark_module("bench_vqgan")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _bench_json(a, "bench_vqgan.py --only vqvae", [{**_row("vqvae", 2.0), "test_psnr_db": 24.0}])
    _bench_json(b, "bench_vqgan.py --only vqgan", [{**_row("vqgan", 0.9), "test_psnr_db": 23.5}])
    together = bench.combine(a, b, tmp_path / "pair.json")
    assert together["run_together"] and "run_apart" not in together
    assert together["commands"] == ["bench_vqgan.py --only vqvae", "bench_vqgan.py --only vqgan"]
    (comparison,) = together["comparisons"]
    assert comparison["fid_ratio_vqgan_over_vqvae"] == 0.45 and comparison["psnr_drop_db"] == 0.5
    apart = bench.combine(a, b, tmp_path / "apart.json", apart="each beside another training")
    assert apart["run_apart"] == "each beside another training" and "run_together" not in apart
    assert json.loads((tmp_path / "apart.json").read_text())["run_apart"] == "each beside another training"


def test_long_table_sets_d_against_no_d_and_dashes_a_network_not_scored(tmp_path, benchmark_module):
    table = benchmark_module("table")

    def row(model, fid, psnr, start=None, around=()):
        r = {"model": model, "steps": 3000, "seconds_per_step": 0.7, "recon_fid": fid, "test_psnr_db": psnr,
             "test_ssim": 0.97, "codes_used": 512, "codebook_size": 512}
        return r if start is None else {**r, "vqgan": {"disc_start": start},
                                        "around_disc_start": [{"step": s, "psnr": p} for s, p in around]}

    common = {"machine": {"cpu": "Test CPU", "threads": 1}, "minutes_per_model": 40.0, "recon_fid_definition": "FID"}
    path = tmp_path / "long-seed1.json"
    path.write_text(json.dumps({**common, "commands": ["python bench_vqgan.py --only vqvae"], "results": [
        row("vqvae", 0.1, 32.5), row("vqgan", 0.04, 32.0, 2000, [(1950, 31.0), (2100, 30.5)])]}))
    (tmp_path / "longnod-seed1.json").write_text(json.dumps({**common, "commands": ["x"], "results": [
        row("vqgan", 0.05, 32.1, 100000, [(1950, 31.0), (2100, 31.0)])]}))
    text = table.vqgan_long_table(path)
    assert "not scored in these runs (—)" in text
    assert "| 1 | VQGAN, D joins | 3,000 | 1,000 | 0.700 | 0.04 | — | 32.00 | 0.970 | 512 / 512 |" in text
    assert "| 1 | VQGAN, no D | 3,000 | — | 0.700 | 0.05 | — | 32.10 | 0.970 | 512 / 512 |" in text
    assert "CNN FID ratio 0.400, PSNR 0.50 dB lower; the bar (CNN ratio ≤ 0.5, ≤ 1 dB lower) is met on 1 of 1." \
        in text
    assert "Seed 1, with D over without: CNN FID ratio 0.800, test PSNR -0.10 dB" in text
    assert "over steps 2,001–2,200: -0.50 dB" in text
