"""init() options Ray acts on and rayground cannot: refused with a clear error before a cluster
starts, never ignored (resource isolation through cgroups, Ray Client's proxy)."""

from __future__ import annotations

import pytest

import rayground


@pytest.mark.parametrize(
    "option",
    [
        {"enable_resource_isolation": True},
        {"cgroup_path": "/sys/fs/cgroup/ray"},
        {"system_reserved_cpu": 1.0},
        {"system_reserved_memory": 1 << 30},
    ],
)
def test_resource_isolation_is_refused(option):
    with pytest.raises(ValueError, match=r"resource isolation.*Ray backend"):
        rayground.init(num_cpus=1, **option)
    assert not rayground.is_initialized()


def test_a_proxy_server_url_is_refused():
    with pytest.raises(ValueError, match="Ray Client's proxy"):
        rayground.init(proxy_server_url="127.0.0.1:10001")
    assert not rayground.is_initialized()
