"""The rules that keep tests from vanishing: browser discovery and skip-or-fail under CI."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import find_chromium, require_files, skip_or_fail


def _executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_missing_browser_or_data_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser"):
        skip_or_fail("no browser")


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_missing_browser_or_data_fails_under_ci(monkeypatch: pytest.MonkeyPatch,
                                                value: str, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        skip_or_fail("no browser")
    with pytest.raises(pytest.fail.Exception, match="real data not present"):
        require_files(tmp_path / "missing.shp")


def test_playwright_build_is_preferred_then_path(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    own = _executable(tmp_path, "chrome")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    system = _executable(bin_dir, "chromium-browser")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_chromium(SimpleNamespace(executable_path=str(own))) == str(own)
    # playwright's build not downloaded: the one on PATH
    assert find_chromium(SimpleNamespace(executable_path=str(tmp_path / "nope"))) == str(system)
    system.unlink()
    assert find_chromium(SimpleNamespace(executable_path="")) is None
