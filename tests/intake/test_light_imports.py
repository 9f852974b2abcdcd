"""A unit's ingest without a scan does not import the stamped-copy readers' libraries.

Every mapped ``ingest_unit`` is a fresh task process; Pillow and rapidfuzz (the reader),
numpy and scipy (the seal detector) are imported only when a stamped copy is read.
"""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("PIL", "rapidfuzz", "numpy", "scipy")
PROBE = """
import json, sys
import wcreport.orchestration.tasks, wcreport.flow.ingest_unit, wcreport.intake.scan
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))))
"""


def _heavy_after(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_ingest_modules_do_not_import_the_scan_libraries():
    assert _heavy_after(PROBE) == []


def test_the_readers_are_still_there_when_asked_for():
    from wcreport.intake import stamped

    assert callable(stamped.read_stamped_copy) and callable(stamped.compare_with_workbook)
    assert callable(stamped.agreement) and callable(stamped.detect_seal)
    assert {"stamped.tool.missing"} == stamped.OPS_CODES
