"""One Settings: every environment variable is declared once, read at call time, listed in the README."""
from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from wcreport.core.faults import OperationsFault, SettingsError
from wcreport.core.settings import (
    _FIELDS,
    PROJECT_ROOT,
    SETTINGS,
    Settings,
    check_settings,
    ops_email,
    schedule_settings,
    settings,
    settings_table_markdown,
)

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


def test_only_the_settings_modules_read_the_environment():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("settings.py", "setting_specs.py") and path.parent.name == "core":
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
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "123456")
    current = settings()
    assert current.inbox_root == tmp_path / "in" and current.max_file_bytes == 123456
    monkeypatch.delenv("REPORT_MAX_FILE_BYTES")
    assert settings().max_file_bytes == 20 * 1024 * 1024


def test_relative_paths_are_taken_from_the_project(monkeypatch):
    monkeypatch.setenv("REPORT_OUTPUT", "somewhere/out")
    assert settings().output_root == PROJECT_ROOT / "somewhere" / "out"


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "twenty")
    with pytest.raises(ValueError, match="REPORT_MAX_FILE_BYTES"):
        settings()


def test_every_setting_has_a_field_and_its_range_in_the_readme():
    assert set(_FIELDS) == {s.env for s in SETTINGS}
    assert set(_FIELDS.values()) == set(Settings.__dataclass_fields__)
    table = settings_table_markdown()
    assert "64 KiB–1 GiB" in table and "72 to 400" in table and "0 to 1" in table


# Each nonsense value a person could type, refused at load with the setting, the value and
# what is allowed; none is clamped or read as something else.
NONSENSE = [
    ("REPORT_MAX_FILE_BYTES", "0", "out of range"),
    ("REPORT_MAX_FILE_BYTES", "-1", "not a size in bytes"),
    ("REPORT_MAX_FILE_BYTES", "20", "for 20 MB write 20971520"),
    ("REPORT_MAX_FILE_BYTES", "2GB", "out of range"),
    ("REPORT_MAX_FILE_BYTES", "1.5", "not a size in bytes"),
    ("REPORT_MAX_UNCOMPRESSED_BYTES", "100", "for 100 MB write 104857600"),
    ("REPORT_OCR_TIMEOUT_SECONDS", "-5", "out of range"),
    ("REPORT_OCR_TIMEOUT_SECONDS", "0", "out of range"),
    ("REPORT_OCR_TIMEOUT_SECONDS", "inf", "not a finite number"),
    ("REPORT_OCR_TIMEOUT_SECONDS", "3 minutes", "not a number"),
    ("REPORT_STAMPED_AGREEMENT_MIN", "75", "out of range"),
    ("REPORT_STAMPED_AGREEMENT_MIN", "-0.1", "out of range"),
    ("REPORT_STAMPED_AGREEMENT_MIN", "nan", "not a finite number"),
    ("REPORT_SCAN_MAX_PAGES", "0", "out of range"),
    ("REPORT_SCAN_MAX_PAGES", "2.5", "not a whole number"),
    ("REPORT_OCR_DPI", "20", "out of range"),
    ("REPORT_OCR_DPI", "1200", "out of range"),
    ("REPORT_SCHEDULE_AT", "25:00", "not a time of day"),
    ("REPORT_SCHEDULE_AT", "17:60", "not a time of day"),
    ("REPORT_SCHEDULE_AT", "5pm", "not a time of day"),
    ("REPORT_SCHEDULE_WORKDAY_OFFSET", "-400", "out of range"),
    ("REPORT_SCHEDULE_WORKDAY_OFFSET", "one", "not a whole number"),
    ("REPORT_SCHEDULE_TIMEZONE", "Beijing", "not a known time zone"),
    ("REPORT_SCHEDULE_TIMEZONE", "../../etc/passwd", "not a known time zone"),
    ("REPORT_ACCELERATORS", "yes", "neither on nor off"),
    ("REPORT_OPS_EMAIL", "ops at example.org", "not a mail address"),
    ("REPORT_AIRFLOW_API_URL", "localhost:8080", "not an http(s) URL"),
]


@pytest.mark.parametrize(("name", "value", "why"), NONSENSE)
def test_a_nonsense_value_is_refused_naming_the_setting(monkeypatch, name, value, why):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        settings()
    text = str(caught.value)
    assert f"{name}={value!r}" in text and why in text and "allowed:" in text
    assert isinstance(caught.value, OperationsFault)        # orchestration fails the task without retries
    with pytest.raises(SettingsError, match=name):
        check_settings()


@pytest.mark.parametrize(("value", "expected"), [
    ("20971520", 20 * 1024 * 1024), ("20MB", 20 * 1024 * 1024), ("20 MiB", 20 * 1024 * 1024),
    ("20m", 20 * 1024 * 1024), ("512KiB", 512 * 1024), ("1G", 1024 ** 3), ("1.5MB", 1536 * 1024),
])
def test_byte_sizes_take_the_documented_suffixes(monkeypatch, value, expected):
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", value)
    assert settings().max_file_bytes == expected


def test_the_edges_of_each_range_are_allowed(monkeypatch):
    for name, value in [("REPORT_OCR_DPI", "72"), ("REPORT_OCR_DPI", "400"), ("REPORT_STAMPED_AGREEMENT_MIN", "0"),
                        ("REPORT_STAMPED_AGREEMENT_MIN", "1"), ("REPORT_SCHEDULE_AT", "0:00"),
                        ("REPORT_SCHEDULE_AT", "23:59"), ("REPORT_MAX_FILE_BYTES", "65536"),
                        ("REPORT_SCHEDULE_WORKDAY_OFFSET", "-3"), ("REPORT_OPS_EMAIL", "a@x.org; b@y.cn")]:
        monkeypatch.setenv(name, value)
        check_settings()
    assert settings().schedule_at == "23:59"


def test_every_wrong_setting_is_listed_at_once(monkeypatch):
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "0")
    monkeypatch.setenv("REPORT_OCR_DPI", "5")
    with pytest.raises(SettingsError, match=r"2 settings are wrong.*REPORT_MAX_FILE_BYTES.*REPORT_OCR_DPI"):
        check_settings()


def test_the_schedule_and_the_ops_address_are_read_past_another_wrong_setting(monkeypatch):
    """The DAG file reads the schedule at parse time and the failure alert reads the ops
    address: a wrong file limit must fail the run's first task, not the DAG's import or the alert."""
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "0")
    monkeypatch.setenv("REPORT_OPS_EMAIL", "ops@example.org")
    assert schedule_settings().at == "17:00" and ops_email() == "ops@example.org"
    monkeypatch.setenv("REPORT_SCHEDULE_AT", "24:00")
    with pytest.raises(SettingsError, match="REPORT_SCHEDULE_AT"):
        schedule_settings()


def test_the_dag_files_parse_time_settings_do_not_build_the_task_settings():
    """A DAG processor parses the DAG files again and again: the schedule's and the event
    intake's settings come from the specs alone, without the Settings and QuarterPaths
    classes every task builds (and the modules they pull in)."""
    code = ("import sys; import wcreport.orchestration.timetable, wcreport.core.setting_specs; "
            "print('wcreport.core.settings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
