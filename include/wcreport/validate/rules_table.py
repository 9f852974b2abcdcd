"""The rules table of ``expectations/README.md``, generated from the findings catalogue
(codes raised in Python) and the GX suites (codes raised by expectations).

The README holds the table between ``START`` and ``END``; regenerate it with
``.venv/bin/python -c "from wcreport.validate.rules_table import write_readme; write_readme()"``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcreport.core.findings_catalogue import CATALOGUE
from wcreport.core.settings import expectations_root
from wcreport.validate.findings import SEVERITY, fmt_number
from wcreport.validate.gx_project import TABLES

START = "<!-- rules:start -->"
END = "<!-- rules:end -->"
_COLUMN_RULES = {
    "expect_column_values_to_not_be_null": "{column} not null",
    "expect_column_values_to_be_in_set": "{column} in {value_set}",
    "expect_column_values_to_not_be_in_set": "{column} not in {value_set}",
    "expect_column_values_to_be_unique": "{column} unique",
    "expect_column_distinct_values_to_contain_set": "{column} values include all of {value_set}",
}


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    checked_by: str
    rule: str
    messages: tuple[str, ...]


def catalogue_rules() -> list[Rule]:
    return [Rule(t.code, t.severity, "Python", t.title, tuple(t.templates())) for t in CATALOGUE.values()]


def suite_paths(expectations: Path) -> list[Path]:
    paths = sorted((expectations / "gx" / "expectations").glob("*.json"))
    return sorted(paths, key=lambda p: TABLES.index(p.stem) if p.stem in TABLES else len(TABLES))


def suite_rules(expectations: Path) -> list[Rule]:
    rules = []
    for path in suite_paths(expectations):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            meta = expectation.get("meta") or {}
            gx_severity = str(expectation.get("severity", "critical"))
            rules.append(Rule(meta.get("code", ""), SEVERITY.get(gx_severity, f"{gx_severity} (ignored)"),
                              f"suite `{path.stem}`", describe(expectation["type"], expectation["kwargs"]),
                              (meta.get("message_zh", ""),)))
    return rules


def describe(kind: str, kwargs: dict[str, Any]) -> str:
    """An expectation as a short rule: "`seq` in `$unit_seqs`", "`value` ≥ 0" ..."""
    values = {k: _show(v) for k, v in kwargs.items()}
    values.update({k: f"`{v}`" for k, v in kwargs.items() if k in ("column", "column_A", "column_B")})
    if kind in _COLUMN_RULES:
        text = _COLUMN_RULES[kind].format_map(values)
    elif kind == "expect_column_values_to_be_between":
        text = _between(values)
    elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
        text = f"{values['column_A']} {'≥' if kwargs.get('or_equal') else '>'} {values['column_B']}"
        if kwargs.get("ignore_row_if") == "either_value_is_missing":
            text += " where both are present"
    else:
        text = f"`{kind}` on {values.get('column', 'the table')}"
    if "mostly" in kwargs:
        text += f" for at least {kwargs['mostly']:.0%} of rows"
    return text


def _between(values: dict[str, str]) -> str:
    low, high, column = values.get("min_value"), values.get("max_value"), values["column"]
    if low is not None and high is not None:
        return f"{low} ≤ {column} ≤ {high}"
    return f"{column} ≥ {low}" if low is not None else f"{column} ≤ {high}"


def _show(value: Any) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return f"`${value['$PARAMETER']}`"
    if isinstance(value, list):
        return "{" + ", ".join(_show(v) for v in value) + "}" if len(value) <= 4 else f"{len(value)} listed values"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt_number(value)
    return str(value)


def markdown(expectations: Path | None = None) -> str:
    """The rules table: catalogue codes in pipeline order, then each suite in suite order."""
    rules = [*catalogue_rules(), *suite_rules(expectations or expectations_root())]
    lines = ["| code | severity | checked by | rule | message (Chinese template) |", "|---|---|---|---|---|"]
    lines += [f"| {r.code} | {r.severity} | {r.checked_by} | {_cell(r.rule)} | "
              f"{'<br>'.join(_cell(m) for m in r.messages)} |" for r in rules]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def section(text: str) -> str:
    """What stands between the markers of a README."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip("\n") + "\n"


def with_section(text: str, table: str) -> str:
    start, end = text.index(START) + len(START), text.index(END)
    return f"{text[:start]}\n{table}{text[end:]}"


def write_readme(readme: Path | None = None, expectations: Path | None = None) -> bool:
    """Regenerate the README's rules table; True if the file changed."""
    expectations = expectations or expectations_root()
    readme = readme or expectations / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = with_section(old, markdown(expectations))
    if new != old:
        readme.write_text(new, encoding="utf-8")
    return new != old


if __name__ == "__main__":
    # `python -m wcreport.validate.rules_table`: regenerate the rules table in expectations/README.md
    print("expectations/README.md updated" if write_readme() else "expectations/README.md already up to date")
