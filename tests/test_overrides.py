"""``--set KEY=VALUE`` parsing shared by train_baseline.py, train_sb3.py and bench_train.py."""

import pytest

from frame_select_env.cli.overrides import parse_overrides


def test_values_are_yaml_with_exponent_floats():
    out = parse_overrides(["lr=3e-3", "wd=1.0e-5", "lr_milestones=[20, 40]", "state=both",
                           "shared_view=false", "epochs=45", " m = 8", "num_frames=null"])
    assert out == {"lr": 0.003, "wd": 1e-5, "lr_milestones": [20, 40], "state": "both",
                   "shared_view": False, "epochs": 45, "m": 8, "num_frames": None}
    assert isinstance(out["lr"], float) and isinstance(out["epochs"], int)


def test_later_key_wins():
    assert parse_overrides(["m=4", "m=12"]) == {"m": 12}


@pytest.mark.parametrize("item", ["lr", "=3", " =3"])
def test_malformed_item_is_named(item):
    with pytest.raises(ValueError, match="--hp expects KEY=VALUE") as err:
        parse_overrides([item], flag="--hp")
    assert repr(item) in str(err.value)
