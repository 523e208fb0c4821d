"""``python -m frame_select_env.pipeline.cost``: measure the built-in store's cost, write it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from frame_select_env.cli import option, parse
from frame_select_env.pipeline.cost.builtin import builtin_cost
from frame_select_env.pipeline.cost.model import cost_summary
from frame_select_env.store.cost_record import BUILTIN_COST_JSON


@dataclass
class Args:
    """The arguments of ``python -m frame_select_env.pipeline.cost``."""

    out: Path = option(BUILTIN_COST_JSON, "where the JSON goes")
    ucf_clip: Path | None = option(None, "a real video for reference flow timings")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the built-in store's cost dict, write it as JSON and print its summary.

    :param argv: the command line (default ``sys.argv[1:]``).
    :return: the exit status.
    """
    from frame_select_env.store.atomic import atomic_write_text
    from frame_select_env.store.builtin import builtin_store_path

    args = parse(Args, argv, description=__doc__, prog="python -m frame_select_env.pipeline.cost")
    cost = builtin_cost(builtin_store_path(), measure=True, ucf_clip=args.ucf_clip)
    atomic_write_text(args.out, json.dumps(cost, indent=1, sort_keys=True) + "\n")
    print(cost_summary(cost))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
