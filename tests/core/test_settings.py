"""One Settings: every environment variable is declared once, read at call time, listed in the README."""
from __future__ import annotations

import ast
import re

import pytest

from wcreport.core.settings import PROJECT_ROOT, SETTINGS, settings, settings_table_markdown

PACKAGE = PROJECT_ROOT / "include" / "wcreport"


def test_readme_table_is_generated_from_the_settings():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block, "README.md lacks the settings block"
    assert block.group(1).strip() == settings_table_markdown().strip()


def _environment_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append(f"line {node.lineno}")
    return found


def test_only_the_settings_module_reads_the_environment():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" and path.parent.name == "core":
            continue
        reads = _environment_reads(ast.parse(path.read_text(encoding="utf-8")))
        if reads:
            offenders[str(path.relative_to(PACKAGE))] = reads
    # GX's analytics switch is GX's own variable, set (not read) before importing GX;
    # the demo SMTP sink reads nothing of ours.
    allowed = {"validate/gx_project.py"}
    assert set(offenders) <= allowed, offenders


def test_every_setting_uses_the_one_prefix():
    assert all(s.env.startswith("REPORT_") for s in SETTINGS)
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_settings_are_read_when_called(monkeypatch, tmp_path):
    monkeypatch.setenv("REPORT_INBOX", str(tmp_path / "in"))
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "1234")
    current = settings()
    assert current.inbox_root == tmp_path / "in" and current.max_file_bytes == 1234
    monkeypatch.delenv("REPORT_MAX_FILE_BYTES")
    assert settings().max_file_bytes == 20 * 1024 * 1024


def test_relative_paths_are_taken_from_the_project(monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", "somewhere/out")
    assert settings().output_root == PROJECT_ROOT / "somewhere" / "out"


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "20MB")
    with pytest.raises(ValueError, match="REPORT_MAX_FILE_BYTES"):
        settings()
