"""rayground.data: Ray Data's Dataset API on rayground's tasks, actors and object store.

    import rayground as ray

    ds = ray.data.read_parquet("data/")                  # lazy: nothing runs yet
    ds = ds.map_batches(preprocess, batch_format="pandas").filter(lambda r: r["n"] > 50)
    ds.write_parquet("out/")                             # streams: read -> map -> filter -> write
    print(ds.count())

Blocks are Arrow tables in the shared-memory object store; consecutive row/batch operations run
as one task per block; a streaming executor bounds the blocks in flight (backpressure).
Built on rayground's public API only (tasks, actors, put/get/wait), as Ray Data is on Ray Core.
"""

from . import aggregate, datasource, expressions
from .aggregate import AggregateFn, Count, Max, Mean, Min, Std, Sum
from .context import DataContext, ExecutionOptions
from .dataset import Dataset, MaterializedDataset, Schema
from .datasource import FileShuffleConfig, SaveMode
from .grouped import GroupedData
from .iterator import DataIterator
from .plan import ActorPoolStrategy, TaskPoolStrategy
from .read_api import (
    from_arrow,
    from_arrow_refs,
    from_items,
    from_numpy,
    from_numpy_refs,
    from_pandas,
    from_pandas_refs,
    range,
    range_tensor,
    read_binary_files,
    read_csv,
    read_json,
    read_numpy,
    read_parquet,
    read_text,
)

DatasetContext = DataContext  # Ray's older name, still exported

__all__ = [
    "ActorPoolStrategy",
    "AggregateFn",
    "Count",
    "DataContext",
    "DataIterator",
    "Dataset",
    "DatasetContext",
    "ExecutionOptions",
    "FileShuffleConfig",
    "GroupedData",
    "MaterializedDataset",
    "Max",
    "Mean",
    "Min",
    "SaveMode",
    "Schema",
    "Std",
    "Sum",
    "TaskPoolStrategy",
    "aggregate",
    "datasource",
    "expressions",
    "from_arrow",
    "from_arrow_refs",
    "from_items",
    "from_numpy",
    "from_numpy_refs",
    "from_pandas",
    "from_pandas_refs",
    "range",
    "range_tensor",
    "read_binary_files",
    "read_csv",
    "read_json",
    "read_numpy",
    "read_parquet",
    "read_text",
]
