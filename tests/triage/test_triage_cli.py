"""``urbanops triage assess|eval`` through typer's CliRunner (SPEC §4, §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.triage import app, triage_config
from gateway.settings import Settings
from tests.triage.conftest import DEV_SET, dev_lines

SPEC_KEYS = {"n", "category_acc", "agency_acc", "severity_acc", "severity_within_one",
             "schema_valid", "p50_ms", "p95_ms", "backend"}


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("URBANOPS_TRIAGE_BACKEND", "rules")
    return CliRunner()


def test_assess_file_one_ticket_per_line_in_order(runner: CliRunner, tmp_path: Path) -> None:
    lines = dev_lines()[:25]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # a trailing blank line is skipped
    result = runner.invoke(app, ["assess", str(src)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [t["incident_id"] for t in out] == [json.loads(line)["incident_id"] for line in lines]
    assert all("ticket_id" in t and "error" not in t for t in out)


def test_assess_stdin_with_bad_lines(runner: CliRunner) -> None:
    good = dev_lines()[0]
    stdin = "\n".join([good, "{not json", '{"incident_id": "x-2", "observations": "nope"}',
                       '[1, 2]', good.replace("dev-0001", "dev-b")]) + "\n"
    result = runner.invoke(app, ["assess", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["incident_id"] == "dev-0001" and "ticket_id" in out[0]
    assert out[1]["error"]["kind"] == "invalid_json" and out[1]["line"] == 2
    assert out[2] == {"incident_id": "x-2", "line": 3, "error": out[2]["error"]}
    assert out[2]["error"]["kind"] == "invalid_incident"
    assert out[3]["error"]["kind"] == "invalid_incident"
    assert out[4]["incident_id"] == "dev-b"


def test_eval_json_last_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["eval", str(DEV_SET), "--backend", "rules", "--json"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(last) >= SPEC_KEYS
    assert last["backend"] == "rules" and last["n"] == len(dev_lines())
    assert set(last["confusion"]) == {"category", "severity", "agency"}


def test_eval_human_output_and_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["eval", str(DEV_SET)])
    assert result.exit_code == 0 and "category_acc" in result.stdout
    for cmd in (["--help"], ["assess", "--help"], ["eval", "--help"]):
        assert runner.invoke(app, cmd).exit_code == 0


def test_unusable_backend_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    bad = runner.invoke(app, ["assess", "-", "--backend", "oracle"], input="")
    assert bad.exit_code == 2 and "unknown triage backend" in bad.stderr
    missing = runner.invoke(app, ["assess", "-", "--backend", "llm", "--model", str(tmp_path / "no.gguf")],
                            input="")
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_config_from_settings() -> None:
    s = Settings(triage_backend="llm", llm_model=Path("/m/x.gguf"), llm_timeout_s=5, llm_max_tokens=256,
                 llm_threads=3, llm_ctx=4096)
    c = triage_config(s)
    assert (c.backend, c.llm_model, c.timeout_s, c.max_tokens, c.threads, c.n_ctx) == (
        "llm", Path("/m/x.gguf"), 5, 256, 3, 4096)
    assert triage_config(s, backend="rules").backend == "rules"


class Broken:
    name = "broken"

    def assess(self, incident: object) -> object:
        raise RuntimeError("model exploded")

    def close(self) -> None:
        pass


def test_backend_failure_is_an_error_record_not_a_crash() -> None:
    from triage.assess import assess_lines

    out = [json.loads(line) for line in assess_lines(dev_lines()[:2], Broken())]  # type: ignore[arg-type]
    assert [o["incident_id"] for o in out] == ["dev-0001", "dev-0002"]
    assert all(o["error"]["kind"] == "backend_error" and "exploded" in o["error"]["message"] for o in out)
