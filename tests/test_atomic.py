"""Crash-safe writes: the old file or the new one under the target's name, never half of one."""

from __future__ import annotations

import os
import stat

import pytest

from audioclf._atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "a.bin"
    assert write_bytes_atomic(target, b"one") == target
    write_bytes_atomic(target, b"two")
    write_text_atomic(tmp_path / "t.json", "{\"é\": 1}")
    assert target.read_bytes() == b"two"
    assert (tmp_path / "t.json").read_text(encoding="utf-8") == "{\"é\": 1}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.bin"]


def test_temporary_keeps_the_suffix_is_hidden_and_gets_the_usual_mode(tmp_path):
    target = tmp_path / "best.keras"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".best.keras.tmp-") and tmp.suffix == ".keras"
        assert not target.exists()
        tmp.write_bytes(b"model")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's private 0600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "ck.keras"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_bytes(b"ha")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ck.keras"]
