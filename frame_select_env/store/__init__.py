"""The store layer: the HDF5 feature store, its cost record, atomic writes and the built-in data.

Everything an env reads lives here; nothing here imports torch or OpenCV. The store itself is
split by job (:mod:`~frame_select_env.store.schema`, :mod:`~frame_select_env.store.writer`,
:mod:`~frame_select_env.store.checks`, :mod:`~frame_select_env.store.reader`); its public names
are imported from this package.
"""

from frame_select_env.store.checks import finite_half_to_float32, scan_finite, validate_store
from frame_select_env.store.reader import FeatureStore
from frame_select_env.store.schema import LAYOUTS, SCHEMA_VERSION, StoreError
from frame_select_env.store.writer import StoreWriter, append_observe_stream, write_store

__all__ = [
    "LAYOUTS",
    "SCHEMA_VERSION",
    "FeatureStore",
    "StoreError",
    "StoreWriter",
    "append_observe_stream",
    "finite_half_to_float32",
    "scan_finite",
    "validate_store",
    "write_store",
]
