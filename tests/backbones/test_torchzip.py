"""The restricted reader of PyTorch zip checkpoints (``audioclf.backbones._torchzip``)."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from audioclf.backbones._torchzip import ALLOWED_GLOBALS, load_restricted, read_torch_zip
from audioclf.errors import BackboneError


def test_allowed_globals_are_exactly_the_state_dict_set():
    assert set(ALLOWED_GLOBALS) == {
        ("torch._utils", "_rebuild_tensor_v2"), ("torch", "FloatStorage"), ("torch", "LongStorage"),
        ("collections", "OrderedDict"), ("numpy.core.multiarray", "scalar"), ("numpy", "dtype"),
        ("_codecs", "encode")}


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class _Evil2:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", [_Evil(), _Evil2(), {"x": _Evil()}, OrderedDict(a=_Evil2())])
def test_refuses_any_other_global(payload, monkeypatch):
    data = pickle.dumps(payload, protocol=2)
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(BackboneError, match="names the global .* which is not allowed"):
        load_restricted(data)
    assert called == []


def test_refuses_a_malicious_checkpoint_zip(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps((_Evil(), {}), protocol=2))
        zf.writestr("archive/version", "3\n")
    with pytest.raises(BackboneError, match="posix.system|os.system|nt.system"):
        read_torch_zip(path)


def test_allowed_plain_objects_load():
    data = pickle.dumps(OrderedDict(a=1, b=(2.5, "x")), protocol=2)
    assert load_restricted(data) == OrderedDict(a=1, b=(2.5, "x"))


def test_not_a_zip(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not a zip")
    with pytest.raises(BackboneError, match="not a PyTorch zip checkpoint"):
        read_torch_zip(tmp_path / "x.pth")


def test_reads_the_aisfx_checkpoint(aisfx_state):
    state = aisfx_state
    assert isinstance(state, OrderedDict)
    w = state["embedding_net.conv_block1.conv1.weight"]
    assert w.shape == (64, 1, 3, 3) and w.dtype == np.float32
    assert state["embedding_net.conv_block4.conv2.weight"].shape == (512, 512, 3, 3)
    assert state["embedding_net.conv_block2.bn1.running_var"].shape == (128,)
    assert np.all(state["embedding_net.conv_block2.bn1.running_var"] > 0)
    assert state["embedding_net.conv_block1.bn1.num_batches_tracked"].dtype == np.int64
    n = sum(v.size for k, v in state.items() if k.startswith("embedding_net.") and "num_batches" not in k)
    assert n == 4_689_984


def test_strided_views_match_numpy():
    """A tensor that is a transposed view of its storage is rebuilt with its strides."""
    from audioclf.backbones._torchzip import _rebuild_tensor_v2

    storage = np.arange(12, dtype=np.float32)
    out = _rebuild_tensor_v2(storage, 0, (3, 4), (1, 3))
    np.testing.assert_array_equal(out, storage.reshape(4, 3).T)
    with pytest.raises(BackboneError, match="does not fit its storage"):
        _rebuild_tensor_v2(storage, 4, (3, 4), (4, 1))


def test_malformed_pickle_is_one_clear_error():
    with pytest.raises(BackboneError, match="could not be read"):
        load_restricted(b"\x80\x02garbage")


def test_a_torch_global_outside_the_list_is_refused():
    """``torch.load`` itself (or any other torch name) is refused, even though ``torch.*`` storages are not."""
    data = b"\x80\x02ctorch\nload\nq\x00."
    with pytest.raises(BackboneError, match="torch.load, which is not allowed"):
        load_restricted(data)
