"""A programme file saved in another encoding (Notepad's UTF-16, WPS's GBK) is named, with the fix."""
from __future__ import annotations

import pytest

from conftest import PROGRAMME_FILE
from wcreport.core.programme import ProgrammeError, load_programme

TEXT = PROGRAMME_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(("encoding", "says"), [
    ("gbk", "not UTF-8 (it looks like GBK/GB18030)"),
    ("gb18030", "not UTF-8 (it looks like GBK/GB18030)"),
    ("utf-16", "saved as UTF-16"),        # Notepad's "Unicode": a BOM, then two bytes a character
    ("utf-16-le", "saved as UTF-16"),     # no BOM: the NUL bytes give it away
])
def test_a_programme_in_another_encoding_names_the_file_and_the_fix(tmp_path, encoding, says):
    path = tmp_path / "2023.yaml"
    path.write_bytes(TEXT.encode(encoding))
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    message = str(caught.value)
    assert str(path) in message and says in message and "请另存为 UTF-8" in message
    assert caught.value.__cause__ is None          # not a bare UnicodeDecodeError underneath


def test_the_bad_bytes_line_is_named(tmp_path):
    lines = TEXT.splitlines(keepends=True)
    first_chinese = next(i for i, line in enumerate(lines) if any("\u4e00" <= ch <= "\u9fff" for ch in line))
    path = tmp_path / "2023.yaml"
    path.write_bytes(TEXT.encode("gbk"))
    with pytest.raises(ProgrammeError, match=rf": line {first_chinese + 1}: not UTF-8"):
        load_programme(path)


def test_utf8_with_a_bom_loads_like_utf8(tmp_path):
    path = tmp_path / "2023.yaml"
    path.write_bytes(TEXT.encode("utf-8-sig"))
    assert load_programme(path) == load_programme(PROGRAMME_FILE)
