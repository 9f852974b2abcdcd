"""resolve_download on raw strings, as a route would receive them after one decoding."""
from __future__ import annotations

import pytest

from wcreport.dashboard.safepath import UnsafePath, resolve_download


@pytest.fixture
def root(tmp_path):
    out = tmp_path / "out"
    (out / "2023Q1" / "feedback").mkdir(parents=True)
    (out / "2023Q1" / "feedback" / "a.txt").write_text("ok", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    return out


@pytest.mark.parametrize("path", [
    "../secret.txt", "2023Q1/../../secret.txt", "2023Q1/./feedback/a.txt", "/etc/passwd",
    "//etc/passwd", "C:\\Windows\\win.ini", "c:/windows/win.ini", "..\\secret.txt", "2023Q1//feedback/a.txt",
    "%2e%2e/secret.txt", "%2e%2e%2fsecret.txt", "%2Fetc%2Fpasswd", "a\x00.txt", "", "..",
])
def test_refused(root, path):
    with pytest.raises(UnsafePath):
        resolve_download(root, path)


def test_symlink_out_is_refused_and_inside_is_allowed(root, tmp_path):
    (root / "2023Q1" / "out.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UnsafePath):
        resolve_download(root, "2023Q1/out.txt")
    (root / "2023Q1" / "in.txt").symlink_to(root / "2023Q1" / "feedback" / "a.txt")
    assert resolve_download(root, "2023Q1/in.txt").read_text(encoding="utf-8") == "ok"


def test_a_symlinked_output_root_still_works(root, tmp_path):
    link = tmp_path / "link-to-out"
    link.symlink_to(root, target_is_directory=True)
    assert resolve_download(link, "2023Q1/feedback/a.txt").name == "a.txt"


def test_plain_files_resolve_and_folders_do_not(root):
    assert resolve_download(root, "2023Q1/feedback/a.txt").read_text(encoding="utf-8") == "ok"
    with pytest.raises(FileNotFoundError):
        resolve_download(root, "2023Q1/feedback")
    with pytest.raises(FileNotFoundError):
        resolve_download(root, "2023Q1/none.txt")
