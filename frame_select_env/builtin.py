"""Where the built-in SparseActions feature store lives.

The finished store ships inside the package (``frame_select_env/data/sparse_actions.h5``, a few
MB) and is rebuilt from scratch by ``python scripts/build_sparse_actions.py``. Set the environment
variable ``FRAME_SELECT_ENV_STORE`` to a store path to make that the default store instead.
"""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV_VAR = "FRAME_SELECT_ENV_STORE"
PACKAGED_STORE = Path(__file__).resolve().parent / "data" / "sparse_actions.h5"


def builtin_store_path() -> Path:
    """Path of the default feature store (``$FRAME_SELECT_ENV_STORE`` or the packaged one)."""
    override = os.environ.get(STORE_ENV_VAR)
    path = Path(override) if override else PACKAGED_STORE
    if not path.is_file():
        where = (
            f"${STORE_ENV_VAR}={override!r}" if override else f"the packaged store {str(path)!r}"
        )
        raise FileNotFoundError(
            f"built-in feature store not found: {where} does not exist. Rebuild it with "
            f"`python scripts/build_sparse_actions.py`, or pass store=PATH."
        )
    return path
