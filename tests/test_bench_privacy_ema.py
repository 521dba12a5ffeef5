"""bench_privacy_ema.py: its power-function averages weigh G's past weights as EDM2 defines them, and a run read out
through each average samples from that average's weights."""

import dataclasses

import pytest
import torch
from torch import nn

from ganvq.train.gan import ema_update, power_ema_decay


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
def test_power_average_weighs_update_s_as_s_to_the_gamma(benchmark_module, gamma):
    bench = benchmark_module("bench_privacy_ema")
    model, average = nn.Linear(3, 2), nn.Linear(3, 2)
    seen = []
    for n in range(1, 41):
        with torch.no_grad():
            model.weight.normal_()
        seen.append(model.weight.detach().clone())
        ema_update(average, model, power_ema_decay(gamma, n))
    s = torch.arange(1, 41, dtype=torch.float64) ** gamma
    expected = sum(w.double() * c for w, c in zip(seen, s / s.sum()))
    # gamma 0: the plain mean of every update's weights; the discrete weights match s^gamma to O(1/n)
    tolerance = 1e-6 if gamma == 0 else 0.03
    assert torch.allclose(average.weight.double(), expected, atol=tolerance)
    assert power_ema_decay(gamma, 1) == 0.0  # the first update replaces the random initial weights


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
