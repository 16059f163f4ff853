import subprocess
import sys

from sam2tui.cli import SUBCOMMANDS, main


def test_overview_lists_every_subcommand(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_no_arguments_prints_usage_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_help_does_not_import_torch_or_textual() -> None:
    code = "import sys; from sam2tui.cli import main; main(['--help']); print(sorted(m for m in ('torch', 'textual') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")
