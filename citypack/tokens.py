"""Words for retrieval: jieba for Chinese, plain words for English, and Chinese bigrams.

jieba's search mode cuts 地铁口 into 地铁 / 铁口 / 地铁口, so a report that says 地铁口 and a
plan that says 地铁出入口 share 地铁. Character bigrams are added under jieba's words because
reports are full of words no dictionary has (下穿, 水浸, homophone typos): two characters in a
row still match. jieba is imported on first use (its dictionary takes a second or two to load).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

_CJK = re.compile(r"[\u3400-\u9fff]+")
_LATIN = re.compile(r"[a-z][a-z0-9']*")
_ZH_STOP_WORDS = """的 了 是 在 有 和 与 及 或 等 也 都 就 被 把 对 为 由 须 应 时 后 前 内 中 个 一 不 其 并 将
我 你 他 她 它 们 这 那 吗 呢 啊 吧 呀 哦 嘛 啦 咯 喔 得 地 着 过 还 很 又 要 会 能 可 以 之 于 所 该 此 各 每 如 若
但 而 且 已经 一个 我们 你们 他们 没有 就是 现在 这个 那个 还是 因为 所以 如果 可以 进行 相关 有关 情况 问题
请 好 说 看 去 来 到 让 给 用 做 想 知道 怎么 什么 为什么 谁 哪 里 边"""
_EN_STOP_WORDS = """a an the and or of to in on at by for from with without into onto over under is are was were
be been being it its this that these those there here i me my we our you your he she they them their his her as if
then than so not no but can could would should will shall may might must do does did has have had just very also any
all some each every per within up out off about near"""
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())
_EN_STOP = frozenset(_EN_STOP_WORDS.split())


@functools.cache
def _jieba() -> Callable[[str], list[str]]:
    import jieba  # heavy: a 20 MB dictionary, loaded once per process

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    cut: Callable[[str], list[str]] = jieba.lcut_for_search
    return cut


def warm() -> None:
    """Load the Chinese dictionary now (at start, not on the first ticket)."""
    _jieba()


def _stem(word: str) -> str:
    """Crude English suffix stripping: flooded / flooding / floods → flood."""
    for suffix in ("ings", "ing", "edly", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # stopped → stopp → stop
    return word


def tokens(text: str) -> list[str]:
    """Retrieval terms of ``text`` in whatever mix of Chinese and English it is written."""
    lowered = text.lower()
    out: list[str] = []
    for run in _CJK.findall(lowered):
        out.extend(w for w in _jieba()(run) if w not in _ZH_STOP and _CJK.fullmatch(w))
        out.extend("~" + run[i:i + 2] for i in range(len(run) - 1))
    for word in _LATIN.findall(_CJK.sub(" ", lowered)):
        word = word.strip("'")
        if len(word) > 1 and word not in _EN_STOP:
            out.append(_stem(word))
    return out


def describe() -> dict[str, Any]:
    """What the tokenizer is (for the knowledge base's provenance)."""
    try:
        from importlib.metadata import version

        jieba_version = version("jieba")
    except Exception:  # metadata missing in odd installs: the name is enough
        jieba_version = "unknown"
    return {"zh": f"jieba {jieba_version} search mode + character bigrams", "en": "words, suffix-stripped"}
