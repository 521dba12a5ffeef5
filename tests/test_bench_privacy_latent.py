"""bench_privacy_latent.py: samples from z ~ N(0, s^2 I) are ganvq's own samples at s = 1, and the same draws
scaled otherwise."""

import dataclasses

import torch


def test_spread_samples_scale_the_plain_draws_and_equal_ganvq_samples_at_one(benchmark_module, tmp_path,
                                                                             monkeypatch):
    ema, bench = benchmark_module("bench_privacy_ema"), benchmark_module("bench_privacy_latent")
    config = ema.run_config(256, 2, None, 0, 1)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, g_width=8, d_width=8),
                                 train=dataclasses.replace(config.train, batch_size=16))
    ema.train(config, tmp_path / "run", [])
    run = bench.open_run(tmp_path / "run", "gan")
    G, cfg = bench.load_gan(run, "cpu", True)
    images, labels = bench.spread_samples(G, cfg, 20, 3, 1.0)
    plain, plain_labels = ema.sample(run, 20, 3)
    assert torch.equal(images, plain) and torch.equal(labels, plain_labels)
    assert labels.tolist() == [i % 10 for i in range(20)]  # classes in turn
    assert not torch.equal(bench.spread_samples(G, cfg, 20, 3, 2.0)[0], plain)
    monkeypatch.setattr(bench, "_generate", lambda G, z, y, quiet: z)  # the latents G is given
    z = bench.latents(20, cfg.model.z_dim, torch.Generator().manual_seed(3))
    assert torch.equal(bench.spread_samples(G, cfg, 20, 3, 2.0)[0], 2.0 * z)
