"""bench_privacy_ema.py: a run read out through each average of G samples from that average's weights."""

import dataclasses

import torch


def test_readouts_sample_each_average_and_the_last_weights(benchmark_module, tmp_path):
    bench = benchmark_module("bench_privacy_ema")
    config = bench.run_config(256, 3, None, 0, 1)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, g_width=8, d_width=8),
                                 train=dataclasses.replace(config.train, batch_size=16))
    bench.train(config, tmp_path / "run", [1.0, 4.0])
    run = bench.open_run(tmp_path / "run", "gan")
    views = bench.readouts(run, [1.0, 4.0])
    assert list(views) == ["ema (preset)", "last", "power gamma 1", "power gamma 4"]
    weights = {k: v.weights("G_ema") for k, v in views.items()}

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    assert same(weights["last"], run.weights("G")) and same(weights["ema (preset)"], run.weights("G_ema"))
    assert not same(weights["power gamma 1"], weights["power gamma 4"])
    images = {k: bench.sample(v, 4, 0)[0] for k, v in views.items()}
    assert not torch.equal(images["power gamma 1"], images["last"])
