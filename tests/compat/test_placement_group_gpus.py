"""GPU ids inside placement-group bundles, on a cluster started with (fake) ``num_gpus=2``.

A bundle with GPUs holds its devices from the moment it is reserved; a task or actor scheduled
into that bundle sees exactly those in ``get_gpu_ids()`` and ``CUDA_VISIBLE_DEVICES``, as on the
node without groups (issue 17: rayground's were empty inside bundles).
"""

from __future__ import annotations

import os

INIT_KWARGS = {"num_gpus": 2}
GET_TIMEOUT = 60


def test_work_in_a_bundle_sees_that_bundles_gpus(ray, pgm, strategies):
    pg = pgm.placement_group([{"CPU": 1, "GPU": 1}, {"CPU": 1, "GPU": 1}])
    try:
        assert ray.get(pg.ready(), timeout=GET_TIMEOUT) is not None

        def _devices(ray):
            # (defined here: Ray pickles module-level functions by reference, and the test
            # module is not importable in its workers)
            return [str(i) for i in ray.get_gpu_ids()], os.environ.get("CUDA_VISIBLE_DEVICES")

        @ray.remote(num_gpus=1)
        def devices():
            return _devices(ray)

        @ray.remote(num_gpus=0.5)
        def half():
            return _devices(ray)

        @ray.remote(num_gpus=1)
        class OnGpu:
            def devices(self):
                return _devices(ray)

        def bundle(index=-1):
            return strategies.PlacementGroupSchedulingStrategy(pg, index)

        seen = {}
        for index in (0, 1):
            ids, visible = ray.get(
                devices.options(scheduling_strategy=bundle(index)).remote(), timeout=GET_TIMEOUT
            )
            assert len(ids) == 1 and visible == ids[0]
            seen[index] = ids[0]
        assert sorted(seen.values()) == ["0", "1"]  # each bundle holds its own device

        ids, visible = ray.get(devices.options(scheduling_strategy=bundle()).remote(), timeout=60)
        assert len(ids) == 1 and ids[0] in seen.values() and visible == ids[0]

        actor = OnGpu.options(scheduling_strategy=bundle(1)).remote()
        assert ray.get(actor.devices.remote(), timeout=GET_TIMEOUT) == ([seen[1]], seen[1])
        ray.kill(actor)

        halves = ray.get(
            [half.options(scheduling_strategy=bundle(0)).remote() for _ in range(2)],
            timeout=GET_TIMEOUT,
        )
        assert halves == [([seen[0]], seen[0])] * 2  # fractions share the bundle's device
    finally:
        pgm.remove_placement_group(pg)
