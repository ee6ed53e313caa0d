"""``python -m hotpath.gate gate|measure ...``: the gate's commands without the rest of hotpath."""

import sys

from hotpath.gate.cli import main

sys.exit(main())
