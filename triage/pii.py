"""Personal data in report text: phone numbers, ID-card numbers, licence plates, e-mail
addresses and names people give, replaced before the text is stored, read or shown.

Each value becomes a typed placeholder with a short salted hash, ``[phone#3f9a1c]``, so two
reports from the same number can still be linked without keeping the number. The salt is the
deployment's (``URBANOPS_PII_SALT``; the gateway passes it in); ``triage`` never reads it
from the environment. Masking is idempotent: a placeholder is never masked again.

What is not caught: a name with no cue around it ("张伟说..."), numbers split by spaces in
unusual places. The patterns are conservative on purpose: a missed phone number is a privacy
leak, a masked house number only costs a word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Final

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SEP = r"[\s-]?"
#: (kind, pattern, group holding the value); order matters: ID cards before phones.
PATTERNS: Final[tuple[tuple[str, re.Pattern[str], int], ...]] = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), 0),
    ("id", re.compile(r"(?<![\dA-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                      r"(?![\dA-Za-z])"), 0),
    ("phone", re.compile(r"(?<![\d])(?:\+?86[\s-]?)?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}(?!\d)"), 0),
    ("phone", re.compile(r"(?<![\d])(?:\(?0\d{2,3}\)?[\s-]?)\d{7,8}(?!\d)"), 0),
    ("phone", re.compile(r"(?<![\d])\+852[\s-]?\d{4}[\s-]?\d{4}(?!\d)"), 0),
    ("plate", re.compile(rf"[{_PROVINCES}]\s?[A-HJ-NP-Z][\s·.-]?[A-HJ-NP-Z0-9]{{4}}"
                         r"[A-HJ-NP-Z0-9挂学警港澳]{1,2}"), 0),
    ("name", re.compile(r"(?:我叫|本人叫|我的名字是|联系人[:：]?|姓名[:：]?|署名[:：]?)\s?([\u4e00-\u9fff]{2,3})"), 1),
    ("name", re.compile(r"(?:我姓|免贵姓)([\u4e00-\u9fff])"), 1),
    ("name", re.compile(r"\b(?:[Mm]y name is|[Ii] am called|[Cc]all me|[Nn]ame:)\s+"
                        r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"), 1),
    ("name", re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+([A-Z][a-z]+)"), 1),
)
_PLACEHOLDER = re.compile(r"\[(?:email|id|phone|plate|name)#[0-9a-f]{6}\]")


def _token(kind: str, value: str, salt: bytes) -> str:
    digest = hashlib.sha256(salt + kind.encode() + b"\0" + re.sub(r"[\s()+-]", "", value).encode()).hexdigest()
    return f"[{kind}#{digest[:6]}]"


def mask(text: str, salt: bytes = b"urbanops") -> str:
    """``text`` with every personal value replaced by its placeholder."""
    for kind, pattern, group in PATTERNS:
        text = pattern.sub(_replacer(kind, group, salt), text)
    return text


def _replacer(kind: str, group: int, salt: bytes) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        if _PLACEHOLDER.fullmatch(m.group(0)):
            return m.group(0)
        whole, value = m.group(0), m.group(group)
        start = m.start(group) - m.start(0)
        return whole[:start] + _token(kind, value, salt) + whole[start + len(value):]
    return replace


def found(text: str) -> list[str]:
    """The kinds of personal value still present (for tests and the privacy search)."""
    return [kind for kind, pattern, _ in PATTERNS if pattern.search(_PLACEHOLDER.sub("", text))]
