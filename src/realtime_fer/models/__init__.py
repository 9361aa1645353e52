"""The old name of :mod:`realtime_fer.architectures` (a *model* here is a trained folder); it keeps
working, submodules included (``realtime_fer.models.spec``), with a deprecation note."""

import sys
import warnings

from realtime_fer import architectures
from realtime_fer.architectures import *  # noqa: F403
from realtime_fer.architectures import __all__, pair, paper, registry, spec, vgg  # noqa: F401

warnings.warn(
    "realtime_fer.models is now realtime_fer.architectures; the old name will go in a later release",
    DeprecationWarning,
    stacklevel=2,
)
for _name in ("pair", "paper", "registry", "spec", "vgg"):
    sys.modules[f"{__name__}.{_name}"] = getattr(architectures, _name)
