"""The field's frame selectors on one env: OCSampler, LiteEval, FrameExit, SCSampler, MGSampler.

Each method is a module of this package with a ``<Name>Config`` dataclass, ``train(store, cfg, *,
observe="rgb", predict="fused", seed=0, progress=False) -> policy``, a policy class following
:class:`frame_select_env.core.policy.SelectionPolicy` and ``save(policy, path)`` /
``load(path)``. They observe the cheap stream (``observe``, RGB by default) and pay for the
expensive one (``predict``, fused) on the frames they choose. Top-m methods give ``scores``;
adaptive ones (LiteEval, FrameExit) also give ``masks(obs, info=None, m=None)``, the frames they
pay for, which the evaluation uses instead of top-m
(:func:`frame_select_env.evaluation.runner.evaluate_policies`).

:data:`METHODS` maps each name to its :class:`MethodSpec`, which ``scripts/train_selector.py``,
``scripts/compare_field.py`` and the agent specs of :mod:`baselines_zoo.registry` (``NAME:PATH``
for a trained checkpoint, ``NAME`` for a built-in heuristic) read. Modules are imported only when
a method is used, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MethodSpec:
    """One of the field's methods, by the names of its module's functions.

    :param name: the method's name (agent spec prefix, ``--method`` value).
    :param module: the module in this package that implements it.
    :param builtin: training-free (the module's ``factory`` builds the policy; no checkpoint).
    :param config: the name of the module's config dataclass.
    :param adaptive: the policy chooses how many frames it pays for (it has ``masks``).
    :param reference: the paper it follows.
    """

    name: str
    module: str
    builtin: bool = False
    config: str = ""
    adaptive: bool = False
    reference: str = ""
    factory: str = ""

    def _mod(self) -> Any:
        return importlib.import_module(f"baselines_zoo.field.{self.module}")

    def _fn(self, fn: str) -> Callable[..., Any]:
        mod = self._mod()
        if not hasattr(mod, fn):
            raise ValueError(f"field method {self.name!r}: module {mod.__name__} has no {fn}()")
        return getattr(mod, fn)

    @property
    def train(self) -> Callable[..., Any]:
        """``train(store, cfg, *, observe, predict, seed, progress) -> policy``."""
        return self._fn("train")

    @property
    def load(self) -> Callable[..., Any]:
        """``load(path) -> policy``."""
        return self._fn("load")

    @property
    def save(self) -> Callable[..., Any]:
        """``save(policy, path)``."""
        return self._fn("save")

    @property
    def make(self) -> Callable[..., Any]:
        """``factory(observe="rgb", **kwargs) -> policy`` of a built-in (training-free) method."""
        return self._fn(self.factory or "make")

    def default_config(self) -> Any:
        """The config dataclass with its defaults (``None`` for built-ins without one)."""
        return getattr(self._mod(), self.config)() if self.config else None


#: name -> method. F1's "ocsampler" and "liteeval" follow the same interface (module, config).
METHODS: dict[str, MethodSpec] = {
    "ocsampler": MethodSpec("ocsampler", "ocsampler", config="OCSamplerConfig",
                            reference="Lin et al., OCSampler, CVPR 2022"),
    "liteeval": MethodSpec("liteeval", "liteeval", config="LiteEvalConfig", adaptive=True,
                           reference="Wu et al., LiteEval, NeurIPS 2019"),
    "frameexit": MethodSpec("frameexit", "frameexit", config="FrameExitConfig", adaptive=True,
                            reference="Ghodrati et al., FrameExit, CVPR 2021"),
    "scsampler": MethodSpec("scsampler", "heuristics", builtin=True, factory="make_scsampler",
                            reference="Korbar et al., SCSampler, ICCV 2019"),
    "mgsampler": MethodSpec("mgsampler", "heuristics", builtin=True, factory="make_mgsampler",
                            reference="Zhi et al., MGSampler, ICCV 2021"),
}


def get_method(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``.

    :param name: one of :data:`METHODS`.
    :raises ValueError: for an unknown name (the message lists the known ones).
    """
    if name not in METHODS:
        raise ValueError(f"unknown field method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]


def load_method(name: str, path: str | Path | None = None, observe: str = "rgb") -> Any:
    """A field policy: a trained checkpoint (``path``) or a built-in heuristic.

    :param name: the method.
    :param path: the checkpoint ``save`` wrote (learned methods; must be ``None`` for built-ins).
    :param observe: the stream a built-in heuristic observes.
    :raises ValueError: unknown method, or a checkpoint missing / given to a built-in.
    :raises FileNotFoundError: ``path`` does not exist.
    """
    spec = get_method(name)
    if spec.builtin:
        if path is not None:
            raise ValueError(f"field method {name!r} is training-free: use the spec {name!r} "
                             f"without ':{path}'")
        return spec.make(observe=observe)
    if path is None:
        raise ValueError(f"field method {name!r} needs a trained checkpoint: '{name}:PATH' "
                         f"(train one with scripts/train_selector.py --method {name})")
    p = Path(path)
    if p.is_dir():  # the folder train_selector.py wrote
        p = p / f"{name}.pt"
    if not p.exists():
        raise FileNotFoundError(f"field method {name!r}: checkpoint {p} does not exist")
    return spec.load(p)


def script_store(store: str | None, threads: int, observe: str | None = None) -> Path:
    """What a field script does first: torch's CPU threads set, the store found and checked.

    :param store: ``--store`` (``None``: the built-in store).
    :param threads: torch CPU threads.
    :param observe: ``--observe``, a stream the store must hold (fused or observe-only, e.g.
        ``preview``); ``None`` skips the check.
    :return: the store's path.
    :raises FileNotFoundError: no such store.
    :raises ValueError: the store has no stream ``observe`` (the message lists its streams).
    """
    import torch

    from frame_select_env.store import FeatureStore
    from frame_select_env.store.builtin import resolve_store

    torch.set_num_threads(max(1, int(threads)))
    path = resolve_store(store, "--store")
    if observe is not None:
        streams = FeatureStore(path).all_streams
        if observe not in streams:
            raise ValueError(f"--observe {observe!r}: store {path.name} has no such stream, it "
                             f"has {streams} (a preview is added by build_sparse_actions.py's "
                             f"preview stage or frame_select_env.store.append_observe_stream)")
    return path


__all__ = ["METHODS", "MethodSpec", "get_method", "load_method", "script_store"]
