"""What both native vector envs share: the autoreset mode, ``num_envs``, the options, the spaces.

:class:`OptionsVectorEnv` is the base class of
:class:`~frame_select_env.envs.one_step.vector_env.FrameSelectionVectorEnv` and
:class:`~frame_select_env.envs.sequential.vector_env.FrameSelectionSeqVectorEnv`;
:func:`vector_signature` gives each its ``__init__`` signature. It lives here, not in either
env, so the one-step and the sequential env import nothing of each other.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, TypeVar

from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from frame_select_env.envs.checks import check_num_envs, parse_autoreset_mode
from frame_select_env.envs.render import RENDER_MODES
from frame_select_env.envs.sources import EnvOptions, options_signature

_Env = TypeVar("_Env", bound=type)


class OptionsVectorEnv(VectorEnv):
    """``num_envs`` episodes at once, configured by the single env's options (a base class).

    ``__init__`` takes ``autoreset_mode`` (an :class:`AutoresetMode` or its name; it goes into
    ``metadata["autoreset_mode"]``) and ``num_envs`` (an int >= 1), builds :attr:`options_cls`
    from ``store`` and the keywords (unknown keywords are named in a ``TypeError``), sets
    ``options``, ``num_envs`` and ``render_mode``, calls :meth:`_open` and batches the spaces it
    set.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": list(RENDER_MODES)}
    #: the options dataclass of the env (its single env's)
    options_cls: type[EnvOptions] = EnvOptions

    def __init__(
        self,
        num_envs: int = 1,
        store: str | os.PathLike | None = None,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        **options: Any,
    ) -> None:
        mode = parse_autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        check_num_envs(num_envs)
        self.options = self.options_cls.from_kwargs(type(self).__name__,
                                                    {"store": store, **options})
        self.num_envs = int(num_envs)
        self.render_mode = self.options.render_mode
        self._open()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _open(self) -> None:
        """Open the states from ``options``; set ``num_frames`` and the single spaces."""
        raise NotImplementedError


def vector_signature(cls: _Env) -> _Env:
    """Class decorator: give a vector env the signature ``help`` and ``inspect`` show.

    ``num_envs``, ``store``, ``autoreset_mode``, then every field of its
    :attr:`~OptionsVectorEnv.options_cls` as a keyword with its default.

    :param cls: a subclass of :class:`OptionsVectorEnv`.
    :return: ``cls``.
    """
    cls.__signature__ = options_signature(  # type: ignore[attr-defined]
        inspect.Parameter("num_envs", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=1),
        inspect.Parameter("store", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
        inspect.Parameter("autoreset_mode", inspect.Parameter.KEYWORD_ONLY,
                          default=AutoresetMode.SAME_STEP),
        options_cls=cls.options_cls,  # type: ignore[attr-defined]
    )
    return cls
