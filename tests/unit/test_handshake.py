"""The handshake proves both ends hold the token without sending it (sans-IO tests)."""

from __future__ import annotations

import pickle

import pytest

from rayground._core import config, handshake

TOKEN = b"a" * 64


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def _run(peer_token: bytes, server_token: bytes, info: object = None) -> dict:
    """Both sides in memory; returns the INFO the server accepted."""
    peer = handshake.PeerHandshake(peer_token)
    server = handshake.ServerHandshake(server_token)
    answer, none = server.receive(peer.challenge())
    assert none is None and answer is not None
    proof, payload = peer.answer(answer, {"role": "driver"} if info is None else info)
    assert server.receive(proof) == (None, None)
    reply, got = server.receive(payload)
    assert reply is None
    return got


def test_both_sides_agree_and_the_token_never_crosses():
    peer = handshake.PeerHandshake(TOKEN)
    server = handshake.ServerHandshake(TOKEN)
    challenge = peer.challenge()
    answer, _ = server.receive(challenge)
    proof, payload = peer.answer(answer, {"role": "driver", "client_id": "c1"})
    server.receive(proof)
    assert server.receive(payload) == (None, {"role": "driver", "client_id": "c1"})
    for sent in (challenge, answer, proof, payload):
        assert TOKEN not in sent and TOKEN[:16] not in sent


def test_a_server_without_the_token_is_not_believed():
    """A process listening where a peer connects cannot make the server's proof: the peer
    stops before proving anything itself."""
    with pytest.raises(handshake.HandshakeError, match="did not prove it holds the token given"):
        _run(TOKEN, b"b" * 64)


def test_a_peer_without_the_token_is_refused_before_its_info_is_unpickled():
    peer = handshake.PeerHandshake(b"b" * 64)
    server = handshake.ServerHandshake(TOKEN)
    server.receive(peer.challenge())
    # The wrong-token peer cannot check the answer either; it sends a proof of its own making.
    with pytest.raises(handshake.HandshakeError, match="wrong token"):
        server.receive(b"\0" * handshake.PROOF_LEN)
    assert server.state == "proof"  # never reached INFO


def test_a_servers_proof_cannot_be_reflected_as_a_peers():
    """An attacker opens two connections and hands the server's own proof back to it."""
    server = handshake.ServerHandshake(TOKEN)
    nonce = b"n" * handshake.NONCE_LEN
    challenge = handshake.MAGIC + config.PROTOCOL_VERSION.to_bytes(2, "little") + nonce
    answer, _ = server.receive(challenge)
    proof_s = answer[-handshake.PROOF_LEN :]
    with pytest.raises(handshake.HandshakeError, match="wrong token"):
        server.receive(proof_s)


def test_info_refuses_globals():
    peer = handshake.PeerHandshake(TOKEN)
    server = handshake.ServerHandshake(TOKEN)
    answer, _ = server.receive(peer.challenge())
    proof, _ = peer.answer(answer, {})
    server.receive(proof)
    with pytest.raises(handshake.protocol.ProtocolError, match="global"):
        server.receive(pickle.dumps(Evil()))


def test_another_version_is_refused_naming_both():
    server = handshake.ServerHandshake(TOKEN)
    old = handshake.MAGIC + (config.PROTOCOL_VERSION + 1).to_bytes(2, "little") + b"n" * 32
    with pytest.raises(handshake.HandshakeError) as info:
        server.receive(old)
    text = str(info.value)
    assert f"version {config.PROTOCOL_VERSION + 1}" in text
    assert f"version {config.PROTOCOL_VERSION}" in text
    assert info.value.reply is not None and info.value.reply.startswith(handshake.MAGIC_REFUSED)
    # ... and the peer shows the server's refusal as it was given.
    peer = handshake.PeerHandshake(TOKEN)
    peer.challenge()
    with pytest.raises(handshake.HandshakeError, match="protocol version"):
        peer.answer(info.value.reply, {})


def test_a_version_1_hello_is_named_from_its_first_bytes():
    with pytest.raises(handshake.HandshakeError, match="protocol version 1 "):
        handshake.check_first_frame_header(200, b"RGH1")
    with pytest.raises(handshake.HandshakeError, match="not a handshake"):
        handshake.check_first_frame_header(200, b"GET ")
    handshake.check_first_frame_header(handshake.CHALLENGE_LEN, b"RGHS")


@pytest.mark.parametrize(
    "data",
    [b"", b"RGHS", b"RGHS\x02\x00short", b"XXXX" + b"\0" * 34, b"RGHS\x02\x00" + b"n" * 40],
)
def test_malformed_challenges_are_refused(data):
    with pytest.raises(handshake.HandshakeError):
        handshake.ServerHandshake(TOKEN).receive(data)


def test_frames_before_the_proof_are_tiny():
    server = handshake.ServerHandshake(TOKEN)
    assert server.max_frame() == handshake.CHALLENGE_LEN
    server.receive(handshake.PeerHandshake(TOKEN).challenge())
    assert server.max_frame() == handshake.PROOF_LEN
