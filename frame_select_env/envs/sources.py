"""The env's options, declared once, and the state sources they build.

:class:`EnvOptions` is the one declaration of what ``gym.make("FrameSelection-v0", ...)`` takes:
each field gives an option's default, its check (in ``__post_init__``) and its documentation
(``metadata["doc"]``). :class:`~frame_select_env.envs.one_step.env.FrameSelectionEnv`,
:class:`~frame_select_env.envs.one_step.vector_env.FrameSelectionVectorEnv` and the online source
read it, so
a new option is written here alone; the envs' signatures and the ``## Arguments`` section of
their docstrings are generated from it (:func:`options_signature`, :func:`options_doc`).

A *state source* is what turns the options into an
:class:`~frame_select_env.envs.observations.ObservationSource`. Sources are registered by name with
a
``"module:attr"`` entry point (:data:`SOURCES`, :func:`register_source`), resolved by importlib
only when a source of that kind is made, as Gymnasium resolves ``entry_point``: the core never
imports the online source (and with it torch and OpenCV) in store mode. The ``store`` source is
this module's :func:`store_source`; ``online`` is
:func:`frame_select_env.pipeline.online.source.online_source`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from frame_select_env.core.reward import DEFAULT_OMEGA
from frame_select_env.envs.observations import ObservationSource, check_num_frames
from frame_select_env.envs.render import RENDER_MODES
from frame_select_env.store.builtin import store_or_builtin


def check_omega(omega: Any) -> float:
    """The flip bonus Ω of Eq. 4 as a float, refused unless it is a finite number >= 0.

    A NaN Ω makes every flip reward NaN and a negative one rewards breaking right predictions;
    both would train silently on garbage.

    :param omega: the ``omega`` argument.
    :return: ``float(omega)``.
    :raises ValueError: a bool, a non-number, NaN, inf or a negative value.
    """
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.integer, np.floating)):
        raise ValueError(f"omega must be a finite number >= 0, got {omega!r}")
    value = float(omega)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"omega must be a finite number >= 0, got {omega!r}")
    return value


def _opt(default: Any, doc: str, online: bool = False) -> Any:
    """A field of :class:`EnvOptions`: its default and documentation.

    :param default: the default value.
    :param doc: one line for the envs' ``## Arguments`` section.
    :param online: an online-mode option, refused in store mode when given.
    """
    return field(default=default, metadata={"doc": doc, "online": online})


@dataclass
class EnvOptions:
    """Every option of ``FrameSelection-v0`` (single and vector env), with its default and check.

    ``EnvOptions(**kwargs)`` checks the values that can be checked without opening anything
    (``render_mode``, ``num_frames``, ``omega``); the source checks the rest against the store or
    the videos. :meth:`from_kwargs` names unknown keywords.
    """

    store: str | os.PathLike | None = _opt(
        None, "path of a feature store; ``None`` uses the built-in SparseActions store "
        "(``$FRAME_SELECT_ENV_STORE`` overrides it).")
    split: str | None = _opt("train", "``train``, ``val``, ``test`` or ``None`` for every video.")
    stream: str = _opt("rgb", "a stream of the store (``rgb``, ``flow``) or ``fused`` (features "
                       "concatenated, probabilities averaged).")
    num_frames: int | None = _opt(
        None, "T (an evenly spaced subset of the stored frames); ``None`` = all stored.")
    omega: float = _opt(DEFAULT_OMEGA, "the flip bonus/penalty Ω of Eq. 4 (finite, >= 0).")
    state: str = _opt("both", "``both``, ``features`` or ``predictions`` (the paper's Table 2).")
    view: str | int = _opt("random", "``random`` (per episode), ``center``, ``mean`` (average "
                           "over crops) or a view index.")
    render_mode: str | None = _opt(
        None, "``None``, ``\"ansi\"`` (text) or ``\"rgb_array\"`` (a picture: per-frame "
        "keep/drop and true-class probability, p0 vs p1; see :mod:`frame_select_env.envs.render`).")
    max_memory_bytes: int | None = _opt(
        None, "load the split into RAM when its float32 states fit (default 2 GiB); larger "
        "stores are read per batch.")
    observe: str | None = _opt(
        None, "select-before-compute: the stream(s) the observation comes from; ``None`` = "
        "``stream``, the paper's setting.")
    predict: str | None = _opt(
        None, "the stream(s) whose kept frames give the reward's probabilities (e.g. "
        "``observe=\"rgb\", predict=\"fused\"``); ``None`` = ``stream``. Where the store "
        "records cost, ``step``'s info has ``macs``, the episode's classifier MACs.")
    videos: Any = _opt(
        None, "online mode instead of ``store``: a list, a folder or ``\"builtin:<split>\"``; "
        "states computed from the videos by the frozen classifier "
        "(:mod:`frame_select_env.pipeline.online`).", online=True)
    classifier: Any = _opt(None, "online: the frozen classifier (``\"builtin\"`` by default).",
                           online=True)
    device: str = _opt("auto", "online: the classifier's device.", online=True)
    cache: str | os.PathLike | None = _opt(
        None, "online: the cache store of computed states.", online=True)
    flow: str | None = _opt(None, "online: the optical-flow method.", online=True)
    views: int | None = _opt(None, "online: test-time crops per frame.", online=True)
    skip_bad: bool = _opt(False, "online: skip videos that cannot be decoded.", online=True)
    online_options: dict[str, Any] | None = _opt(
        None, "online: further settings (:data:`frame_select_env.pipeline.online.OPTION_KEYS`).",
        online=True)

    def __post_init__(self) -> None:
        if self.render_mode not in (None, *RENDER_MODES):
            raise ValueError(f"render_mode must be None or one of {list(RENDER_MODES)}, "
                             f"got {self.render_mode!r}")
        check_num_frames(self.num_frames)  # before online mode opens (and screens) any video
        self.omega = check_omega(self.omega)

    @classmethod
    def from_kwargs(cls, owner: str, kwargs: Mapping[str, Any]) -> EnvOptions:
        """The options from an env's keyword arguments, unknown keywords named in the error.

        :param owner: the env's class name, for the error.
        :param kwargs: the keyword arguments.
        :raises TypeError: a keyword that is no option (as Python names it for a signature).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        if unknown := [k for k in kwargs if k not in known]:
            raise TypeError(f"{owner}() got unexpected keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}; the options are {sorted(known)}")
        return cls(**kwargs)

    def online_given(self) -> list[str]:
        """The online-only options set to something other than ``None``/``False``.

        ``device`` has a default and is ignored in store mode; ``videos`` selects online mode.
        """
        skip = ("videos", "device")
        return [f.name for f in dataclasses.fields(self) if f.metadata["online"]
                and f.name not in skip and getattr(self, f.name) is not None
                and getattr(self, f.name) is not False]


def options_signature(*leading: inspect.Parameter,
                      options_cls: type = EnvOptions) -> inspect.Signature:
    """An env's ``__init__`` signature: ``leading`` parameters, then every option as a keyword.

    :param leading: the env's own parameters (``self``, ``num_envs``, ...), in order.
    :param options_cls: the options dataclass (a subclass for an env with more options).
    """
    params = list(leading)
    names = {p.name for p in params}
    for f in dataclasses.fields(options_cls):
        if f.name not in names:
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=f.default, annotation=f.type))
    return inspect.Signature(params)


def options_doc(indent: str = "    ", options_cls: type = EnvOptions) -> str:
    """The ``## Arguments`` bullet list of every option, from the fields' ``doc``.

    :param indent: prefix of every line (the docstring's indentation).
    :param options_cls: the options dataclass (a subclass for an env with more options).
    """
    lines = []
    for f in dataclasses.fields(options_cls):
        lines.append(f"{indent}* ``{f.name}`` (default ``{f.default!r}``): {f.metadata['doc']}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- state sources

#: A source kind's name -> ``"module:attr"`` of a function ``f(options) -> ObservationSource``.
SOURCES: dict[str, str] = {
    "store": "frame_select_env.envs.sources:store_source",
    "online": "frame_select_env.pipeline.online.source:online_source",
}


def register_source(name: str, entry_point: str) -> None:
    """Register a state source kind (a sequential env's, a new mode's) under ``name``.

    :param name: the kind's name.
    :param entry_point: ``"module:attr"`` of ``f(options: EnvOptions) -> ObservationSource``.
    :raises ValueError: ``entry_point`` is not of the form ``module:attr``.
    """
    module, sep, attr = entry_point.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"register_source({name!r}): entry_point must be 'module:attr', "
                         f"got {entry_point!r}")
    SOURCES[name] = entry_point


def load_source(name: str) -> Callable[[EnvOptions], ObservationSource]:
    """The source function registered as ``name``, imported now.

    :param name: a key of :data:`SOURCES`.
    :raises ValueError: an unknown kind.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown state source {name!r}; registered: {sorted(SOURCES)}")
    module, _, attr = SOURCES[name].partition(":")
    fn: Callable[[EnvOptions], ObservationSource] = getattr(importlib.import_module(module), attr)
    return fn


def source_kind(options: EnvOptions) -> str:
    """Which source the options ask for: ``online`` when ``videos`` is given, else ``store``."""
    return "store" if options.videos is None else "online"


def make_source(options: EnvOptions, kind: str | None = None) -> ObservationSource:
    """The observation source the options describe, with ``num_frames`` resolved.

    :param options: the env's options.
    :param kind: a registered source kind (a later env's own); ``None``: :func:`source_kind`.
    :raises ValueError: the source's own argument checks (naming the argument).
    :raises RuntimeError: the source left ``num_frames`` unresolved (a bug).
    """
    src = load_source(kind or source_kind(options))(options)
    if src.num_frames is None:  # the source resolves the requested T (None = all) on creation
        raise RuntimeError(f"{type(src).__name__} left num_frames unresolved")
    return src


def source_kwargs(options: EnvOptions) -> dict[str, Any]:
    """The :class:`ObservationSource` arguments both sources share, from the options.

    ``max_memory_bytes=None`` is left out, so the source's own default applies.
    """
    kw = {k: getattr(options, k) for k in ("split", "stream", "num_frames", "state", "view",
                                          "observe", "predict")}
    if options.max_memory_bytes is not None:
        kw["max_memory_bytes"] = options.max_memory_bytes
    return kw


def store_source(options: EnvOptions) -> ObservationSource:
    """Store mode: the states read from a feature store (the built-in one for ``None``).

    :param options: the env's options (no online-only option may be set).
    :raises ValueError: online-only options without ``videos``.
    """
    if used := options.online_given():
        raise ValueError(f"{', '.join(used)} only apply to online mode: pass videos=LIST, "
                         f"a folder, or 'builtin:test'")
    return ObservationSource(store_or_builtin(options.store), **source_kwargs(options))
