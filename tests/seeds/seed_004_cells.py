"""The code cells of seed 004 ("Ray Core: Zero to Hero"), as the course gives them.

Only the import differs (`import rayground as ray`); tests/seeds/test_seeds.py runs this file as a
driver and checks its printed results and speed-ups. Cell boundaries are marked `# --- cell`.
"""
# ruff: noqa

import time

import rayground as ray


ray.init(num_cpus=4, object_store_memory=1 * 1024 * 1024 * 1024, ignore_reinit_error=True)
print(ray.cluster_resources())


# --- cell
@ray.remote
def slow_square_ray(x):
    time.sleep(0.5)
    return x * x


start = time.time()
futures = [slow_square_ray.remote(i) for i in range(8)]
results = ray.get(futures)
print(f"Ray (parallel): {time.time() - start:.1f}s")
print(f"Results: {results}")

import datetime


def timestamp():
    return datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]


@ray.remote
def fetch_data(source):
    print(f"[{timestamp()}] Fetching from {source}...")
    time.sleep(1)
    print(f"[{timestamp()}] Fetched {source}")
    return f"data_from_{source}"


@ray.remote
def process(data):
    print(f"[{timestamp()}] Processing {data}...")
    time.sleep(1)
    print(f"[{timestamp()}] Processed {data}")
    return f"processed({data})"


@ray.remote
def combine(results):
    resolved = ray.get(results)
    print(f"[{timestamp()}] Combining: {resolved}")
    time.sleep(0.5)
    print(f"[{timestamp()}] Combined!")
    return f"combined({resolved})"


start = time.time()
data_refs = [fetch_data.remote(s) for s in ["db", "api", "cache"]]
processed_refs = [process.remote(d) for d in data_refs]
final = combine.remote(processed_refs)
result = ray.get(final)
print(f"\nTotal time: {time.time() - start:.1f}s")
print(f"Result: {result}")


@ray.remote
def variable_time_task(i):
    import time, random

    time.sleep(random.uniform(0.1, 2.0))
    return i


refs = [variable_time_task.remote(i) for i in range(10)]
while refs:
    ready, refs = ray.wait(refs, num_returns=1)
    result = ray.get(ready[0])
    print(f"Got result: {result}")


@ray.remote
class Counter:
    def __init__(self, start=0):
        self.value = start

    def increment(self):
        self.value += 1
        return self.value

    def get(self):
        return self.value


counter = Counter.remote(start=10)
ref = counter.increment.remote()
print(f"Counter after increment: {ray.get(ref)}")
refs = [counter.increment.remote() for _ in range(5)]
print(ray.get(refs))


@ray.remote
class DataStore:
    def __init__(self):
        self.data = {}

    def put(self, key, value):
        self.data[key] = value

    def get(self, key):
        return self.data.get(key)


@ray.remote
def worker(store, key, value):
    ray.get(store.put.remote(key, value))
    return f"Stored {key}"


store = DataStore.remote()
refs = [worker.remote(store, f"key_{i}", i) for i in range(10)]
ray.get(refs)
print(ray.get(store.get.remote("key_5")))
print(ray.get(store.get.remote("key_10")))


@ray.remote
class Worker:
    def __init__(self, name):
        self.name = name
        print(f"Worker {name} started")

    def work(self):
        return f"{self.name} did work"


worker = Worker.remote("worker-1")
print(ray.get(worker.work.remote()))
ray.kill(worker, no_restart=True)
named_worker = Worker.options(name="global_worker", lifetime="detached").remote("global")
print(ray.get(named_worker.work.remote()))
same_worker = ray.get_actor("global_worker")
print(ray.get(same_worker.work.remote()))
ray.kill(named_worker, no_restart=True)


@ray.remote
def create_array():
    import numpy as np

    return np.zeros((10000, 10000))


ref = create_array.remote()
print(ref)
array = ray.get(ref)
print(array.shape)

import numpy as np


@ray.remote
def create_data():
    data = np.random.random((10000, 10000))
    return data


@ray.remote
def process_data(data):
    return np.sum(data)


data_ref = create_data.remote()
print("data_ref: ", data_ref)
refs = [process_data.remote(data_ref) for _ in range(5)]
results = ray.get(refs)
print(results)

large_array = np.random.rand(10000, 10000)
ref = ray.put(large_array)


@ray.remote
def process(data):
    return data.sum()


start = time.time()
results = ray.get([process.remote(large_array) for _ in range(5)])
bad_time = time.time() - start
print(f"Bad (pass data):  {bad_time:.2f}s")
start = time.time()
results = ray.get([process.remote(ref) for _ in range(5)])
good_time = time.time() - start
print(f"Good (pass ref):  {good_time:.2f}s")
print(f"Speedup: {bad_time / good_time:.1f}x")
print(f"Results (all same): {results[0]:.2f}")
