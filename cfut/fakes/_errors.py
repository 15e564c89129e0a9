"""The one exception a fake scheduler raises on its own account."""

from __future__ import annotations


class FakeUnsupported(NotImplementedError):
    """The fake was asked for something it does not model.

    A fake that guessed would let a test pass against behaviour no real scheduler has, so anything
    outside the modelled subset fails loudly instead; the message names the option, format token or
    script line, and where there is one, the way around it (e.g. ``execution="subprocess"``).

    It derives from :class:`NotImplementedError` rather than from :class:`cfut.CfutError` on purpose:
    it reports a gap in the test set-up, never a scheduler failure the executor should handle.
    """
