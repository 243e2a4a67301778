"""The import contracts ([tool.importlinter] in pyproject.toml) hold, and they catch violations.

Each violation is planted in a temporary copy of the packages (only their ``.py`` files), never
in the real tree; ``lint-imports`` then runs on the copy with the project's own contracts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("devices", "citypack", "gateway", "vision", "triage", "simulators")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy's packages shadow the installed (editable) ones.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def _copy_tree(dest: Path) -> Path:
    def not_python(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if not (Path(folder, n).is_dir() or n.endswith(".py"))} | {"__pycache__"}

    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=not_python)
    shutil.copyfile(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_real_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_unchanged_copy_keeps_every_contract(tmp_path: Path) -> None:
    """The copy is faithful: what breaks below is the planted import, nothing else."""
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Analyzed" in result.stdout and "0 broken" in result.stdout


LAYERS = "gateway -> vision | triage | simulators -> citypack -> devices"
# (module planted in the copy, its source, the contract that must break, what the report names)
VIOLATIONS = [
    pytest.param("citypack/_planted.py", "from gateway.settings import Settings\n",
                 LAYERS,
                 "citypack._planted -> gateway.settings", id="citypack-imports-gateway"),
    pytest.param("devices/_planted.py", "import triage.models\n",
                 LAYERS, "devices._planted -> triage.models",
                 id="devices-imports-triage"),
    pytest.param("triage/_planted.py", "from simulators.scenario import load_scenario\n",
                 LAYERS, "triage._planted -> simulators.scenario",
                 id="triage-imports-simulators"),
    pytest.param("vision/_planted.py", "def lazy() -> None:\n    import simulators.scenes.dataset\n",
                 LAYERS, "vision._planted -> simulators.scenes",
                 id="vision-imports-simulators-lazily"),
    pytest.param("simulators/_planted.py", "import gateway.local_services\n",
                 LAYERS, "simulators._planted -> gateway",
                 id="simulators-import-gateway"),
    pytest.param("gateway/api/_planted.py", "from simulators.fleet import run_fleet\n",
                 "Only the simulator-driving commands", "gateway.api._planted -> simulators.fleet",
                 id="production-route-imports-simulators"),
    pytest.param("gateway/_planted.py", "from gateway.cli.demo import run_demo\n",
                 "reachable only from the command line", "gateway._planted -> gateway.cli.demo",
                 id="production-module-imports-the-demo"),
    pytest.param("triage/_planted.py", "from triage.llm import LlmBackend\n",
                 "No import cycles", "No cycles are allowed in triage", id="cycle-in-triage"),
]


@pytest.mark.parametrize(("module", "source", "contract", "named"), VIOLATIONS)
def test_a_planted_violation_breaks_its_contract(tmp_path: Path, module: str, source: str, contract: str,
                                                 named: str) -> None:
    root = _copy_tree(tmp_path)
    (root / module).write_text('"""Planted by tests/test_import_contracts.py."""\n\n' + source)
    if "triage.llm" in source:  # close the cycle: triage.llm -> triage._planted -> triage.llm
        llm = root / "triage" / "llm.py"
        llm.write_text(llm.read_text() + "\n\ndef _planted() -> None:\n    import triage._planted  # noqa\n")
    result = _lint(root)
    out = " ".join(result.stdout.split())  # the report wraps long names
    assert result.returncode != 0, out
    assert f"{contract}" in out and "BROKEN" in out, out
    broken = out.split("Broken contracts", 1)[1]
    assert named in broken, broken
    assert "1 broken" in out, out  # exactly the planted one
