"""`run_cli(capsys, *argv)`: `rnnlab ARGV` through `rnnlab.cli.main` in-process; its stdout, exit status 0
asserted (stderr in the failure message). Shared by the task tests that drive the command line."""

from __future__ import annotations

from rnnlab.cli import main


def run_cli(capsys, *argv) -> str:
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out
