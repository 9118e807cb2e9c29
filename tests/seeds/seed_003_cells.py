"""The code of seed 003 ("Introduction to Ray"): the sequential/parallel image filter and the
Quick-101 snippets, with only the import changed. Run by tests/seeds/test_seeds.py."""
# ruff: noqa

import time

import numpy as np
import rayground as ray

ray.init(num_cpus=8, ignore_reinit_error=True)


def process_image(image: np.ndarray) -> np.ndarray:
    """Simulates a slow 1-second filter."""
    time.sleep(1)
    return 255 - image


images = [np.random.randint(0, 255, (10, 10, 3)) for _ in range(8)]

start_time = time.time()
results = [process_image(img) for img in images]
end_time = time.time()
print(f"Sequential: processed {len(results)} images in {end_time - start_time:.2f} seconds.")

remote_process_image = ray.remote(process_image)
start_time = time.time()
results = ray.get([remote_process_image.remote(img) for img in images])
end_time = time.time()
print(f"Parallel: processed {len(results)} images in {end_time - start_time:.2f} seconds.")
assert all((r == 255 - i).all() for r, i in zip(results, images))


@ray.remote
def square(x):
    return x * x


futures = [square.remote(i) for i in range(8)]
results = ray.get(futures)
print("squares", results)


@ray.remote
class Counter:
    def __init__(self):
        self.v = 0

    def increment(self):
        self.v += 1
        return self.v


c = Counter.remote()
print("counter", ray.get([c.increment.remote() for _ in range(3)]))
