"""The README is a short page for newcomers; the results live in docs/results.md, generated from
benchmarks/results/*.json by benchmarks/table.py, never typed by hand."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PAGE = ROOT / "docs" / "results.md"


def test_results_page_tables_are_generated_from_committed_benchmark_json(benchmark_module):
    table = benchmark_module("table")
    page = RESULTS_PAGE.read_text()
    present = [name for name in table.TABLES if (table.RESULTS / name).is_file()]
    assert "vqvae.json" in present
    for name in present:
        text = table.TABLES[name](table.RESULTS / name)
        assert text in page, f"docs/results.md for {name} differs from `python benchmarks/table.py`"
    assert table.gan_limited_table(table.RESULTS) in page, "docs/results.md's limited-data GAN table is stale"


def test_readme_numbers_at_a_glance_come_from_the_results_page():
    readme = (ROOT / "README.md").read_text()
    glance = readme[readme.index("## Results at a glance"):readme.index("## More")]
    page = RESULTS_PAGE.read_text()
    numbers = re.findall(r"\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+", glance)
    assert len(numbers) >= 6
    for n in numbers:
        assert n in page, f"README's {n} is not in docs/results.md (the generated tables)"


def test_readme_is_a_short_page_with_the_report_screenshot():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250 and "| --- | --- | --- | --- |" not in readme  # no wide results tables
    shot = ROOT / "docs" / "report.png"
    assert "](docs/report.png)" in readme and shot.is_file() and shot.stat().st_size < 300_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", readme):
        assert (ROOT / target).is_file(), target
    for word in ("make demo", "make test", "Your own images", "Glossary", "TTUR", "n_D", "ADA's p", "FID", "KID",
                 "PRDC", "bpp", "pip install tensorboard", "torch==2.13.0"):
        assert word in readme, word
