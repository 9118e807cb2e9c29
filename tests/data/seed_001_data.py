"""Seed 001's Ray Data pipeline, unchanged but for the import and local paths.

The preamble (above the marked block) writes a small Parquet directory with a `text` column,
as the seed's bucket would hold; the marked block is the seed's code.
"""

import os
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

root = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
os.makedirs(os.path.join(root, "data"), exist_ok=True)
for part in range(3):
    texts = [("word " * ((part * 7 + i) % 30)).strip() for i in range(40)]
    pq.write_table(pa.table({"text": texts}), os.path.join(root, "data", f"part-{part}.parquet"))
os.chdir(root)

# ---- seed 001 (ray_data.py), import and paths changed ----
import rayground as ray  # noqa: E402

# Read and process a large dataset
ds = ray.data.read_parquet("data/")


# Map transformations in parallel
def preprocess(batch):
    batch["text_length"] = [len(t) for t in batch["text"]]
    return batch


processed = ds.map_batches(preprocess, batch_format="pandas")

# Filter
filtered = processed.filter(lambda row: row["text_length"] > 50)

# Write results
filtered.write_parquet("processed/")
print(f"Processed {filtered.count()} records")
# ---- end of seed ----

ray.shutdown()
