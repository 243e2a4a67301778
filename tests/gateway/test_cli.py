"""The CLI offers every command the contract names (SPEC §1), each with --help."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app

runner = CliRunner()
COMMANDS = [["gateway"], ["simulate"], ["demo"], ["db", "migrate"], ["triage", "assess"], ["triage", "eval"],
            ["triage", "worker"], ["bags", "import"], ["bags", "export"], ["devices", "provision"],
            ["tokens", "create"], ["bench", "ingest"], ["bench", "ros2"], ["bench", "vision"], ["bench", "triage"],
            ["vision", "train"], ["triage", "train"], ["triage", "promote"], ["triage", "rollback"],
            ["triage", "models"], ["triage", "calibration"]]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_bench_triage_json_last_line() -> None:
    result = runner.invoke(app, ["bench", "triage", "--duration", "5", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["backend"] == "learned" and figures["n"] > 0
    assert figures["schema_valid"] == 1.0
    assert {"category_acc", "agency_acc", "severity_acc", "severity_within_one", "p50_ms", "p95_ms"} <= figures.keys()
