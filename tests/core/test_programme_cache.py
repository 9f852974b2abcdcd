"""A large programme is parsed from YAML once; its validated form is reused until the file changes."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from wcreport.core import programme as programme_module
from wcreport.core.programme import CACHE_FROM_BYTES, load_programme

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import synthetic_programme


def _no_yaml(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parsed the YAML again")

    monkeypatch.setattr(programme_module.yaml, "load", refuse)


def test_a_large_programme_is_read_from_the_cache_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    assert path.stat().st_size >= CACHE_FROM_BYTES
    first = load_programme(path)
    with monkeypatch.context() as patched:
        _no_yaml(patched)
        again = load_programme(path)
    assert again == first
    assert again.tasks_of(first.units[7].key) == first.tasks_of(first.units[7].key)

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["units"][0]["name"] = "改名后的单位"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_programme(path).units[0].name == "改名后的单位"


def test_a_damaged_cache_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    path = synthetic_programme(tmp_path / "programmes", 1500)
    first = load_programme(path)
    for entry in (tmp_path / "output" / "cache" / "programmes").glob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert load_programme(path) == first


def test_a_small_programme_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", str(tmp_path / "output"))
    load_programme(synthetic_programme(tmp_path / "programmes", 5))
    assert not (tmp_path / "output" / "cache").exists()
