"""Which language a text is in, as far as the answer stages need to know: Chinese (or Japanese) or not.

Splitting, keyword search and word overlap treat CJK text differently (rag/text.py, rag/keyword.py), and an answer
or an abstention should be in the language of its question. Telling CJK text from the rest needs no model: the
share of CJK characters among the letters decides, which also settles mixed text ("ChatGLM-6B 有哪些局限性？" is
Chinese, "the 龙 dance" is English).
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

# CJK ideographs (with extension A and the compatibility block), kana, and CJK punctuation and full-width forms.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
_CJK = re.compile(f"[{CJK_CHARS}]")
_LETTER = re.compile(r"[A-Za-z]+")
# A text is CJK when CJK characters make up at least this share of its letters, counting an ASCII word as two
# characters (a Chinese word is about two characters long): a Chinese question about "OpenVINO" and "Llama 2"
# stays Chinese, an English sentence with one Chinese name stays English.
CJK_SHARE = 0.3


def cjk_share(text: str) -> float:
    """Share of CJK characters among the letters of ``text`` (ASCII words counted as two each); 0 for none."""
    cjk = len(_CJK.findall(text))
    latin = 2 * len(_LETTER.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def detect(text: str) -> Language:
    """``zh`` for text mostly in CJK characters (Chinese, or Japanese, which is written with them), else ``en``."""
    return "zh" if cjk_share(text) >= CJK_SHARE else "en"
