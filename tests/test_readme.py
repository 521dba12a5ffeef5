"""The README's results come from benchmarks/results/*.json, not from hand-typed numbers."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_tables_are_generated_from_committed_benchmark_json(benchmark_module):
    table = benchmark_module("table")
    readme = (ROOT / "README.md").read_text()
    present = [name for name in table.TABLES if (table.RESULTS / name).is_file()]
    assert "vqvae.json" in present
    for name in present:
        text = table.TABLES[name](table.RESULTS / name)
        assert text in readme, f"README results for {name} differ from `python benchmarks/table.py`"
    assert table.gan_limited_table(table.RESULTS) in readme, "README's limited-data GAN table is stale"
