"""The env's options declared once (EnvOptions) and the state-source registry."""

from __future__ import annotations

import dataclasses
import inspect

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.envs import sources
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.envs.one_step.env import FrameSelectionEnv
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.envs.sources import EnvOptions, register_source

OPTION_NAMES = [f.name for f in dataclasses.fields(EnvOptions)]


def test_both_envs_take_every_option_from_one_declaration() -> None:
    for cls, own in ((FrameSelectionEnv, ["store"]),
                     (FrameSelectionVectorEnv, ["num_envs", "store", "autoreset_mode"])):
        params = list(inspect.signature(cls).parameters)
        assert params[:len(own)] == own
        assert sorted(set(params) - {"num_envs", "autoreset_mode"}) == sorted(OPTION_NAMES)
        defaults = {n: p.default for n, p in inspect.signature(cls).parameters.items()}
        assert defaults["split"] == "train" and defaults["omega"] == 10.0
    doc = FrameSelectionEnv.__doc__ or ""
    assert "{arguments}" not in doc
    for name in OPTION_NAMES:  # help(FrameSelectionEnv) documents every option
        assert f"* ``{name}`` (default" in doc, name


def test_unknown_keyword_is_named(small_store) -> None:
    with pytest.raises(TypeError, match=r"FrameSelectionEnv\(\) got unexpected keyword "
                                        r"argument\(s\) 'num_frame'"):
        gym.make("FrameSelection-v0", store=small_store, num_frame=4)
    with pytest.raises(TypeError, match="FrameSelectionVectorEnv.*'colour'"):
        gym.make_vec("FrameSelection-v0", num_envs=2, store=small_store, colour="red")


def test_options_are_checked_before_any_source_opens(tmp_path) -> None:
    missing = tmp_path / "nothing.h5"  # never opened: the option checks come first
    with pytest.raises(ValueError, match="omega must be a finite number >= 0, got -1"):
        FrameSelectionEnv(missing, omega=-1)
    with pytest.raises(ValueError, match="num_frames must be None or an int >= 1"):
        FrameSelectionVectorEnv(2, missing, num_frames=0)
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        EnvOptions(render_mode="human")
    assert EnvOptions(views=0).online_given() == ["views"]
    assert EnvOptions(device="cuda", skip_bad=False).online_given() == []


def test_a_registered_source_serves_both_envs(small_store, monkeypatch, tmp_path) -> None:
    # A source defined outside the project, registered by entry point, as a later env would.
    (tmp_path / "my_source.py").write_text(
        "from frame_select_env.envs.observations import ObservationSource\n"
        "from frame_select_env.envs.sources import source_kwargs\n"
        "CALLS = []\n"
        "def every_other(options):\n"
        "    CALLS.append(options)\n"
        "    kw = source_kwargs(options)\n"
        "    kw['num_frames'] = 4\n"
        "    return ObservationSource(options.store, **kw)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sources.SOURCES, "store", "my_source:every_other")
    env = FrameSelectionEnv(small_store, view="center")
    envs = FrameSelectionVectorEnv(3, small_store, view="center")
    import my_source  # the module the registry imported

    assert len(my_source.CALLS) == 2 and my_source.CALLS[0].store == small_store
    assert env.num_frames == 4 and envs.single_action_space.n == 4
    obs, _ = env.reset(seed=0)
    assert obs["features"].shape[0] == 4
    env.close()
    envs.close()


def test_register_source_checks_the_entry_point(small_store) -> None:
    with pytest.raises(ValueError, match="entry_point must be 'module:attr', got 'nocolon'"):
        register_source("seq", "nocolon")
    with pytest.raises(ValueError, match="unknown state source 'nope'"):
        sources.load_source("nope")
    register_source("seq_test", "frame_select_env.envs.sources:store_source")
    try:
        assert sources.load_source("seq_test") is sources.store_source
        src = sources.make_source(EnvOptions(store=small_store, num_frames=5), kind="seq_test")
        assert src.num_frames == 5
    finally:
        sources.SOURCES.pop("seq_test")


def test_store_source_matches_the_observation_source(small_store) -> None:
    src = sources.make_source(EnvOptions(store=small_store, stream="fused", view="mean",
                                         num_frames=3))
    ref = ObservationSource(small_store, "train", "fused", 3, "both", "mean")
    idx = np.arange(min(4, ref.num_videos))
    for k, v in ref.gather(idx).items():
        np.testing.assert_array_equal(src.gather(idx)[k], v)
