"""Opening a file below a directory without following any link on the way: the guard's last
layer, so a file or directory swapped for a symlink after the path was checked fails to open."""

import errno
import os
import stat
from pathlib import Path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# Non-blocking: a FIFO opened for reading with no writer would otherwise hang the call.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


def open_within(root: Path, real: Path) -> int:
    """Open `real` walking down from `root` with no-follow opens relative to each directory.

    `real` has no symlink in it (it is a real path), so a link met on the way was swapped in
    after the check: O_NOFOLLOW makes that open fail (ELOOP), for the file and every parent.
    """
    parts = real.relative_to(root).parts
    if not parts:
        return os.open(root, _FILE_FLAGS)
    directory = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            child = open_directory(part, directory)
            os.close(directory)
            directory = child
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=directory)
    finally:
        os.close(directory)


def open_directory(name: str, parent: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except NotADirectoryError:
        # O_DIRECTORY | O_NOFOLLOW on a symlink answers ENOTDIR: say it is a swapped link.
        if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, "a symbolic link appeared", name) from None
        raise
