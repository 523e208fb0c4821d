"""Bring your own features: ``.npz`` files, per-video ``.npy`` folders, several streams, no logits.

Three input layouts become one store (:func:`import_store`):

* one ``.npz`` per stream (``features``, ``logits`` optional, ``labels``, ``split``, ...), given
  as ``--stream NAME FILE`` pairs, or one ``.npz`` holding ``<stream>_features`` (and
  ``<stream>_logits``) for several streams (:func:`read_npz`);
* a folder ``ROOT/<stream>/<video_id>.npy`` of (frames, D) or (frames, V, D) arrays per video,
  with labels and splits from a list file (plain list, CSV, or the UCF101 / HMDB51 split files):
  each video is sampled to T frames at TSN's segment centres and its frame count is recorded;
  unreadable files are listed in ``<out>.failures.txt`` and every read video is kept as a part
  in ``<out>.parts/``, so a rerun resumes (:func:`read_folder`);
* any of these without logits: the streams' classifier heads are fitted on the train split
  (:func:`frame_select_env.pipeline.models.head.fit_head`) or read from a file.

Streams read from different files must agree in video ids, labels, splits and T; the first
disagreement is named.
"""

from frame_select_env.pipeline.feature_import.folder import (
    FolderRead,
    read_folder,
    read_records,
    read_video_table,
)
from frame_select_env.pipeline.feature_import.npz import ImportedVideos, combine, read_npz
from frame_select_env.pipeline.feature_import.writing import (
    FITTED_HEAD,
    GIVEN,
    USER_HEAD,
    add_logits,
    import_features,
    import_store,
    write_imported,
)

__all__ = [
    "FITTED_HEAD",
    "GIVEN",
    "USER_HEAD",
    "FolderRead",
    "ImportedVideos",
    "add_logits",
    "combine",
    "import_features",
    "import_store",
    "read_folder",
    "read_npz",
    "read_records",
    "read_video_table",
    "write_imported",
]
