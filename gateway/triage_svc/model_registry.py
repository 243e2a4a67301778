"""Which triage model is live: candidates, the active one, promotion history and rollback.

Files under ``{data_dir}/models/triage/``: candidate artefacts (``*.npz``), ``active.json``
(the live model: version, path, sha256, when, by whom, the evidence it was promoted on, and the
record it replaced) and ``history.jsonl`` (every promotion and rollback). No ``active.json``:
the model shipped in ``triage/learned/weights`` is live.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.learned.model import DEFAULT_MODEL


class RegistryError(Exception):
    """A promotion or rollback that cannot be done (nothing to roll back to, missing file)."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ModelRegistry:
    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "models" / "triage"

    @property
    def _active_file(self) -> Path:
        return self.dir / "active.json"

    def active(self) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(self._active_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return record

    def active_path(self) -> Path:
        """The live artefact: the promoted one, else the shipped one."""
        record = self.active()
        return Path(record["path"]) if record else DEFAULT_MODEL

    def candidate_path(self, version: str) -> Path:
        return self.dir / f"{version}.npz"

    def _write_active(self, record: dict[str, Any] | None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if record is None:
            self._active_file.unlink(missing_ok=True)
            return
        tmp = self._active_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self._active_file)  # a reader sees the old or the new record, never half

    def _log(self, event: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "history.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")

    def history(self) -> list[dict[str, Any]]:
        path = self.dir / "history.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def promote(self, path: Path, version: str, *, actor: str, evidence: dict[str, Any]) -> dict[str, Any]:
        if not path.is_file():
            raise RegistryError(f"no model file {path}")
        record = {"version": version, "path": str(path.resolve()), "sha256": sha256_of(path),
                  "promoted_at": datetime.now(UTC).isoformat(), "promoted_by": actor,
                  "evidence": evidence, "previous": self.active()}
        self._write_active(record)
        self._log({"action": "promote", **{k: v for k, v in record.items() if k != "previous"}})
        return record

    def rollback(self, *, actor: str) -> dict[str, Any] | None:
        """Back to the record the active one replaced (None: back to the shipped model)."""
        current = self.active()
        if current is None:
            raise RegistryError("the shipped model is live: nothing to roll back")
        previous = current.get("previous")
        self._write_active(previous)
        self._log({"action": "rollback", "from": current["version"],
                   "to": previous["version"] if previous else "shipped",
                   "at": datetime.now(UTC).isoformat(), "by": actor})
        return previous
