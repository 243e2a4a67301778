"""Check a labelled triage corpus file: every line an incident the models accept, labels from
the closed sets, the agency allowed for the category, ids unique, and a coverage count.

``python -m triage.corpus_check FILE.jsonl [...]`` exits 1 on the first file with an error.
The policy the labels follow is ``triage/corpus/LABELLING.md``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from triage.models import Agency, Category, Incident, Severity
from triage.taxonomy import LEAD_AGENCY

KINDS = frozenset({"report", "hard_negative", "manipulation", "multi_source", "device"})
LANGS = frozenset({"zh", "en", "mixed"})


def check_record(record: dict[str, object]) -> list[str]:
    """The problems of one labelled record (empty when it is fine)."""
    problems: list[str] = []
    try:
        Incident.model_validate(record)
    except ValidationError as exc:
        problems.append(f"not an incident: {exc.errors()[0]['msg']}")
    expected = record.get("expected")
    if not isinstance(expected, dict):
        return [*problems, "no expected labels"]
    try:
        category = Category(str(expected.get("category")))
        Severity(str(expected.get("severity")))
        agency = Agency(str(expected.get("agency")))
    except ValueError as exc:
        return [*problems, str(exc)]
    if agency not in (LEAD_AGENCY[category], Agency.EMERGENCY_MANAGEMENT):
        problems.append(f"agency {agency} is not the lead of {category} nor emergency_management")
    meta = record.get("meta")
    if isinstance(meta, dict):
        if meta.get("lang") not in LANGS:
            problems.append(f"meta.lang must be one of {sorted(LANGS)}")
        if meta.get("kind") not in KINDS:
            problems.append(f"meta.kind must be one of {sorted(KINDS)}")
    return problems


def check_file(path: Path) -> tuple[int, Counter[str]]:
    errors = 0
    seen: set[str] = set()
    coverage: Counter[str] = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            print(f"{path}:{number}: invalid JSON: {exc}")
            errors += 1
            continue
        problems = check_record(record)
        ident = str(record.get("incident_id"))
        if ident in seen:
            problems.append(f"duplicate incident_id {ident}")
        seen.add(ident)
        for problem in problems:
            print(f"{path}:{number}: {problem}")
        errors += bool(problems)
        exp = record.get("expected") or {}
        meta = record.get("meta") or {}
        for key in ("category", "severity", "agency"):
            coverage[f"{key}={exp.get(key)}"] += 1
        for key in ("lang", "kind"):
            coverage[f"{key}={meta.get(key)}"] += 1
    return errors, coverage


def main(argv: list[str]) -> int:
    status = 0
    for name in argv:
        errors, coverage = check_file(Path(name))
        total = sum(v for k, v in coverage.items() if k.startswith("category="))
        print(f"{name}: {total} records, {errors} with errors")
        for key, count in sorted(coverage.items()):
            print(f"  {key}: {count}")
        status = status or int(errors > 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
