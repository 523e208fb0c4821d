"""Loading public checkpoints into our modules, strictly.

Supported key layouts (``source=``):

* ``"native"``: our own names (``StreamModel``: ``backbone.*`` + ``fc.*``; a bare backbone:
  torchvision names for ResNet, Caffe ids for BN-Inception). A ``module.`` prefix
  (``DataParallel``) is stripped. Also accepts our stream-checkpoint dicts.
* ``"mmaction2"``: mmaction2 recognisers, e.g. TSN ResNet-50
  (``backbone.conv1.conv.weight``, ``backbone.conv1.bn.*``,
  ``backbone.layer1.0.conv1.conv.weight``, ``backbone.layer1.0.downsample.conv.weight`` /
  ``.bn.*``, ``cls_head.fc_cls.weight/bias``), usually wrapped as ``{"meta", "state_dict"}``.
  mmaction2's ``ConvModule`` puts a conv and its BN under one name (``convK.conv`` /
  ``convK.bn``); torchvision names them ``convK`` / ``bnK`` and the stem ``conv1`` / ``bn1``
  and the shortcut ``downsample.0`` / ``downsample.1``.
* ``"tsn-pytorch"``: yjxiong/tsn-pytorch ``TSN`` checkpoints (``{"epoch", "arch",
  "state_dict", "best_prec1"}``): ``module.base_model.<layer>.*`` for the backbone
  (Caffe ids for BN-Inception, torchvision names for ResNets) and ``module.new_fc.weight/bias``
  for the classifier (or ``module.base_model.fc.*`` when trained with dropout 0). The
  ``base_model.fc`` of a dropout>0 model is an ``nn.Dropout`` and has no keys.

Any missing or unexpected key after mapping, or any shape mismatch, raises a ``ValueError``
that lists them: there is never a silent partial load. Keys a caller wants left out must be
named explicitly (``ignore=``). The only tolerated gap is BatchNorm ``num_batches_tracked``,
which checkpoints saved by torch < 0.4.1 (e.g. the original BN-Inception) do not have.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

SOURCES = ("auto", "native", "mmaction2", "tsn-pytorch")
_MAX_LIST = 20


def load_torch_file(path: str | os.PathLike[str], what: str = "checkpoint",
                    map_location: str | torch.device = "cpu") -> Any:
    """Read a ``torch.save`` file with ``torch.load(weights_only=True)``.

    Every way a file can be unreadable gives one ``ValueError`` that names the file and says
    what is wrong with it (empty, truncated, not a torch file, or holding Python objects that
    loading would have to run code for); none of them suggests ``weights_only=False``.

    :param path: the file.
    :param what: what the file is, for the errors (``checkpoint``, ``stream checkpoint``, ...).
    :param map_location: torch device for the tensors.
    :return: the loaded object.
    :raises FileNotFoundError: the file does not exist.
    :raises ValueError: it cannot be loaded; the message names the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")

    def fail(problem: str) -> ValueError:
        return ValueError(f"could not load {what} {path}: {problem}")

    size = path.stat().st_size
    if size == 0:
        raise fail("the file is empty (0 bytes), e.g. from an interrupted copy or write")
    with open(path, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive; one cut short has lost its central directory (at the end)
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise fail(f"the file is truncated or damaged ({size} bytes; a torch zip archive without "
                   f"its end), e.g. from an interrupted copy or download")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message recommends weights_only=False, i.e. running the file's code: the
        # one thing never to do with a file of unknown origin, so it is not passed on
        names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(exc))))
        if names:
            raise fail(f"it holds Python objects that loading would have to run code for "
                       f"({', '.join(names)}); only tensors and plain containers are loaded "
                       f"(weights_only=True), so this is not a checkpoint this project "
                       f"wrote") from exc
        raise fail("not a torch.save file (its contents are not a weights-only pickle)") from exc
    except EOFError as exc:
        raise fail(f"the file ends early ({size} bytes): truncated or damaged") from exc
    except Exception as exc:  # zip / storage / key errors of a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = f": {first}" if first and "weights_only" not in first else ""
        raise fail(f"not a torch.save file, or a damaged one ({type(exc).__name__}"
                   f"{detail})") from exc


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state dict from a checkpoint file with ``torch.load(weights_only=True)``.

    Unwraps the usual containers: ``{"state_dict": ...}`` (mmaction2, tsn-pytorch),
    ``{"model": ...}`` (training checkpoints) and our stream checkpoints.

    :param path: checkpoint file
    :return: the flat ``{name: tensor}`` state dict (on CPU)
    """
    obj = load_torch_file(path)
    try:
        return unwrap_state_dict(obj)
    except ValueError as exc:
        raise ValueError(f"checkpoint {path}: {exc}") from exc


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The flat state dict inside a checkpoint container (or the state dict itself).

    :param obj: a state dict or a checkpoint container holding one
    :return: the flat ``{name: tensor}`` state dict
    """
    for _ in range(3):  # e.g. {"model": {"format": ..., "state_dict": {...}}}
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        if isinstance(obj.get("state_dict"), Mapping):
            obj = obj["state_dict"]
        elif isinstance(obj.get("model"), Mapping):
            obj = obj["model"]
        else:
            break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"not a state dict (got {type(obj).__name__})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(
            f"not a state dict: {len(bad)} entries are not str -> Tensor, e.g. {bad[:5]}"
        )
    return dict(obj)


# ----------------------------------------------------------------------------- key mapping

_MMACTION2_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"^backbone\.conv1\.conv\.", "backbone.conv1."),
        (r"^backbone\.conv1\.bn\.", "backbone.bn1."),
        (r"^(backbone\.layer\d+\.\d+)\.conv(\d)\.conv\.", r"\1.conv\2."),
        (r"^(backbone\.layer\d+\.\d+)\.conv(\d)\.bn\.", r"\1.bn\2."),
        (r"^(backbone\.layer\d+\.\d+)\.downsample\.conv\.", r"\1.downsample.0."),
        (r"^(backbone\.layer\d+\.\d+)\.downsample\.bn\.", r"\1.downsample.1."),
        (r"^cls_head\.fc_cls\.", "fc."),
    )
)


def _strip_module(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def map_mmaction2_key(key: str) -> str:
    """Map an mmaction2 recogniser key to its ``StreamModel`` key.

    :param key: an mmaction2 recogniser key (``backbone.*``, ``cls_head.fc_cls.*``)
    :return: the ``StreamModel`` key (``backbone.*`` in torchvision names, ``fc.*``)
    """
    key = _strip_module(key)
    for pattern, repl in _MMACTION2_RULES:
        new, n = pattern.subn(repl, key)
        if n:
            return new
    return key


def map_tsn_pytorch_key(key: str) -> str:
    """Map a tsn-pytorch ``TSN`` key to its ``StreamModel`` key.

    :param key: a tsn-pytorch ``TSN`` key (``module.base_model.*``, ``module.new_fc.*``)
    :return: the ``StreamModel`` key (``backbone.*``, ``fc.*``)
    """
    key = _strip_module(key)
    if key.startswith("new_fc."):
        return "fc." + key[len("new_fc.") :]
    if key.startswith("base_model.fc."):  # TSN trained with dropout 0 keeps the classifier here
        return "fc." + key[len("base_model.fc.") :]
    if key.startswith("base_model."):
        return "backbone." + key[len("base_model.") :]
    return key


_MAPPERS: dict[str, Callable[[str], str]] = {
    "native": _strip_module,
    "mmaction2": map_mmaction2_key,
    "tsn-pytorch": map_tsn_pytorch_key,
}


def detect_source(keys: Iterable[str]) -> str:
    """Guess the layout of a state dict from its key names.

    :param keys: the state-dict keys
    :return: ``"tsn-pytorch"``, ``"mmaction2"`` or ``"native"``
    """
    keys = [_strip_module(k) for k in keys]
    if any(k.startswith(("base_model.", "new_fc.")) for k in keys):
        return "tsn-pytorch"
    if any(k.startswith("cls_head.") for k in keys) or any(
        re.match(r"^backbone\.(conv1|layer\d+\.\d+\.(conv\d|downsample))\.(conv|bn)\.", k)
        for k in keys
    ):
        return "mmaction2"
    return "native"


def map_state_dict(
    state_dict: Mapping[str, torch.Tensor], source: str, target_keys: Iterable[str]
) -> tuple[dict[str, torch.Tensor], str]:
    """Rename a public state dict into the key space of a target module.

    Mapped keys are in ``StreamModel`` space (``backbone.*``, ``fc.*``). For a bare backbone
    target (no ``backbone.`` keys) the ``backbone.`` prefix is removed; for a ``StreamModel``
    target fed a bare-backbone dict (no ``backbone.`` keys) it is added.

    :param state_dict: the source state dict
    :param source: ``"auto"``, ``"native"``, ``"mmaction2"`` or ``"tsn-pytorch"``
    :param target_keys: keys of the target module's state dict
    :return: ``(mapped state dict, resolved source)``
    """
    if source not in SOURCES:
        raise ValueError(f"unknown checkpoint source {source!r}; expected one of {SOURCES}")
    if source == "auto":
        source = detect_source(state_dict)
    mapper = _MAPPERS[source]
    mapped: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        new = mapper(k)
        if new in mapped:
            raise ValueError(f"key mapping ({source}) sends two keys to {new!r}")
        mapped[new] = v
    target_keys = list(target_keys)
    target_is_stream = any(k.startswith("backbone.") for k in target_keys)
    source_is_stream = any(k.startswith("backbone.") for k in mapped)
    if source_is_stream and not target_is_stream:
        mapped = {
            (k[len("backbone.") :] if k.startswith("backbone.") else k): v
            for k, v in mapped.items()
        }
    elif target_is_stream and not source_is_stream:
        mapped = {f"backbone.{k}": v for k, v in mapped.items()}
    return mapped, source


def _fmt(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f" ... (+{len(keys) - _MAX_LIST} more)" if len(keys) > _MAX_LIST else ""
    return ", ".join(keys[:_MAX_LIST]) + more


@torch.no_grad()
def _cross_modality(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    # TSN cross-modality init: mean over the RGB input channels, replicated
    return weight.mean(dim=1, keepdim=True).expand(-1, in_channels, -1, -1).contiguous()


def load_pretrained(
    model: nn.Module,
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    source: str = "auto",
    ignore: Iterable[str] = (),
    cross_modality: bool = False,
) -> dict[str, Any]:
    """Strictly load a public (or our own) checkpoint into ``model``.

    Typical uses::

        # ImageNet init of a new stream: load into the backbone, leaving out the 1000-way fc
        load_pretrained(stream.backbone, "resnet50-imagenet.pth", ignore=["fc."])
        # ... and for a flow stream (2L input channels), with TSN cross-modality init
        load_pretrained(flow.backbone, "bn_inception.pth", ignore=["fc."], cross_modality=True)
        # a trained TSN model as a frozen stream
        load_pretrained(stream, "ucf101_bninception_split_1_rgb_checkpoint.pth.tar")

    :param model: target module (a ``StreamModel`` or a bare backbone)
    :param path_or_state_dict: checkpoint file or an (optionally wrapped) state dict
    :param source: key layout, see the module docstring (``"auto"`` guesses from the keys)
    :param ignore: source key prefixes (after mapping) to leave out on purpose
    :param cross_modality: if the checkpoint's first conv has 3 input channels and the
        model's has another number, convert it with TSN cross-modality initialisation
    :return: a report ``{"source", "loaded", "ignored", "filled_num_batches_tracked",
        "cross_modality"}``
    """
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        where = str(path_or_state_dict)
        state_dict = load_state_dict_file(path_or_state_dict)
    else:
        where = "given state dict"
        try:
            state_dict = unwrap_state_dict(path_or_state_dict)
        except ValueError as exc:
            raise ValueError(f"load_pretrained: {exc}") from exc
    target = model.state_dict()
    mapped, resolved = map_state_dict(state_dict, source, target)
    ignore = tuple(ignore)
    ignored = [k for k in mapped if k.startswith(ignore)] if ignore else []
    for k in ignored:
        del mapped[k]

    missing = set(target) - set(mapped)
    filled = [k for k in missing if k.endswith("num_batches_tracked")]
    for k in filled:
        mapped[k] = target[k].clone()
    missing -= set(filled)
    unexpected = set(mapped) - set(target)
    if missing or unexpected:
        raise ValueError(
            f"load_pretrained({where}, source={resolved!r}) into {type(model).__name__}: "
            f"key sets differ.\n  missing ({len(missing)}): {_fmt(missing)}\n"
            f"  unexpected ({len(unexpected)}): {_fmt(unexpected)}"
        )

    converted = None
    if cross_modality:
        from frame_select_env.pipeline.models.backbones import first_conv

        _, _, conv = first_conv(model)
        name = next(n for n, m in model.named_modules() if m is conv) + ".weight"
        w = mapped[name]
        if w.ndim == 4 and w.shape[1] != conv.in_channels:
            if w.shape[1] != 3:
                raise ValueError(
                    f"load_pretrained({where}): cross_modality needs a 3-channel first conv "
                    f"in the checkpoint, {name} has {w.shape[1]}"
                )
            mapped[name] = _cross_modality(w, conv.in_channels)
            converted = name

    bad_shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}"
        for k, v in mapped.items()
        if tuple(v.shape) != tuple(target[k].shape)
    ]
    if bad_shapes:
        raise ValueError(
            f"load_pretrained({where}, source={resolved!r}) into {type(model).__name__}: "
            f"{len(bad_shapes)} shape mismatches:\n  " + "\n  ".join(bad_shapes[:_MAX_LIST])
        )
    model.load_state_dict(mapped, strict=True)
    return {
        "source": resolved,
        "loaded": len(mapped) - len(filled),
        "ignored": sorted(ignored),
        "filled_num_batches_tracked": len(filled),
        "cross_modality": converted,
    }
