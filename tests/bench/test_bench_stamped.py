"""Smoke test of bench/bench_stamped.py's bookkeeping: confusion counts and the doc section."""
from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from bench import bench_stamped  # noqa: E402


def _row(sealed: bool, verdict, grey: bool = False, dpi: int = 100) -> dict:
    return {"unit": "u", "dpi": dpi, "sealed": sealed, "grey": grey, "distractors": [], "rotate": 0.0,
            "jpeg": 80, "seal_at": "unit_line", "verdict": verdict, "seconds": 0.1}


def test_confusion_counts_none_on_a_sealed_page_as_a_miss():
    rows = [_row(True, True), _row(True, None), _row(False, False), _row(False, True), _row(True, False)]
    got = bench_stamped.confusion(rows)
    assert {k: got[k] for k in ("tp", "fp", "fn", "tn", "none_sealed", "none_unsealed")} == \
        {"tp": 1, "fp": 1, "fn": 1, "tn": 1, "none_sealed": 1, "none_unsealed": 0}
    assert got["precision"] == 0.5 and got["recall"] == 1 / 3


def test_seal_section_lists_wrong_verdicts_but_not_greyscale_none():
    rows = [_row(True, True), _row(False, True), _row(True, None, grey=True), _row(False, None, grey=True)]
    lines = bench_stamped.seal_section(rows)
    wrong = [line for line in lines if line.startswith("- ")]
    assert len(wrong) == 1 and "colour unsealed" in wrong[0]


def test_write_section_replaces_only_between_the_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# T\n\nbefore\n{bench_stamped.START}\nold\n{bench_stamped.END}\nafter\n", encoding="utf-8")
    bench_stamped.write_section(["new", "lines"], doc)
    assert doc.read_text(encoding="utf-8") == \
        f"# T\n\nbefore\n{bench_stamped.START}\nnew\nlines\n{bench_stamped.END}\nafter\n"
