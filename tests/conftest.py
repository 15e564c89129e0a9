"""Settings shared by every test: hypothesis profiles (few examples locally, more in CI) and a
private signing key for the session (cfut signs payloads and results with a key kept outside the
work directory; tests must not create one in the user's home)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=30)
settings.register_profile("ci", max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))

# The pytest plugin's own tests (tests/unit/test_pytest_plugin.py) run inner pytest sessions.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session", autouse=True)
def _private_key_file() -> Iterator[str]:
    """``CFUT_KEY_FILE`` in a private temporary directory, for this session and the jobs it starts."""
    previous = os.environ.get("CFUT_KEY_FILE")
    with tempfile.TemporaryDirectory(prefix="cfut-test-key-") as directory:
        os.environ["CFUT_KEY_FILE"] = os.path.join(directory, "hmac.key")
        try:
            yield os.environ["CFUT_KEY_FILE"]
        finally:
            if previous is None:
                os.environ.pop("CFUT_KEY_FILE", None)
            else:
                os.environ["CFUT_KEY_FILE"] = previous
