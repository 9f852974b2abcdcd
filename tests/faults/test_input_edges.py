"""Edges of what units and ops write: Excel serial dates, bad dates and header-breaking recipients in the programme."""
from __future__ import annotations

import json

import pytest

from faults.conftest import QUARTER, small_programme_file
from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.cli.main import main as cli
from wcreport.core.programme import ProgrammeError, load_programme


def test_an_excel_serial_date_is_shown_as_a_date(tmp_path, monkeypatch):
    from wcreport.orchestration import tasks

    small_programme_file(tmp_path / "programmes")
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path / "programmes"))
    run = tasks.resolve_run(QUARTER, str(tmp_path / "inbox"), str(tmp_path / "output"))
    programme = tasks.programme_of(run)
    rows = [[t.seq, t.name, "教育和体育事业中心", "已推进。", 45291] for t in programme.tasks_of("edu_sports")]
    touch_mtime(write(Book([form_sheet("教育和体育事业中心", rows)]), tmp_path / "inbox" / QUARTER / "教体.xlsx"),
                1680000000)
    (tmp_path / "inbox" / QUARTER / "卫生健康事业中心").mkdir()
    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    merged = tasks.merge(run)
    result = tasks.load_unit_result(tasks.paths_of(run), programme, "edu_sports")
    assert result.status == "submitted" and {r.deadline for r in result.rows} == {"2023-12-31"}
    consolidated = open(merged["consolidated"], encoding="utf-8").read()
    assert "2023-12-31" in consolidated and "45291" not in consolidated


def programme_with(tmp_path, edit) -> str:
    path = small_programme_file(tmp_path)
    text = edit(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_invalid_date_in_the_programme_names_file_and_field(tmp_path):
    path = programme_with(tmp_path, lambda text: text.replace("1: 2023-03-31", "1: 2023-02-30"))
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    assert str(caught.value).startswith(f"{path}: deadlines.1: ") and "2023-02-30" in str(caught.value)


@pytest.mark.parametrize("field, value", [("email", "gxq@zb.shandong.cn\\r\\nBcc: x@evil.example"),
                                          ("name", "群团科\\r\\nBcc: x@evil.example")])
def test_a_recipient_with_a_line_break_is_refused(tmp_path, capsys, field, value):
    def edit(text: str) -> str:
        import yaml

        data = yaml.safe_load(text)
        data["recipients"]["to"][0][field] = json.loads(f'"{value}"')
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)

    path = programme_with(tmp_path, edit)
    assert cli(["programme", path]) == 2
    assert "recipients.to.0." + field in capsys.readouterr().err
