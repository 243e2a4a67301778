"""Training copies of reports with shouting added, so that shouting moves nothing.

The policy (``triage/corpus/LABELLING.md``) says "URGENT!!!" or "人命关天" on a trivial
problem changes nothing: label the facts. A model trained only on what people wrote learns
the opposite, because in the corpus real emergencies are shouted more often. So the trainer adds,
for a seeded share of the text reports, a copy with a pressure phrase before or after the
text and the same labels. Out of fold (whole writers held out, 6,171 reports), with a share of 0.3:
a shouted phrase of a list the model never saw moved 290 of 1,711 decisions instead
of 352, and category, agency and severity were 0.2–0.4 points better.
The copies live in the training run only.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from triage.learned.corpus import record_meta

SHARE = 0.3
PRESSURE_ZH = ("紧急！！！", "特急！！", "十万火急！！！", "人命关天啊！！", "请马上处理！！！", "快快快！！！急急急",
               "非常紧急，请立刻派人", "【紧急】", "救命啊！！！", "急！！！！")
PRESSURE_EN = ("URGENT!!!", "EMERGENCY!!!", "CRITICAL!!! PLEASE", "ASAP!!!", "THIS IS AN EMERGENCY",
               "urgent urgent urgent", "PLEASE HURRY!!!", "HIGHEST PRIORITY!!!", "!!!URGENT!!!", "help!!! now!!!")


def _phrases(lang: object) -> tuple[str, ...]:
    return PRESSURE_EN if lang == "en" else PRESSURE_ZH if lang == "zh" else PRESSURE_EN + PRESSURE_ZH


def pressure_copies(records: list[dict[str, Any]], seed: int,
                    share: float = SHARE) -> list[tuple[int, dict[str, Any]]]:
    """(index of the original, copy) for a seeded ``share`` of the citizen-text records, shouted
    at, same labels.

    Manipulation records are left out (they are about pressure already); a copy keeps its
    writer, so cross-validation keeps it in its original's fold.
    """
    rng = random.Random(seed)
    out = []
    for i, r in enumerate(records):
        meta = record_meta(r)
        if meta.get("kind") in ("manipulation", "override") or rng.random() >= share:
            continue
        shouted = copy.deepcopy(r)
        texts = [o for o in shouted.get("observations", []) if o.get("source") == "citizen" and o.get("text")]
        if not texts:
            continue
        phrase = rng.choice(_phrases(meta.get("lang")))
        texts[0]["text"] = f"{phrase} {texts[0]['text']}" if rng.random() < 0.5 else f"{texts[0]['text']} {phrase}"
        shouted["incident_id"] = f"{r['incident_id']}~shouted"
        shouted["meta"] = {**meta, "kind": "pressure_copy"}
        out.append((i, shouted))
    return out
