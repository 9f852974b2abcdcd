"""Files that change between a unit's ingest and the merge: the manifest and the report describe the same bytes."""
from __future__ import annotations

import json

import pytest

from faults.conftest import QUARTER, small_programme_file
from wcreport.core.io import DamagedStateError
from wcreport.report.manifest import ACCEPTED_GONE


@pytest.fixture
def ingested(tmp_path, monkeypatch):
    """Two units' sample files gathered and ingested, not yet merged."""
    from wcreport.demo.sample import write_quarter_samples
    from wcreport.orchestration import tasks

    small_programme_file(tmp_path / "programmes")
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path / "programmes"))
    run = tasks.resolve_run(QUARTER, str(tmp_path / "inbox"), str(tmp_path / "output"))
    programme = tasks.programme_of(run)
    written = write_quarter_samples(programme, tasks.paths_of(run).quarter, tmp_path / "inbox")
    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    return run, written, tmp_path / "output"


def merged_views(run):
    from wcreport.orchestration import tasks

    merged = tasks.merge(run)
    manifest = json.loads(open(merged["manifest"], encoding="utf-8").read())
    consolidated = json.loads(open(merged["consolidated"], encoding="utf-8").read())
    return manifest, json.dumps(consolidated, ensure_ascii=False)


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_an_accepted_file_that_left_the_inbox_stays_described(ingested, change):
    run, written, _output = ingested
    edu = written[0]
    if change == "deleted":
        edu.unlink()
    else:
        edu.write_bytes(written[1].read_bytes())          # other bytes under the same name
    manifest, consolidated = merged_views(run)
    unit = next(u for u in manifest["units"] if u["unit"] == "edu_sports")
    sha_before = unit["accepted_sha256"]
    assert unit["status"] == "submitted" and unit["accepted_file"] == edu.name and sha_before
    listed = [f for f in manifest["files"] if f["path"] == edu.name and f["sha256"] == sha_before]
    assert len(listed) == 1 and ACCEPTED_GONE in listed[0]["reasons"]
    assert sha_before in consolidated                       # the report's source is the same file


def test_a_damaged_archive_copy_fails_the_merge(ingested):
    from wcreport.orchestration import tasks

    run, _written, output = ingested
    for copy in (output / "archive" / QUARTER).iterdir():
        copy.chmod(0o644)
        copy.write_bytes(b"changed")
    with pytest.raises(Exception) as caught:
        tasks.merge(run)
    assert isinstance(caught.value.__cause__, DamagedStateError)
    assert "has no intact archive copy" in str(caught.value) and "clear the ingest_unit" in str(caught.value)
