"""``python -m realtime_fer``: the ``realtime-fer`` command."""

import sys

from realtime_fer.cli import main

sys.exit(main())
