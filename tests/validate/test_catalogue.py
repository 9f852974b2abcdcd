"""Every finding code is catalogued (Python) or in a suite (GX), with one severity, a message
whose placeholders the raising code fills, and a row in the README's rules table."""
from __future__ import annotations

import ast
import json
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

from wcreport.core.findings_catalogue import CATALOGUE, UnknownFindingCode, finding, message, part
from wcreport.core.settings import PROJECT_ROOT
from wcreport.intake.reader import UnreadableFile
from wcreport.validate import rules_table
from wcreport.validate.findings import SEVERITY

SOURCE = PROJECT_ROOT / "include" / "wcreport"
EXPECTATIONS = PROJECT_ROOT / "expectations"
LOCATION = {"sheet", "cell", "field"}
TEMPLATE_HELPERS = {"finding", "message", "of", "ScanRefused"}
CODE_HELPERS = TEMPLATE_HELPERS | {"part", "finding_with_text", "finding_type", "UnreadableFile"}


@dataclass
class Call:
    where: str
    helper: str
    codes: list[str]
    cause: ast.expr | None
    args: list[ast.expr]
    keywords: set[str]
    open_keywords: bool          # **values: the names cannot be checked


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literals(node: ast.expr | None) -> list[str]:
    """The strings an argument can be: a literal, or either branch of a conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _code_argument(call: ast.Call, helper: str) -> ast.expr | None:
    if helper == "Finding":
        return next((k.value for k in call.keywords if k.arg == "code"), None)
    return call.args[0] if call.args else None


def _calls() -> list[Call]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            helper = _name(node.func)
            if helper not in CODE_HELPERS | {"Finding"}:
                continue
            if helper == "of" and _name(getattr(node.func, "value", None)) != "UnreadableFile":
                continue
            codes = _literals(_code_argument(node, helper))
            if codes:
                keywords = {k.arg for k in node.keywords if k.arg}
                found.append(Call(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", helper, codes,
                                  next((k.value for k in node.keywords if k.arg == "cause"), None),
                                  node.args, keywords - {"cause"}, any(k.arg is None for k in node.keywords)))
    return sorted(found, key=lambda c: (c.where.split(":")[0], int(c.where.split(":")[1])))


def _suite_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for path in sorted((EXPECTATIONS / "gx" / "expectations").glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            code = expectation["meta"]["code"]
            severity = SEVERITY.get(expectation.get("severity", "critical"), "ignored")
            assert codes.setdefault(code, severity) == severity, f"{code}: two severities in the suites"
    return codes


def _fields(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


CALLS = _calls()
PYTHON_CODES = {code for call in CALLS for code in call.codes}
SUITE_CODES = _suite_codes()


def test_the_scan_sees_the_raising_code():
    assert {"zip.bomb", "encrypted", "table.missing_column", "unit.unknown", "file.internal_error"} <= PYTHON_CODES


def test_every_code_raised_in_python_is_catalogued_or_in_a_suite():
    unknown = {c.where: c.codes for c in CALLS if not set(c.codes) <= set(CATALOGUE) | set(SUITE_CODES)}
    assert unknown == {}
    helpers = {c.where: c.codes for c in CALLS if c.helper != "Finding" and not set(c.codes) <= set(CATALOGUE)}
    assert helpers == {}


def test_every_catalogued_code_is_raised_somewhere():
    assert set(CATALOGUE) - PYTHON_CODES == set()


def test_a_code_in_both_the_catalogue_and_a_suite_has_one_severity():
    both = set(CATALOGUE) & set(SUITE_CODES)
    assert {c: (CATALOGUE[c].severity, SUITE_CODES[c]) for c in both
            if CATALOGUE[c].severity != SUITE_CODES[c]} == {}


def test_python_codes_keep_to_the_suites_code_style():
    for code in [*CATALOGUE, *SUITE_CODES]:
        assert code == code.lower() and " " not in code, code


def _templates(spec, cause: ast.expr | None) -> list[str]:
    """The templates a call can render: its literal causes, or all of them for a computed cause."""
    if cause is None:
        return [spec.message]
    literal = _literals(cause)
    return [spec.template(c) for c in literal] if literal else spec.templates()


@pytest.mark.parametrize("call", [c for c in CALLS if c.helper in TEMPLATE_HELPERS and not c.open_keywords],
                         ids=lambda c: c.where)
def test_each_call_fills_exactly_its_templates_placeholders(call):
    given = call.keywords - (LOCATION if call.helper == "finding" else set())
    for code in call.codes:
        templates = _templates(CATALOGUE[code], call.cause)
        for template in templates:
            needed = _fields(template) - (LOCATION if call.helper == "finding" else set())
            assert needed <= given, (call.where, code, template)
        used = set().union(*(_fields(t) for t in templates))
        assert given <= used, (call.where, code, given - used)


@pytest.mark.parametrize("call", [c for c in CALLS if c.helper == "part"], ids=lambda c: c.where)
def test_each_message_part_is_catalogued_and_filled(call):
    (name,) = _literals(call.args[1])
    assert _fields(CATALOGUE[call.codes[0]].parts[name]) == call.keywords


def test_an_uncatalogued_code_cannot_be_raised():
    for attempt in (lambda: finding("no.such_code"), lambda: message("no.such_code"),
                    lambda: UnreadableFile("no.such_code", "原因"), lambda: UnreadableFile.of("no.such_code"),
                    lambda: message("zip.bomb", cause="no_such_cause"), lambda: part("unit.unknown", "no_such_part")):
        with pytest.raises(UnknownFindingCode):
            attempt()


def _all_templates() -> list[str]:
    suites = [m for r in rules_table.suite_rules(EXPECTATIONS) for m in r.messages]
    return [*(t for spec in CATALOGUE.values() for t in [*spec.templates(), *spec.parts.values()]), *suites]


@pytest.mark.parametrize("template", _all_templates())
def test_no_message_repeats_a_phrase(template):
    for phrase in ("重新报送", "再报送", "另存为", "取消密码保护", "已拒收"):
        assert template.count(phrase) <= 1, (phrase, template)
    sentences = [s for s in template.split("。") if s]
    assert len(sentences) == len(set(sentences)), template


@pytest.mark.parametrize("code", [c for c in CATALOGUE if c != "file.rejected"])
def test_catalogue_messages_are_chinese_sentences(code):
    for template in CATALOGUE[code].templates():
        assert template.endswith("。") and any("\u4e00" <= ch <= "\u9fff" for ch in template), template


def test_finding_takes_severity_and_field_from_the_catalogue():
    found = finding("table.seq_mismatch", sheet="报表", cell="A8", written=3, task_name="实事", seq=4)
    assert (found.code, found.severity, found.field, found.cell) == ("table.seq_mismatch", "warning", "seq", "A8")
    assert found.message == "序号 3 与实事名称「实事」（通知中为第 4 项）不一致，已按实事名称对应。"


def test_the_readme_rules_table_is_generated_from_catalogue_and_suites():
    readme = (EXPECTATIONS / "README.md").read_text(encoding="utf-8")
    assert rules_table.section(readme) == rules_table.markdown(EXPECTATIONS), (
        "expectations/README.md is out of date: run .venv/bin/python -c "
        "'from wcreport.validate.rules_table import write_readme; write_readme()'")


def test_the_table_lists_each_code_once():
    rows = [line.split(" | ")[0].lstrip("| ") for line in rules_table.markdown(EXPECTATIONS).splitlines()[2:]]
    assert sorted(rows) == sorted({*CATALOGUE, *SUITE_CODES})


def test_write_readme_replaces_only_the_section(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# 前言\n{rules_table.START}\n旧表\n{rules_table.END}\n## 后记\n", encoding="utf-8")
    assert rules_table.write_readme(readme, EXPECTATIONS) is True
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# 前言\n") and text.endswith(f"{rules_table.END}\n## 后记\n") and "旧表" not in text
    assert rules_table.write_readme(readme, EXPECTATIONS) is False
