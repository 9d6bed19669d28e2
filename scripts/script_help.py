"""``--help`` for the scripts that read their arguments from ``sys.argv``: their docstring is the usage.

Before, ``--help`` was taken for an argument: a traceback, or worse, ``plot_results.py --help`` redrew the
committed plots.
"""
import sys


def exit_with_usage_on_help(usage: str, required: int = 0) -> None:
    """Print ``usage`` and exit: with status 0 for ``-h``/``--help``, with 2 when fewer than ``required``
    arguments are given."""
    if any(argument in ("-h", "--help") for argument in sys.argv[1:]):
        print(usage.strip())
        sys.exit(0)
    if len(sys.argv) - 1 < required:
        print(usage.strip(), file=sys.stderr)
        sys.exit(2)
