"""``python -m automationctl``: the same as ``automationctl``."""

import sys

from automationctl.main import main

sys.exit(main())
