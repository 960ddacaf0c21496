"""The golden update mode (CELLWMS_UPDATE_GOLDEN=1) writes the files and fails, naming them."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_files import check_golden

ROOT = Path(__file__).resolve().parent.parent


def test_update_mode_writes_then_fails_with_the_file(tmp_path, monkeypatch):
    golden = tmp_path / "golden" / "a.bin"
    monkeypatch.setenv("CELLWMS_UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        check_golden(golden, b"new")
    assert golden.read_bytes() == b"new"
    assert str(golden) in str(failed.value) and "created" in str(failed.value)
    with pytest.raises(pytest.fail.Exception) as failed:
        check_golden(golden, b"newer")
    assert golden.read_bytes() == b"newer" and "changed" in str(failed.value)

    monkeypatch.delenv("CELLWMS_UPDATE_GOLDEN")
    check_golden(golden, b"newer")  # a plain run checks what was written
    with pytest.raises(AssertionError, match="a.bin differs"):
        check_golden(golden, b"other")


def test_a_pytest_run_that_rewrites_goldens_is_not_green(tmp_path):
    case = tmp_path / "test_case.py"
    case.write_text("from pathlib import Path\nfrom tests.golden_files import check_golden\n\n"
                    "def test_it():\n    check_golden(Path(__file__).parent / 'g.bin', b'x')\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          "--rootdir", str(tmp_path), str(case)],
                         cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CELLWMS_UPDATE_GOLDEN": "1"},
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"wrote {tmp_path / 'g.bin'}" in run.stdout and (tmp_path / "g.bin").read_bytes() == b"x"
