"""The `skkd` command."""

import subprocess
import sys

from skkd.cli import main


def test_demo_prints_the_three_phases(capsys):
    assert main(["demo", "--teacher-epochs", "1", "--student-epochs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skkd demo: digits (1347 train / 450 test images)" in out
    table = out[out.index("| model"):]
    for row in ("| teacher |", "| scratch student |", "| distilled student |"):
        assert row in table
    assert "| distilled student |" in table and "6,090" in table  # the student's parameters


def test_demo_plots_test_accuracy_per_epoch(tmp_path, capsys):
    png = tmp_path / "curves.png"
    main(["demo", "--teacher-epochs", "2", "--student-epochs", "2", "--no-progress",
          "--plot", str(png)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in capsys.readouterr().out


def test_python_dash_m_skkd_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "skkd", "--help"], capture_output=True,
                            text=True, check=True)
    assert "demo" in result.stdout and "plugins" in result.stdout
