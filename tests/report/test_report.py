"""`ganvq report` for every run kind and for a comparison, read from the run's own files, and shown in a real
browser: every image loads, none is wider than a 1,280 px window, and the console stays silent."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ganvq.cli import main
from ganvq.commands.evaluate import eval_vqvae
from ganvq.commands.report import report
from ganvq.report.charts import Series, ema, line_chart, nice_ticks
from ganvq.report.names import format_value, metric
from ganvq.report.pictures import atlas_with_counts, display_scale


def _copy(run, tmp_path, name):
    """A private copy of a session-wide run folder: a report's eval files must not leak into other tests."""
    return shutil.copytree(run, tmp_path / name)


def _values(page: str) -> dict[str, str]:
    """data-key -> data-value of every score cell on a page."""
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', page))


@pytest.fixture(scope="module")
def tiny_gan_run(tmp_path_factory):
    """A conditional tiny GAN trained 6 steps, with an eval-gan.json as `ganvq eval gan` writes it (made up
    numbers: scoring for real needs the whole Fashion-MNIST reference) and its closest-pairs picture."""
    import torch

    from ganvq.models.gan import GANConfig
    from ganvq.runs import GANOptions, GANRunConfig, TrainConfig
    from ganvq.train.gan import train_gan

    model = GANConfig(arch="dcgan", d_norm="sn", z_dim=16, g_width=8, d_width=8)
    train = TrainConfig(steps=6, batch_size=16, lr=2e-4, precision="fp32", log_every=2, ckpt_every=100, eval_images=0)
    gan = GANOptions(loss="hinge", lr_d=4e-4, ema_decay=0.9, sample_every=0)
    out = tmp_path_factory.mktemp("gan") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_gan(GANRunConfig(model=model, train=train, gan=gan, data="fashion-mnist", limit=256), out, quiet=True)
    finally:
        torch.set_num_threads(threads)
    Image.fromarray(np.zeros((60, 960), np.uint8)).save(out / "eval-gan.closest-pairs.png")
    scores = {"checkpoint": str(out), "sample_seed": 0, "extractor": "ganvq-fmnist-cnn-v1",
              "reference": {"data": "fashion-mnist", "split": "test", "split_note": "the named test split",
                            "images": 10000},
              "samples": 1000, "fid": 123.456789, "kid_mean": 0.0123456, "kid_std": 0.001, "precision": 0.5,
              "recall": 0.25, "density": 0.4, "coverage": 0.3, "class_coverage": 7, "label_entropy": 1.9,
              "memorization": {"distance": "RMS pixel distance, pixels in [0, 1]", "sample_nn_median": 0.2,
                               "test_nn_median": 0.12, "median_ratio": 1.6666, "closer_than_every_test_fraction": 0.0,
                               "closer_than_test_q0.01_fraction": 0.001, "likely_copy_fraction": 0.0005,
                               "closest_pairs_png": "elsewhere.png"},
              "utility": {"real": {"accuracy": 0.6793}, "real_plus_synthetic": {"accuracy": 0.7023},
                          "synthetic": {"accuracy": 0.6987}, "gain_points": 2.3, "real_images": 100,
                          "synthetic_images": 5000, "test_images": 10000, "tested_on": "the named test split"},
              "notes": ["the reference is small"]}
    (out / "eval-gan.json").write_text(json.dumps(scores))
    return out


def test_metric_keys_read_as_words_with_units():
    assert metric("test/psnr").name == "PSNR (held-out)" and format_value("test/psnr", 22.6412) == "22.64 dB"
    assert format_value("kid_mean", 0.0123456) == "12.346 ×10⁻³"
    assert format_value("val/codes_used", 511) == "511 codes" and format_value("label_entropy", -1e-9) == "0.000 nats"
    assert metric("train/some_new_key").name == "Some new key (training)"


def test_chart_ticks_cover_the_data_and_smoothing_is_debiased():
    ticks = nice_ticks(0.37, 9.2)
    assert ticks[0] <= 0.37 and ticks[-1] >= 9.2 and 4 <= len(ticks) <= 8
    assert ema([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])  # no pull towards 0 at the start
    svg = line_chart([Series("PSNR", list(range(50)), [float(i) for i in range(50)])], "PSNR", "PSNR (dB)")
    assert "training step" in svg and "PSNR (dB)" in svg and "smoothed" in svg and ">40<" in svg


def test_atlas_is_sorted_by_use_and_tiles_keep_a_readable_size():
    tiles = np.zeros((5, 28, 28, 1), np.uint8)
    atlas, order = atlas_with_counts(tiles, np.array([3, 0, 10, 7, 0]))
    assert list(order) == [2, 3, 0, 1, 4] and atlas.shape[1] <= 1100
    assert display_scale(28) == 2 and display_scale(64) == 1


def test_vqvae_report_shows_the_eval_json_numbers_exactly(tiny_vqvae_run, tmp_path, one_thread):
    run = _copy(tiny_vqvae_run, tmp_path, "vq")
    scores = eval_vqvae(str(run), limit=100)
    report([str(run)], str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text()
    values = _values(page)
    for key in ("test/psnr", "test/ssim", "test/codes_used", "test/perplexity", "bits_per_pixel_raw"):
        assert values[key] == repr(scores[key]), key
    assert f"{scores['test/psnr']:.2f} dB" in page and "PSNR (held-out)" in page
    assert f"says {scores['test/codes_used']}: the same" in page  # the atlas counts the same 100 images
    assert "Ankle boot" in page or "Trouser" in page  # class names under the reconstructions
    assert "Codebook" in page and "Code maps" in page and "most used first" in page
    assert page.index("<details>") > page.rindex("<h2>")  # the configuration, collapsed at the end
    assert "))" not in page.split("Reconstructions")[1].split("</p>")[0]  # one sentence, not nested brackets
    assert f"{scores['bits_per_pixel_raw']:.4f} bits/pixel" in page  # 0.5625, as the JSON has it


def test_a_run_named_twice_is_reported_once(tiny_vqvae_run, tmp_path, capsys, one_thread):
    run = _copy(tiny_vqvae_run, tmp_path, "vq")
    result = report([str(run), str(tmp_path / "vq" / ".." / "vq")], str(tmp_path / "twice.html"))
    assert len(result["runs"]) == 1 and "is named twice; it is shown once" in capsys.readouterr().err


def test_report_without_eval_says_which_command_makes_one(tiny_vqvae_run, tmp_path, one_thread):
    run = _copy(tiny_vqvae_run, tmp_path, "vq")
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 9, "train/psnr": 1')  # a torn last line (killed mid-write)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert f"ganvq eval vqvae --ckpt {run}" in page and "No <code>eval-vqvae.json</code>" in page


def test_gan_report_reads_its_scores_and_names_classes(tiny_gan_run, tmp_path, one_thread):
    report([str(tiny_gan_run)], str(tmp_path / "g.html"))
    page = (tmp_path / "g.html").read_text()
    values = _values(page)
    assert values["fid"] == "123.456789" and values["median_ratio"] == "1.6666"
    assert values["likely_copy_fraction"] == "0.0005" and "Likely copies" in page
    assert "Utility: what the samples teach a classifier" in page and "+2.30 points" in page
    assert "(a) 100 real images" in page and "70.23%" in page and "(c) 5,000 samples alone" in page
    assert "123.46" in page and "12.346 ×10⁻³" in page and "Memorization audit" in page
    assert "Ankle boot" in page and "T-shirt/top" in page  # one labelled row per class
    assert "closest sample and training pairs" in page and "the reference is small" in page


def test_runs_scored_apart_are_compared_with_a_warning(tiny_gan_run, tmp_path, one_thread):
    a, b = _copy(tiny_gan_run, tmp_path, "a"), _copy(tiny_gan_run, tmp_path, "b")
    report([str(a), str(b)], str(tmp_path / "same.html"))
    assert "not comparable" not in (tmp_path / "same.html").read_text()  # scored alike: no warning
    scores = json.loads((b / "eval-gan.json").read_text())
    (b / "eval-gan.json").write_text(json.dumps({**scores, "extractor": "inception-v3-compat", "samples": 5000}))
    report([str(a), str(b)], str(tmp_path / "apart.html"))
    page = (tmp_path / "apart.html").read_text()
    assert "These runs were scored on different extractors (<code>a</code>: ganvq-fmnist-cnn-v1; <code>b</code>: " \
           "inception-v3-compat), sample counts (<code>a</code>: 1000; <code>b</code>: 5000)" in page
    assert "their scores are not comparable" in page and "references (" not in page  # the same reference


def test_prior_report_shows_held_out_bits_and_sampled_codes(tiny_prior_run, tmp_path, one_thread):
    run = _copy(tiny_prior_run, tmp_path, "prior")
    report([str(run)], str(tmp_path / "p.html"))
    page = (tmp_path / "p.html").read_text()
    final = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert _values(page)["val/bits_per_code"] == repr(final["val/bits_per_code"])
    assert "Bits per code (held-out)" in page and "Sampled code maps" in page
    assert f"ganvq eval gan --ckpt {run}" in page  # how to score its samples
    assert "it samples a prior as it does a GAN" in page  # "eval gan" of a prior is meant so


def test_old_report_options_still_work(tiny_vqvae_run, tiny_gan_run, tmp_path, one_thread):
    assert main(["report", "--ckpt", str(tiny_vqvae_run), "--gan", str(tiny_gan_run),
                 "--out", str(tmp_path / "r.html")]) == 0
    assert "2 runs compared" in (tmp_path / "r.html").read_text()


def _check_in_browser(chromium: str, page_path, tmp_path) -> dict:
    """Open a copy of the page in headless Chromium with a probe that records, once the page has loaded, every
    image that failed, every image wider than the window, and every error; returns what it found."""
    probe = """<script>
window.__errors = [];
addEventListener('error', e => __errors.push(e.message || ('failed to load ' + (e.target.alt || e.target.src))), true);
addEventListener('load', () => {
  const imgs = [...document.images];
  const width = document.documentElement.clientWidth;
  document.documentElement.setAttribute('data-check', JSON.stringify({
    images: imgs.length, width: width, errors: __errors,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    overflow: imgs.filter(i => i.getBoundingClientRect().right > width + 1).map(i => i.alt),
    pageWidth: document.documentElement.scrollWidth}));
});
</script>"""
    html = page_path.read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("<head>", "<head>" + probe, 1))
    done = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--window-size=1280,800",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
                           probed.as_uri()], check=False, capture_output=True, text=True, timeout=120)
    found = re.search(r"data-check=\"([^\"]*)\"", done.stdout)
    assert found, f"the page never finished loading in Chromium:\n{done.stderr[-2000:]}"
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    check["console"] = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return check


def test_report_renders_in_a_real_browser(chromium, tiny_vqvae_run, tiny_gan_run, tiny_prior_run, tmp_path,
                                          one_thread):
    vq = _copy(tiny_vqvae_run, tmp_path, "vq")
    eval_vqvae(str(vq), limit=64)
    out = tmp_path / "all.html"
    report([str(vq), str(tiny_gan_run), str(tiny_prior_run)], str(out))
    check = _check_in_browser(chromium, out, tmp_path)
    assert check["images"] > 20, check
    assert check["broken"] == [] and check["errors"] == [] and check["console"] == [], check
    assert check["overflow"] == [] and check["pageWidth"] <= check["width"], check  # nothing wider than 1,280 px

    shot = tmp_path / "first-screen.png"
    subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                    "--window-size=1280,800", f"--screenshot={shot}", out.as_uri()],
                   check=False, capture_output=True, timeout=120, cwd=tmp_path)
    with Image.open(shot) as im:
        assert im.size == (1280, 800)
        assert np.asarray(im.convert("L")).std() > 10  # something was drawn, not a blank page


def test_stale_or_broken_scores_are_said_not_shown_as_current(tiny_gan_run, tmp_path, one_thread):
    from ganvq.runs import open_run

    run = _copy(tiny_gan_run, tmp_path, "stale")
    scores = json.loads((run / "eval-gan.json").read_text())
    step = open_run(run).meta["step"]
    (run / "eval-gan.json").write_text(json.dumps({**scores, "checkpoint_step": step - 2}))
    report([str(run)], str(tmp_path / "stale.html"))
    page = (tmp_path / "stale.html").read_text()
    assert f"was scored at step {step - 2:,}; the checkpoint is now at step {step:,}" in page
    for broken, why in (('{"fid": "abc"', "could not be read"), ('{"fid": "abc"}', "does not hold the scores")):
        (run / "eval-gan.json").write_text(broken)
        report([str(run)], str(tmp_path / "broken.html"))
        page = (tmp_path / "broken.html").read_text()
        assert why in page and "No <code>eval-gan.json</code> in this run folder yet" not in page
        assert "None samples against" not in page and "ganvq eval gan --ckpt" in page
