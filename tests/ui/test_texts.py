"""Teaching texts: every key a page asks for exists and says something."""

from __future__ import annotations

import re

import pytest

from audioclf.errors import ParameterError
from audioclf.ui.texts import LESSONS, get_lesson, lesson_keys
from tests.conftest import ROOT


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for page in (ROOT / "pages").glob("*.py"):
        keys |= set(re.findall(r"""\blesson\(\s*["']([a-z0-9_]+)["']\s*\)""", page.read_text(encoding="utf-8")))
    return keys


def test_every_key_the_pages_use_exists_and_is_not_empty():
    used = _used_keys()
    assert {"confusion_matrix", "precision_recall_f1", "timeline", "windows_padding", "embeddings_unknown",
            "attention", "gradcam"} <= used
    for key in used:
        lesson = get_lesson(key)
        assert lesson.title.strip() and len(lesson.text.split()) >= 30, key


def test_every_lesson_is_shown_somewhere():
    assert set(lesson_keys()) == _used_keys()
    assert len({lesson.title for lesson in LESSONS}) == len(LESSONS)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ParameterError, match="no teaching text 'nope'; known: confusion_matrix, "):
        get_lesson("nope")
