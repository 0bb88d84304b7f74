"""``python -m pytest_vbs serve ...``"""

import sys

from pytest_vbs.cli import main

sys.exit(main())
