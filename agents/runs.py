"""What the agents' training scripts share: the options of a run, its directory, ``main``.

``scripts/train_reinforce.py`` and ``scripts/train_seq_agent.py`` read their training options
from a config file with command-line overrides (:func:`training_config`), write a run directory
named by the time it started (:func:`run_directory`) and have the same ``main``
(:func:`script_main`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from frame_select_env.cli import check_out_dir, entry
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.config import UserError, load_yaml
from frame_select_env.store.builtin import config_file


def training_config(cls: Any, config: str | None, default: str,
                    overrides: Mapping[str, Any], sets: Sequence[str] = ()) -> Any:
    """A run's training options: the config file, then ``--set``, then the other flags.

    :param cls: the options class (with ``from_dict(data, where=...)``).
    :param config: ``--config``: a path or ``builtin:NAME`` (``None``: ``default``).
    :param default: the packaged config read without ``--config``.
    :param overrides: flag values that replace the file's; ``None`` (not given) keeps it.
    :param sets: ``--set KEY=VALUE`` items, applied before ``overrides``.
    :return: ``cls.from_dict`` of the result.
    :raises UserError: an unreadable config, a bad ``--set`` item or option (naming it).
    """
    path = config_file(config or default)
    data = load_yaml(path, "--config")
    try:
        data.update(parse_overrides(sets))
    except ValueError as err:
        raise UserError(f"--set: {err}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return cls.from_dict(data, where=f"config {str(path)!r}")


def run_directory(out: str | None, prefix: str, markers: Sequence[str], resume: bool,
                  overwrite: bool) -> Path:
    """The run's output directory, created; refused when it holds another run.

    :param out: ``--out`` (``None``: ``runs/<prefix>_<UTC timestamp>``).
    :param prefix: the default directory's name before the timestamp (``as``, ``seq_as``).
    :param markers: glob patterns of the files a run leaves
        (:func:`frame_select_env.cli.check_out_dir`).
    :param resume: ``--resume`` was given.
    :param overwrite: ``--overwrite`` was given.
    :return: the directory.
    :raises UserError: ``--out`` holds a run and neither flag was given (or both were).
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    path = check_out_dir(out or Path("runs") / f"{prefix}_{stamp}", markers, resume, overwrite)
    path.mkdir(parents=True, exist_ok=True)
    return path


def script_main(run: Callable[[Any], object],
                parse_args: Callable[[list[str] | None], Any]) -> Callable[..., int]:
    """A training script's ``main(argv)``: parse the command line, run, exit status 0.

    User errors become one ``error:`` line and status 2 (:func:`frame_select_env.cli.entry`).

    :param run: the script's ``run(args)``.
    :param parse_args: the script's ``parse_args(argv)`` (``sys.argv[1:]`` for ``None``).
    :return: the wrapped ``main``.
    """

    def main(argv: list[str] | None = None) -> int:
        """Train and evaluate as the command line says; the exit status."""
        run(parse_args(argv))
        return 0

    return entry(main)
