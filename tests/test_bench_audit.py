import torch


def test_the_audit_calibration_builds_its_known_cases_and_reads_them(benchmark_module):
    bench = benchmark_module("bench_audit")
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (40, 1, 10, 10), generator=g, dtype=torch.uint8)
    labels = torch.arange(40) % 4
    unseen = torch.randint(0, 256, (30, 1, 10, 10), generator=g, dtype=torch.uint8)
    cases = bench._cases(train, labels, unseen)
    assert {name: len(x) for name, x in cases.items()} == {
        "unseen": 30, "copies": bench.QUERIES, "noisy-copies": bench.QUERIES, "shifted-1px": bench.QUERIES,
        "blurred": bench.QUERIES, "class-means": bench.QUERIES}
    assert torch.equal(cases["copies"][:40], train) and torch.equal(cases["shifted-1px"][:40, ..., 1:], train[..., :-1])
    torch.testing.assert_close(cases["class-means"][0].float(), train[labels == 0].float().mean(0), atol=0.5, rtol=0)
    yardstick = torch.randint(0, 256, (200, 1, 10, 10), generator=g, dtype=torch.uint8)
    reference = bench.audit_reference(yardstick, train)
    copies = bench._row("copies", "noise-40", cases["copies"], train, reference)
    fresh = bench._row("unseen", "noise-40", unseen, train, reference)
    assert copies["likely_copy_fraction"] == 1.0 and fresh["likely_copy_fraction"] < 0.1
    assert set(bench.KEYS) <= set(copies) and copies["queries"] == bench.QUERIES
