"""The wire format rejects what it must before anything is unpickled (sans-IO tests)."""

from __future__ import annotations

import pickle
import struct

import pytest

from _needs import need_module
from rayground._core import config, protocol
from rayground._core.serialization import deserialize, serialize
from rayground._core.transport import FrameError, frame, split_frames


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_envelopes_refuse_globals():
    with pytest.raises(protocol.ProtocolError, match="global"):
        protocol.loads(pickle.dumps([("submit", Evil())]))


@pytest.mark.parametrize("junk", [b"\x80", b"\x80\x05garbage", b"not a pickle", b"\x00" * 9])
def test_garbage_envelopes_raise_protocol_error(junk):
    with pytest.raises(protocol.ProtocolError):
        protocol.loads(junk)


def test_frames_split_and_keep_the_partial_tail():
    buf = bytearray(frame(b"one") + frame(b"two") + frame(b"three")[:5])
    frames, used = split_frames(buf)
    assert frames == [b"one", b"two"]
    assert used == len(frame(b"one") + frame(b"two"))


def test_oversized_frame_is_refused_before_allocation():
    buf = bytearray(struct.pack("<I", config.MAX_FRAME + 1) + b"x")
    with pytest.raises(FrameError):
        split_frames(buf)


def test_serialization_keeps_arrays_out_of_band_and_read_only():
    np = need_module("numpy", "numpy is one of rayground's dependencies")
    arr = np.arange(10_000, dtype=np.float64)
    obj = serialize({"a": arr})
    assert obj.buffers and obj.buffers[0].nbytes == arr.nbytes
    out = deserialize(obj.to_bytes())["a"]
    assert out.flags.writeable is False
    np.testing.assert_array_equal(out, arr)
