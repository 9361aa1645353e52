"""The one check that a value is one of a fixed set of names, and its one message:
``unknown optimizer 'rmsprop'; use adam, adamw, sgd``. A leaf module: training and serving both use it."""

from collections.abc import Sequence


def check_choice(
    option: str, value: str, choices: Sequence[str], error: type[ValueError] = ValueError
) -> str:
    """``value`` itself when it is one of ``choices``, else ``error`` (a ``ValueError``) naming them."""
    if value not in choices:
        raise error(f"unknown {option} {value!r}; use {', '.join(choices)}")
    return value
