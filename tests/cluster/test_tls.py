"""`rayground start --head --tls`: a cluster whose TCP traffic is encrypted, its certificate
pinned through the token. A node joins over TLS, a driver connects as one on another machine
would (address and token), objects move between the nodes' object servers over TLS; the TLS port
does not speak the plain protocol, and a server with another certificate gets nothing from a
driver (not even the handshake's nonce)."""

from __future__ import annotations

import json
import socket
import ssl
import threading

import pytest
from _cluster import cli, join_node, run_driver, start_standalone, stop_all

pytestmark = pytest.mark.timeout(240)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def test_tls_cluster_spans_nodes_and_pins_its_certificate(tmp_path) -> None:
    cluster = start_standalone("--tls", "--num-cpus", "1", "--object-store-memory", "200MB")
    try:
        assert "TLS:        on" in cluster.start_output
        secret, mark, pin = cluster.token.partition("#sha256:")
        assert mark and len(pin) == 64 and len(secret) == 64

        joined = join_node(cluster, "127.0.0.2", "--num-cpus", "1", "--resources", '{"b": 1}')
        assert joined.returncode == 0, joined.stderr
        status = cli("status", "--json")
        assert status.returncode == 0, status.stderr
        nodes = {n["node_ip"]: n for n in json.loads(status.stdout)["nodes"]}
        assert set(nodes) == {"127.0.0.1", "127.0.0.2"}

        # A driver as on another machine: the TCP address and the token, over TLS. An array made
        # on node 2 is read by a task on node 1 (a pull between object servers) and by the driver.
        result = run_driver(
            tmp_path,
            """
            import sys
            import numpy as np
            import rayground as ray
            ray.init(address=sys.argv[1])

            @ray.remote(resources={"b": 1})
            def make():
                return np.arange(5_000_000, dtype=np.int64)

            @ray.remote(num_cpus=1, resources={"node:127.0.0.1": 0.01})
            def total(a):
                return int(a.sum()), ray.get_runtime_context().get_node_id()

            ref = make.remote()
            s, node = ray.get(total.remote(ref), timeout=60)
            ips = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
            print(s, ips[node], int(ray.get(ref, timeout=60)[-1]))
            """,
            cluster.address,
            RAYGROUND_TOKEN=cluster.token,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(sum(range(5_000_000))), "127.0.0.1", "4999999"]

        host, port = _host_port(cluster.address)
        # The TLS port does not speak the plain protocol: a plain CHALLENGE gets no ANSWER.
        with socket.create_connection((host, port), timeout=10) as plain:
            plain.sendall(b"\x26\x00\x00\x00RGHS" + b"\x02\x00" + b"\x00" * 32)
            reply = b""
            try:
                while chunk := plain.recv(4096):
                    reply += chunk
            except (ConnectionError, TimeoutError):
                pass
            assert b"RGHS" not in reply
        # A TLS client sees the pinned certificate.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            ctx.wrap_socket(raw) as tls_sock,
        ):
            import hashlib

            der = tls_sock.getpeercert(binary_form=True)
            assert hashlib.sha256(der).hexdigest() == pin
    finally:
        stopped = stop_all()
    assert "Stopped" in stopped.stdout


def test_a_server_with_another_certificate_learns_nothing(tmp_path) -> None:
    from rayground._core import tls

    cert = tls.make_certificate(str(tmp_path), "impostor")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.cert_file, cert.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []
    handshake_done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(20)
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    handshake_done.set()
                    while data := s.recv(4096):
                        received.append(data)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        token = "a" * 64 + "#sha256:" + "0" * 64  # pins a certificate the impostor lacks
        result = run_driver(
            tmp_path,
            """
            import sys
            import rayground as ray
            try:
                ray.init(address=sys.argv[1])
            except Exception as exc:
                print(type(exc).__name__, exc)
            """,
            f"127.0.0.1:{port}",
            RAYGROUND_TOKEN=token,
        )
        assert result.returncode == 0, result.stderr
        assert "fingerprint" in result.stdout and "0" * 64 in result.stdout, result.stdout
        thread.join(30)
        assert handshake_done.is_set()  # it was reached over TLS ...
        assert received == []  # ... and got not a byte of the rayground handshake
    finally:
        listener.close()


def test_tls_needs_a_port_and_a_well_formed_pin() -> None:
    from rayground._core import tls

    with pytest.raises(ValueError, match="64 hex digits"):
        tls.split_pin("abc#sha256:xyz")
    assert tls.split_pin("abc") == ("abc", None)
    assert tls.split_pin("tcp://1.2.3.4:5#sha256:" + "A" * 64) == ("tcp://1.2.3.4:5", "a" * 64)
