"""Noticing new files in the work directory within tens of milliseconds, at almost no cost.

Results and started markers appear in the work directory when jobs write them; the executor wants
to see them at once, without asking the scheduler anything. Two ways, chosen per directory:

* **inotify** (Linux, a local filesystem): the kernel says when a file is created or renamed into the
  directory; waiting costs nothing. ``inotify`` sees only changes made through *this* machine's
  kernel, so it is not used on network filesystems (NFS, Lustre, GPFS, CIFS, ...: read from
  ``/proc/self/mountinfo``), where files are written by other machines.
* **a stat loop** everywhere else: the directory's modification time is compared every
  :data:`STAT_INTERVAL` seconds (one ``stat``, about a microsecond); a change is reported.

Either way :meth:`DirectoryWatch.wait` also reports a change at least every :data:`RESCAN_INTERVAL`
seconds, because a network filesystem's attribute cache can hide a new entry from ``stat`` for
tens of seconds: the caller then scans the directory (and opens expected files by name) anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import select
import threading
import time

log = logging.getLogger("cfut")

STAT_INTERVAL = 0.02
RESCAN_INTERVAL = 1.0
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "fuse.sshfs", "beegfs", "panfs",
    "afs", "9p", "glusterfs", "fuse.glusterfs", "wekafs", "fuse.ceph-fuse", "orangefs", "pvfs2",
})
_IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x8, 0x80, 0x100
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000


def filesystem_type(path: str) -> str:
    """The filesystem type of the mount ``path`` lies on (``/proc/self/mountinfo``); "" if unknown."""
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if " - " not in line or len(fields) < 5:
                    continue
                mount = fields[4].replace("\\040", " ")
                after = line.split(" - ", 1)[1].split()
                if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, after[0] if after else ""
    except OSError:
        return ""
    return kind


class DirectoryWatch:
    """Waits until something is created in ``path`` (or ``timeout`` passes); :meth:`wake` ends a wait."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._lock = threading.Lock()
        self._last_scan = 0.0
        self._not_before = 0.0
        self._mtime = self._stat()
        self._fd = -1
        kind = filesystem_type(os.path.realpath(path))
        if kind not in NETWORK_FILESYSTEMS:
            self._fd = _inotify(path)
        #: "inotify" or "stat": how this watch notices changes.
        self.mode = "inotify" if self._fd >= 0 else "stat"
        log.debug("watching %s with %s (filesystem %s)", path, self.mode, kind or "unknown")

    def _stat(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return 0

    def wake(self) -> None:
        """End the current (or next) wait at once."""
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def hold_off(self, seconds: float) -> None:
        """Report no change for the next ``seconds`` (a change seen meanwhile is reported after them;
        :meth:`wake` still ends a wait at once)."""
        self._not_before = time.monotonic() + max(0.0, seconds)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a change; True when the directory should be scanned."""
        deadline = time.monotonic() + timeout
        held = self._not_before - time.monotonic()
        if held > 0:
            ready, _, _ = select.select([self._wake_r], [], [], min(held, timeout))
            if ready and self._drain(self._wake_r):
                return False
        while True:
            now = time.monotonic()
            if now - self._last_scan >= RESCAN_INTERVAL:
                self._last_scan = now
                return True
            left = min(deadline, self._last_scan + RESCAN_INTERVAL) - now
            if left <= 0:
                return False
            if self._fd >= 0:
                ready, _, _ = select.select([self._fd, self._wake_r], [], [], left)
                woke = self._drain(self._wake_r) if self._wake_r in ready else False
                if self._fd in ready and self._drain(self._fd):
                    self._last_scan = time.monotonic()
                    return True
                if woke:
                    return False
                continue
            ready, _, _ = select.select([self._wake_r], [], [], min(left, STAT_INTERVAL))
            if ready and self._drain(self._wake_r):
                return False
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                self._last_scan = time.monotonic()
                return True

    @staticmethod
    def _drain(fd: int) -> bool:
        got = False
        try:
            while os.read(fd, 65536):
                got = True
        except (BlockingIOError, OSError):
            pass
        return got

    def close(self) -> None:
        for fd in (self._fd, self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._wake_r = self._wake_w = -1


def _inotify(path: str) -> int:
    """An inotify descriptor watching ``path`` for new files, or -1 where inotify is not available."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
    except (OSError, AttributeError):
        return -1
    if fd < 0:
        return -1
    mask = _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
    if int(libc.inotify_add_watch(fd, os.fsencode(path), mask)) < 0:
        os.close(fd)
        return -1
    return fd
