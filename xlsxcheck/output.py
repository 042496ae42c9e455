"""Writing outputs safely: to a temporary file beside the target, then renamed into place,
so that a failure leaves no half-written file and an earlier output intact; never over one
of the inputs (workbooks, registry, waivers, configuration). A device or FIFO (``-o
/dev/stdout``, ``/dev/null``) is written directly, never replaced by a regular file; other
targets that are not regular files are refused."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

__all__ = ["OutputError", "atomic_path", "refuse_inputs"]


class OutputError(Exception):
    """An output that must not or cannot be written; the message says which and why."""


def refuse_inputs(target: Path, inputs: Iterable[str | Path]) -> None:
    """OutputError when ``target`` is one of the inputs: the same file by any name (a symlink,
    a hard link, another spelling of its path). One stat an input: a batch has thousands."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return  # not there yet: no input can be it
    except OSError:
        st = None
    for p in inputs:
        if st is None:
            same = Path(p).resolve() == target.resolve() or _same_file(Path(p), target)
        else:
            try:
                other = os.stat(p)
            except OSError:
                continue  # gone since it was read: nothing to overwrite
            same = (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)
        if same:
            raise OutputError(f"拒绝覆盖输入文件 / refusing to overwrite an input: {target}")


def _same_file(a: Path, b: Path) -> bool:
    """A hard link to an input is that input too."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one rename."""
    target = Path(target)
    try:
        mode = target.stat().st_mode  # through a symlink: the file it points to is written
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"无法写入 / cannot write {target}: {exc.strerror}") from exc
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        yield target  # a stream: nothing to replace, nothing half-written to keep
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"拒绝写入：不是普通文件 / refusing to write over something that is not a regular file: {target}")
    target = target.resolve()  # a symlink stays a symlink; the file it points to is replaced
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; an output is an ordinary file
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
