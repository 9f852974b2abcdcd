"""A large programme is parsed from YAML once; its validated form is reused until the file changes."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from wcreport.core import programme as programme_module
from wcreport.core.programme import CACHE_FROM_BYTES, load_programme

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import synthetic_programme


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts as a new task process would: nothing loaded yet in this process."""
    programme_module._loaded.clear()
    yield
    programme_module._loaded.clear()


def _no_yaml(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parsed the YAML again")

    monkeypatch.setattr(programme_module.yaml, "load", refuse)


def test_a_large_programme_is_read_from_the_cache_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    assert path.stat().st_size >= CACHE_FROM_BYTES
    first = load_programme(path)
    programme_module._loaded.clear()
    with monkeypatch.context() as patched:
        _no_yaml(patched)
        again = load_programme(path)
    assert again == first and again is not first
    assert again.tasks_of(first.units[7].key) == first.tasks_of(first.units[7].key)

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["units"][0]["name"] = "改名后的单位"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_programme(path).units[0].name == "改名后的单位"


def test_a_damaged_cache_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    first = load_programme(path)
    programme_module._loaded.clear()
    for entry in (tmp_path / "output" / "cache" / "programmes").glob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert load_programme(path) == first


def test_a_small_programme_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    load_programme(synthetic_programme(tmp_path / "programmes", 5))
    assert not (tmp_path / "output" / "cache").exists()


def _cache_entry(tmp_path):
    (entry,) = (tmp_path / "output" / "cache" / "programmes").glob("*.json")
    return entry


def test_a_changed_cache_entry_falls_back_to_the_yaml(tmp_path, monkeypatch):
    """Valid JSON that is not what we wrote (two units with one key) is not read back unchecked."""
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    first = load_programme(path)
    entry = _cache_entry(tmp_path)
    digest, _, body = entry.read_bytes().partition(b"\n")
    tampered = body.replace(first.units[1].key.encode(), first.units[0].key.encode())
    for damaged in (digest + b"\n" + tampered, tampered, digest + b"\n" + body[: len(body) // 2], b""):
        entry.write_bytes(damaged)
        programme_module._loaded.clear()
        parsed = []
        real_load = programme_module.yaml.load
        monkeypatch.setattr(programme_module.yaml, "load",
                            lambda *a, parsed=parsed, real_load=real_load, **k: parsed.append(1) or real_load(*a, **k))
        assert load_programme(path) == first
        assert parsed == [1]
        monkeypatch.setattr(programme_module.yaml, "load", real_load)


def test_the_cache_we_wrote_is_read_without_the_checks_that_cost_o_units(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    first = load_programme(path)
    programme_module._loaded.clear()
    checked = []
    real_check = programme_module._reject_duplicates
    monkeypatch.setattr(programme_module, "_reject_duplicates", lambda *a: checked.append(a[0]) or real_check(*a))
    assert load_programme(path) == first
    assert checked == []
    with pytest.raises(Exception, match="duplicate"):       # the same JSON from elsewhere is checked
        programme_module.Programme.model_validate_json(first.model_dump_json().replace(
            first.units[1].name, first.units[0].name))


def test_a_process_loads_each_content_once(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 5)
    first = load_programme(path)
    with monkeypatch.context() as patched:
        _no_yaml(patched)
        assert load_programme(path) is first
    before = path.read_bytes()
    renamed = first.units[0].name[:-1] + "9"            # the same size, in place, the old mtime back
    after = before.replace(first.units[0].name.encode("utf-8"), renamed.encode("utf-8"))
    assert len(after) == len(before) and after != before
    stat = path.stat()
    with open(path, "r+b") as fh:
        fh.write(after)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = load_programme(path)
    assert changed.units[0].name == renamed and load_programme(path) is changed
    path.write_text("units: [", encoding="utf-8")
    with pytest.raises(programme_module.ProgrammeError):
        load_programme(path)
