"""``python -m shared.cli``: the same as ``automationctl``."""

import sys

from shared.cli.main import main

sys.exit(main())
