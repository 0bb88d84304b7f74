"""Live mode costs nothing to a run that does not use it: the plugin imports none of it."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_plugin_imports_nothing_of_live_mode() -> None:
    code = ("import sys, pytest_vbs.plugin; print(sorted(m for m in sys.modules if m.startswith("
            "('pytest_vbs.live', 'openstack', 'keystoneauth1', 'requests'))))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert output.stdout.strip() == "[]"
