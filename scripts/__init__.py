"""The command-line scripts, installed as the package ``frame_select_scripts``.

Each module is a script with ``main(argv=None) -> int``: ``python scripts/X.py`` from a checkout
and the console command ``fse-X`` (see ``pyproject.toml``) run the same code.
"""
