"""``python -m kubernai``."""

import sys

from kubernai.cli.main import main

sys.exit(main())
