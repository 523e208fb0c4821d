"""Reading a Stable-Baselines3 ``model.zip`` without running any code stored in it.

SB3's own ``BaseAlgorithm.load`` unpickles (cloudpickle) every ``data`` entry marked
``":serialized:"``: the policy class, the spaces, the schedules, buffers... A zip can put any
pickle there, and loading it runs that pickle's code. This module never unpickles anything:

* ``data`` is parsed as JSON. The pickled entries SB3 writes for these algorithms
  (:data:`REBUILT`) are dropped unread: the caller has already built the algorithm afresh from
  the run's ``config.yaml`` and the env (:func:`baselines_zoo.sb3.train.load_sb3`, the resume of
  :func:`baselines_zoo.sb3.train.train_sb3`), which gives the same policy class, spaces and
  schedules. A pickled entry under any other name, or one not in SB3's own layout, is refused.
* The policy class the zip names (a plain JSON field beside its pickle) must be the one the
  config builds.
* The ``.pth`` entries (weights, optimizer states, ``log_ent_coef``) are read with
  ``torch.load(weights_only=True)``, only under the names the built algorithm has.
* Of the plain JSON fields, only the training counters (:data:`COUNTERS`) are restored; every
  hyperparameter comes from ``config.yaml``.

Every refusal is a ``ValueError`` that names the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

SERIALIZED = ":serialized:"
#: ``data`` entries SB3 stores as pickles and the loader rebuilds (or, for run-time state such
#: as the last observation and the episode buffers, starts afresh) instead of unpickling.
REBUILT = frozenset({
    "policy_class", "policy_kwargs", "observation_space", "action_space", "lr_schedule",
    "learning_rate", "clip_range", "clip_range_vf", "ent_coef", "rollout_buffer_class",
    "rollout_buffer_kwargs", "replay_buffer_class", "replay_buffer_kwargs", "train_freq",
    "action_noise", "_last_obs", "_last_episode_starts", "_last_original_obs",
    "ep_info_buffer", "ep_success_buffer",
})
#: plain-JSON counters restored from ``data``, so a resumed run continues its step count.
COUNTERS = ("num_timesteps", "_n_updates", "_episode_num")


def _holds_serialized(value: Any) -> bool:
    if isinstance(value, dict):
        return SERIALIZED in value or any(_holds_serialized(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_serialized(v) for v in value)
    return False


def read_model_zip(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON ``data`` and the ``.pth`` entries of an SB3 zip, with nothing unpickled.

    :param path: the ``model.zip`` / ``checkpoint.zip``.
    :return: ``(data, {entry name without .pth: weights-only object})``; the pickled entries
        of ``data`` are left as JSON (never loaded).
    :raises FileNotFoundError: the file does not exist.
    :raises ValueError: not a zip, no ``data``, a pickled entry outside :data:`REBUILT` or not
        in SB3's layout, or a ``.pth`` entry that is not weights-only; the message names the
        file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SB3 model {str(path)!r} not found")
    where = f"SB3 model {str(path)!r}"
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{where} is not a readable zip archive (empty, truncated or another "
                         f"kind of file): {err}") from err
    with archive:
        names = archive.namelist()
        if "data" not in names:
            raise ValueError(f"{where} has no 'data' entry: not a Stable-Baselines3 model")
        try:
            data = json.loads(archive.read("data").decode())
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as err:
            raise ValueError(f"{where}: its 'data' entry is not readable JSON ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"{where}: its 'data' entry is not a JSON object")
        foreign = sorted(k for k, v in data.items() if k not in REBUILT and _holds_serialized(v))
        if foreign:
            raise ValueError(f"{where}: 'data' holds pickled (':serialized:') entries {foreign}, "
                             f"which loading would have to run as code; refused (only SB3's own "
                             f"entries {sorted(REBUILT)} are accepted, and those are rebuilt from "
                             f"config.yaml, never unpickled)")
        for key in sorted(REBUILT & set(data)):
            value = data[key]
            # SB3 writes a pickled entry as {":type:": "<class ...>", ":serialized:": "..."}
            if _holds_serialized(value) and not (
                    isinstance(value, dict) and isinstance(value.get(":type:"), str)
                    and isinstance(value.get(SERIALIZED), str)):
                raise ValueError(f"{where}: 'data' entry {key!r} is a pickle not in the layout "
                                 f"Stable-Baselines3 saves; refused (it is never unpickled)")
        params: dict[str, Any] = {}
        for name in names:
            if not name.endswith(".pth"):
                continue
            try:
                raw = archive.read(name)
                obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
            except pickle.UnpicklingError as err:
                # not passed on: torch's message recommends weights_only=False
                raise ValueError(f"{where}: entry {name!r} holds Python objects other than "
                                 f"tensors and plain containers; refused (weights_only=True)"
                                 ) from err
            except Exception as err:  # noqa: BLE001 - zip / torch errors of a damaged entry
                raise ValueError(f"{where}: entry {name!r} is damaged or not a torch file "
                                 f"({type(err).__name__})") from err
            params[name[:-len(".pth")]] = obj
    return data, params


def load_sb3_into(model: Any, path: str | os.PathLike) -> Any:
    """Put a saved model's weights, optimizer states and step counters into a built algorithm.

    :param model: an SB3 algorithm built afresh with the run's policy, spaces and
        hyperparameters (the zip's pickled versions of those are never read).
    :param path: the zip it was saved to.
    :return: ``model``.
    :raises ValueError: anything :func:`read_model_zip` refuses; a policy class, entry names or
        tensor shapes that do not match ``model``; a counter that is not a non-negative int.
    """
    from stable_baselines3.common.save_util import recursive_setattr

    where = f"SB3 model {str(path)!r}"
    data, params = read_model_zip(path)
    built = type(model.policy)
    saved_class = data.get("policy_class")
    saved_module = saved_class.get("__module__") if isinstance(saved_class, dict) else None
    if saved_module != built.__module__:
        raise ValueError(f"{where}: its policy class comes from {saved_module!r}, but its "
                         f"config.yaml builds {built.__module__}.{built.__qualname__}; refused")
    state_names, variable_names = model._get_torch_save_params()
    variables = params.pop("pytorch_variables", None) or {}
    if set(params) != set(state_names):
        raise ValueError(f"{where}: holds the weights {sorted(params)}, but a "
                         f"{type(model).__name__} has {sorted(state_names)}")
    if not isinstance(variables, dict) or not set(variables) <= set(variable_names) or not all(
            v is None or isinstance(v, torch.Tensor) for v in variables.values()):
        raise ValueError(f"{where}: its pytorch_variables are not tensors named "
                         f"{sorted(variable_names)}")
    try:
        model.set_parameters(params, exact_match=True, device=model.device)
    except (RuntimeError, ValueError, KeyError) as err:
        raise ValueError(f"{where}: its weights do not fit the network its config.yaml "
                         f"describes ({err})") from err
    for name, tensor in variables.items():
        if tensor is not None:  # e.g. SAC's log_ent_coef; None when the coefficient is fixed
            recursive_setattr(model, f"{name}.data", tensor.data.to(model.device))
    for key in COUNTERS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{where}: 'data' entry {key!r} is {value!r}, not a "
                                 f"non-negative integer")
            setattr(model, key, value)
    return model
