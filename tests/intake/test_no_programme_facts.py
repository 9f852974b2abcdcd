"""The programme's facts live in its YAML file only: no unit, organiser, title or address in
the package's Python code, so next year's programme needs no code change."""
from __future__ import annotations

from wcreport.core.settings import PROJECT_ROOT


def _facts(programme) -> set[str]:
    facts = {programme.notice.number, programme.notice.title, programme.notice.issuer,
             programme.report.title, programme.report.organiser, programme.report.phone}
    for unit in programme.units:
        facts |= {unit.name, *unit.aliases, *unit.addresses}
    for recipient in [*programme.recipients.to, *programme.recipients.cc]:
        facts |= {recipient.name, recipient.email}
    if programme.area_group:
        facts.add(programme.area_group.label)
    return {f for f in facts if len(f) >= 2}


def test_no_programme_fact_is_written_in_the_package(programme):
    facts = _facts(programme)
    found = {}
    for path in sorted((PROJECT_ROOT / "include" / "wcreport").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        hits = sorted(f for f in facts if f in text)
        if hits:
            found[str(path.relative_to(PROJECT_ROOT))] = hits
    assert found == {}
