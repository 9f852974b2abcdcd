"""Compiled templates are kept between processes (Jinja's bytecode cache) and never go stale."""
from __future__ import annotations

import sys
import tempfile

import jinja2
import pytest

from wcreport.core import templating

PACKAGE = "template_cache_probe"

@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A fresh temp folder and fresh template environments, as in a new task process."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.delitem(sys.modules, PACKAGE, raising=False)   # each test's own probe package

    def fresh_process():
        templating._bytecode_cache.cache_clear()
        templating.environment.cache_clear()

    fresh_process()
    yield tmp_path, fresh_process
    fresh_process()


def _compiles(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        calls.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return calls


def _a_template(tmp_path):
    folder = tmp_path / PACKAGE / "templates"
    folder.mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (folder / "hello.txt.j2").write_text("你好，{{ unit }}", encoding="utf-8")
    return folder / "hello.txt.j2"


def test_a_second_process_renders_without_compiling(private_tmp, monkeypatch):
    tmp_path, fresh_process = private_tmp
    _a_template(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = _compiles(monkeypatch)
    assert templating.render(PACKAGE, "hello.txt.j2", unit="妇联") == "你好，妇联"
    assert calls == ["hello.txt.j2"]
    assert any(tmp_path.glob("_jinja2-cache-*/*.cache"))
    fresh_process()
    assert templating.render(PACKAGE, "hello.txt.j2", unit="教育局") == "你好，教育局"
    assert calls == ["hello.txt.j2"], "the second process compiled the template again"


def test_an_edited_template_is_compiled_again(private_tmp, monkeypatch):
    tmp_path, fresh_process = private_tmp
    template = _a_template(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert templating.render(PACKAGE, "hello.txt.j2", unit="妇联") == "你好，妇联"
    template.write_text("您好，{{ unit }}！", encoding="utf-8")
    fresh_process()
    assert templating.render(PACKAGE, "hello.txt.j2", unit="妇联") == "您好，妇联！"


def test_no_usable_cache_folder_still_renders(private_tmp, monkeypatch):
    tmp_path, fresh_process = private_tmp
    _a_template(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def refuse(*_args, **_kwargs):
        raise RuntimeError("unsafe cache folder")

    monkeypatch.setattr(templating, "FileSystemBytecodeCache", refuse)
    fresh_process()
    assert templating.environment(PACKAGE).bytecode_cache is None
    assert templating.render(PACKAGE, "hello.txt.j2", unit="妇联") == "你好，妇联"
