"""Stamped copies (盖章件): seal detector precision/recall, OCR cost per page, agreement separation.

Usage: .venv/bin/python bench/bench_stamped.py [--units 3] [--agreement-units 8]

Everything is generated deterministically by ``wcreport_testing.stamped_samples``:
the notice's form filled with the project's sample progress texts, sealed or not,
at 100/150/200/300 dpi, colour and greyscale, rotated up to ±3°, JPEG-compressed,
with red distractors (underline, pen strokes and loops, a small logo, red table text).

1. Seal: ``detect_seal`` on page 1 of every variant; confusion counts for colour
   pages (True/False/None against sealed/unsealed) and for greyscale pages (where
   None is the expected "cannot tell" and only True counts as a finding).
2. OCR cost: two units' raster PDFs (one JPEG per page) read by ``read_stamped_copy``
   at each dpi; seconds of Tesseract per page and the agreement reached.
3. Agreement: each of ``--agreement-units`` units' scans at the default dpi against
   its own progress texts and every other unit's.

Writes the section between the markers in docs/stamped-copies.md and the raw
figures to ``<BENCH_OUT>/stamped.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wcreport_testing.stamped_samples import FormContent, ScanSpec, form_contents, make_scan, measurement_specs, save_pdf

from bench.common import PROJECT_ROOT, machine, save_result
from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.core.settings import settings
from wcreport.intake.stamped import agreement, detect_seal, read_stamped_copy

DOC = PROJECT_ROOT / "docs" / "stamped-copies.md"
START, END = "<!-- bench-stamped:start -->", "<!-- bench-stamped:end -->"
QUARTER = Quarter.parse("2023Q2")
DPIS = (100, 150, 200, 300)
OCR_UNITS = ("edu_sports", "sibaoshan")


def seal_run(contents: list[FormContent], units: int) -> list[dict]:
    rows = []
    for unit, spec in measurement_specs(DPIS, units=units):
        page = make_scan(contents[unit], spec).pages[0]
        began = time.perf_counter()
        verdict = detect_seal(page, spec.dpi)
        rows.append({"unit": contents[unit].unit_key, "dpi": spec.dpi, "sealed": spec.sealed, "grey": spec.grey,
                     "distractors": list(spec.distractors), "rotate": spec.rotate_deg, "jpeg": spec.jpeg_quality,
                     "seal_at": spec.seal_at, "verdict": verdict, "seconds": round(time.perf_counter() - began, 3)})
    return rows


def confusion(rows: list[dict]) -> dict:
    """tp/fp/fn/tn where True is the positive verdict; None counted apart."""
    count = Counter()
    for row in rows:
        if row["verdict"] is None:
            count["none_sealed" if row["sealed"] else "none_unsealed"] += 1
        elif row["verdict"]:
            count["tp" if row["sealed"] else "fp"] += 1
        else:
            count["fn" if row["sealed"] else "tn"] += 1
    tp, fp, fn = count["tp"], count["fp"], count["fn"] + count["none_sealed"]
    return {**{k: count[k] for k in ("tp", "fp", "fn", "tn", "none_sealed", "none_unsealed")},
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None, "n": len(rows)}


def read_scan(content: FormContent, dpi: int, folder: Path) -> dict:
    sample = make_scan(content, ScanSpec(dpi=dpi, sealed=True, distractors=("underline",), rotate_deg=1.2, jpeg_quality=80))
    path = save_pdf(sample.pages, folder / f"{content.unit_key}-{dpi}.pdf", dpi)
    config = dataclasses.replace(settings(), ocr_dpi=dpi, ocr_timeout_seconds=600)
    began = time.perf_counter()
    copy = read_stamped_copy(path, config=config)
    return {"unit": content.unit_key, "dpi": dpi, "pages": copy.pages_read, "seal": copy.seal,
            "ocr_seconds": copy.ocr_seconds, "total_seconds": round(time.perf_counter() - began, 2),
            "unit_line": copy.unit_line, "text": copy.text, "bytes": path.stat().st_size}


def ocr_run(by_key: dict[str, FormContent], folder: Path) -> list[dict]:
    rows = []
    for key in OCR_UNITS:
        for dpi in DPIS:
            row = read_scan(by_key[key], dpi, folder)
            row["agreement"] = round(agreement(row["text"], by_key[key].progress_texts), 3)
            rows.append(row)
    return rows


def agreement_run(contents: list[FormContent], folder: Path, dpi: int) -> dict:
    texts = {c.unit_key: read_scan(c, dpi, folder)["text"] for c in contents}
    own, other = [], []
    for scanned, text in texts.items():
        for content in contents:
            score = round(agreement(text, content.progress_texts), 3)
            (own if content.unit_key == scanned else other).append({"scan": scanned, "texts": content.unit_key,
                                                                    "score": score})
    return {"dpi": dpi, "own": own, "other": other}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def seal_section(rows: list[dict]) -> list[str]:
    colour = [r for r in rows if not r["grey"]]
    grey = [r for r in rows if r["grey"]]
    c, g = confusion(colour), confusion(grey)
    lines = ["### Seal detector", "",
             f"{len(rows)} generated pages (page 1 of each variant): {len(colour)} colour, {len(grey)} greyscale; "
             "half sealed. Distractor mixes: none; underline; pen strokes + loop; logo + red table text; all five.", "",
             "| Pages | n | TP | FP | FN | TN | None (sealed) | None (unsealed) | Precision | Recall |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
             f"| colour | {c['n']} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} | {c['none_sealed']} | "
             f"{c['none_unsealed']} | {_pct(c['precision'])} | {_pct(c['recall'])} |",
             f"| greyscale | {g['n']} | {g['tp']} | {g['fp']} | {g['fn']} | {g['tn']} | {g['none_sealed']} | "
             f"{g['none_unsealed']} | {_pct(g['precision'])} | {_pct(g['recall'])} |", "",
             "Recall counts a None on a sealed page as a miss. On greyscale pages the detector answers True (a clear "
             "seal-sized ring) or None (cannot tell), never False.", "",
             "| dpi | colour TP/FP/FN/TN | greyscale True on sealed | greyscale True on unsealed | seconds per page (median) |",
             "| --- | --- | --- | --- | --- |"]
    for dpi in sorted({r["dpi"] for r in rows}):
        cd = confusion([r for r in colour if r["dpi"] == dpi])
        gs = [r for r in grey if r["dpi"] == dpi]
        found = sum(1 for r in gs if r["sealed"] and r["verdict"])
        false = sum(1 for r in gs if not r["sealed"] and r["verdict"])
        seconds = statistics.median(r["seconds"] for r in rows if r["dpi"] == dpi)
        lines.append(f"| {dpi} | {cd['tp']}/{cd['fp']}/{cd['fn']}/{cd['tn']} | {found}/{sum(1 for r in gs if r['sealed'])} | "
                     f"{false}/{sum(1 for r in gs if not r['sealed'])} | {seconds:.2f} |")
    wrong = [r for r in rows if (r["verdict"] is True) != r["sealed"] and not (r["grey"] and r["verdict"] is None)]
    if wrong:
        lines += ["", "Wrong verdicts:", ""]
        lines += [f"- {r['unit']} {r['dpi']} dpi {'grey' if r['grey'] else 'colour'} "
                  f"{'sealed' if r['sealed'] else 'unsealed'} ({r['seal_at']}), distractors {r['distractors'] or 'none'}, "
                  f"rotated {r['rotate']}°, JPEG q{r['jpeg']}: {r['verdict']}" for r in wrong]
    return lines


def ocr_section(rows: list[dict]) -> list[str]:
    lines = ["### OCR cost per page", "",
             "Raster PDFs (one JPEG per page, as scanners write them) read by `read_stamped_copy` with `REPORT_OCR_DPI` "
             "set to the scan's dpi: Tesseract 5 `chi_sim`, page segmentation 3, one thread. Seconds are Tesseract's "
             "wall time per page (rasterising and the seal check are in the total).", "",
             "| dpi | unit | pages | OCR s/page | total s | agreement with own texts | PDF size |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        per_page = row["ocr_seconds"] / row["pages"] if row["pages"] and row["ocr_seconds"] else None
        lines.append(f"| {row['dpi']} | {row['unit']} | {row['pages']} | {per_page:.1f} | {row['total_seconds']:.1f} | "
                     f"{row['agreement']:.3f} | {row['bytes'] // 1024} KiB |")
    return lines


def agreement_section(result: dict, threshold: float) -> list[str]:
    own = [r["score"] for r in result["own"]]
    other = [r["score"] for r in result["other"]]
    worst_own = min(result["own"], key=lambda r: r["score"])
    best_other = max(result["other"], key=lambda r: r["score"])
    false_warnings = sum(1 for s in own if s < threshold)
    missed = sum(1 for s in other if s >= threshold)
    return ["### Agreement", "",
            f"{len(own)} units' scans at {result['dpi']} dpi (OCR), each scored against its own progress texts and "
            f"against each of the other {len(own) - 1} units' ({len(other)} pairs).", "",
            "| Pairs | n | min | median | max |", "| --- | --- | --- | --- | --- |",
            f"| own report | {len(own)} | {min(own):.3f} | {statistics.median(own):.3f} | {max(own):.3f} |",
            f"| another unit's report | {len(other)} | {min(other):.3f} | {statistics.median(other):.3f} | "
            f"{max(other):.3f} |", "",
            f"Lowest own score: {worst_own['scan']}; highest other score: {best_other['scan']}'s scan against "
            f"{best_other['texts']}'s texts. At the threshold `REPORT_STAMPED_AGREEMENT_MIN` = {threshold}: "
            f"{false_warnings} own report(s) warned, {missed} other unit's report(s) not warned."]


def write_section(lines: list[str], doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    doc.write_text(head + START + "\n" + "\n".join(lines) + "\n" + END + tail, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3, help="units in the seal set (80 pages each)")
    parser.add_argument("--agreement-units", type=int, default=8)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/stamped-copies.md")
    args = parser.parse_args()
    programme = programme_for_year(2023)
    contents = form_contents(programme, QUARTER)
    by_key = {c.unit_key: c for c in contents}
    began = time.perf_counter()
    seal_rows = seal_run(contents, args.units)
    print(f"seal: {len(seal_rows)} pages in {time.perf_counter() - began:.0f}s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-stamped-") as folder:
        ocr_rows = ocr_run(by_key, Path(folder))
        print(f"ocr: {len(ocr_rows)} files", flush=True)
        agreement_result = agreement_run(contents[: args.agreement_units], Path(folder), settings().ocr_dpi)
    threshold = settings().stamped_agreement_min
    info = machine()
    today = dt.date.today().isoformat()
    lines = [f"Measured {today} by `bench/bench_stamped.py` on {info['cpus']} cores ({info['cpu_model']}), load average "
             f"{info['load_avg'][0]} at the end; Tesseract {_tesseract_version()}. Total {time.perf_counter() - began:.0f} s.", ""]
    lines += seal_section(seal_rows) + [""] + ocr_section(ocr_rows) + [""] + agreement_section(agreement_result, threshold)
    save_result("stamped", {"machine": info, "seal": seal_rows,
                            "ocr": [{k: v for k, v in r.items() if k != "text"} for r in ocr_rows],
                            "agreement": agreement_result, "threshold": threshold})
    if not args.no_doc:
        write_section(lines)
    print("\n".join(lines))
    return 0


def _tesseract_version() -> str:
    import subprocess
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "?"
    return out.split()[1] if out.split() else "?"


if __name__ == "__main__":
    raise SystemExit(main())
