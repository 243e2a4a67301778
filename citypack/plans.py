"""``plans/<plan-id>.<lang>.md``: emergency plans and SOPs, one file per language.

A plan starts with YAML front matter (``id``, ``lang``, ``title``, ``categories``) and is cut
into numbered sections (``## 1. Heading``). Section numbers are the citation anchors, so the
zh and en versions of a plan must number the same sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from citypack.errors import Problem
from devices.vocabulary import Category

_FILE = re.compile(r"^(?P<id>[a-z0-9][a-z0-9-]{0,63})\.(?P<lang>zh|en)\.md$")
_FRONT = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n", re.S)
_SECTION = re.compile(r"^## (?P<n>\d+)\.\s+(?P<heading>.+?)\s*$", re.M)


@dataclass(frozen=True)
class Section:
    number: int
    heading: str
    text: str


@dataclass(frozen=True)
class Plan:
    id: str
    lang: str
    title: str
    categories: tuple[Category, ...]
    preamble: str
    sections: tuple[Section, ...]
    file: str  # relative to the pack, e.g. plans/fire.zh.md

    def section(self, number: int) -> Section | None:
        return next((s for s in self.sections if s.number == number), None)


def _parse(path: Path, rel: str, problems: list[Problem]) -> Plan | None:
    m = _FILE.match(path.name)
    if m is None:
        problems.append(Problem(rel, "plan files are named <plan-id>.<zh|en>.md"))
        return None
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(rel, f"not readable: {err}"))
        return None
    front = _FRONT.match(raw)
    if front is None:
        problems.append(Problem(rel, "must start with YAML front matter between '---' lines"))
        return None
    try:
        meta = yaml.safe_load(front.group("yaml"))
    except yaml.YAMLError as err:
        problems.append(Problem(rel, f"front matter is not YAML: {err}"))
        return None
    if not isinstance(meta, dict):
        problems.append(Problem(rel, "front matter must be a mapping"))
        return None
    before = len(problems)
    for key, want in (("id", m["id"]), ("lang", m["lang"])):
        if meta.get(key) != want:
            problems.append(Problem(rel, f"must be {want!r} (from the file name), not {meta.get(key)!r}",
                                    field=f"front matter {key}"))
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(Problem(rel, "a title is required", field="front matter title"))
    cats = meta.get("categories")
    known = {c.value for c in Category}
    if not isinstance(cats, list) or not cats or not all(c in known for c in cats):
        problems.append(Problem(rel, f"a list drawn from: {', '.join(sorted(known))}", field="front matter categories"))
    body = raw[front.end():]
    heads = list(_SECTION.finditer(body))
    if not heads:
        problems.append(Problem(rel, "no numbered sections ('## 1. Heading')"))
    sections = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        number = int(h["n"])
        if number != i + 1:
            problems.append(Problem(rel, f"sections must be numbered 1, 2, 3 …; found {number} at position {i + 1}",
                                    f"section {number}"))
        text = body[h.end():end].strip()
        if not text:
            problems.append(Problem(rel, "section is empty", f"section {number}"))
        sections.append(Section(number, h["heading"], text))
    if len(problems) > before:
        return None
    preamble = body[:heads[0].start()].strip() if heads else body.strip()
    return Plan(m["id"], m["lang"], str(title).strip(), tuple(Category(c) for c in cats or ()), preamble,
                tuple(sections), rel)


def read_plans(root: Path, problems: list[Problem]) -> list[Plan]:
    folder = root / "plans"
    if not folder.is_dir():
        return []
    plans = [p for path in sorted(folder.iterdir()) if path.suffix == ".md"
             if (p := _parse(path, f"plans/{path.name}", problems)) is not None]
    by_id: dict[str, list[Plan]] = {}
    for p in plans:
        by_id.setdefault(p.id, []).append(p)
    for versions in by_id.values():
        numbers = {tuple(s.number for s in v.sections) for v in versions}
        if len(numbers) > 1:
            problems.append(Problem(versions[-1].file, "the language versions of a plan must have the same sections "
                                    f"({', '.join(f'{v.file}: {len(v.sections)}' for v in versions)})"))
    return plans
