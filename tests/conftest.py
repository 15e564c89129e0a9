"""Settings shared by every test: hypothesis profiles (few examples locally, more in CI)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=30)
settings.register_profile("ci", max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))

# The pytest plugin's own tests (tests/unit/test_pytest_plugin.py) run inner pytest sessions.
pytest_plugins = ["pytester"]
