import numpy as np


def test_the_fit_benchmark_builds_both_ways_and_restores_the_fit_settings(benchmark_module, tmp_path,
                                                                         tiny_local_prior_run):
    from ganvq.data import load_dataset
    from ganvq.db import archive

    bench = benchmark_module("bench_db_fit")
    data = load_dataset("fashion-mnist", "test", limit=30)
    plan = [(0, 1, 1000), (1, 30, 1000)]
    rows = {}
    for old in (True, False):
        path = tmp_path / f"{old}.gvqdb"
        assert bench.build(path, str(tiny_local_prior_run), data.images, data.labels.numpy(), plan, old) > 0
        rows[old] = bench.measure(path, 10, np.random.default_rng(0))
    assert (archive.FIT_IMAGES, archive.FIT_MIN) == (2048, 256)  # the emulation of the old fit is undone
    assert rows[True]["distinct_embeddings"] < 10 and rows[False]["distinct_embeddings"] == 30
    assert rows[False]["itself_first"] == 1.0 and rows[False]["entries"] == 30
