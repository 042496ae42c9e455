"""Writing outputs safely: to a temporary file beside the target, then renamed into place,
so that a failure leaves no half-written file and an earlier output intact; and never
over one of the inputs."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

__all__ = ["OutputError", "atomic_path", "refuse_inputs"]


class OutputError(Exception):
    """An output that must not or cannot be written; the message says which and why."""


def refuse_inputs(target: Path, inputs: Iterable[str | Path]) -> None:
    resolved = target.resolve()
    for p in inputs:
        if Path(p).resolve() == resolved:
            raise OutputError(f"拒绝覆盖输入文件 / refusing to overwrite an input: {target}")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one rename."""
    target = Path(target)
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
