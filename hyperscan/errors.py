"""One exception type for every problem with a user's input.

Each problem names the file, the row or line, what is wrong and what was expected, so
``hyperscan validate`` and ``hyperscan run`` can print all of them, never a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Problems with user input; ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def problem(file, what, expected=None, row=None, line=None) -> str:
    """Format one problem as ``file[, row R][, line L]: what (expected: ...)``."""
    where = str(file)
    if row is not None:
        where += f", row {row}"
    if line is not None:
        where += f", line {line}"
    text = f"{where}: {what}"
    if expected:
        text += f" (expected {expected})"
    return text


def read_utf8(path, kind: str) -> str:
    """The text of a user's file; a byte-order mark is dropped. An unreadable or non-UTF-8
    file is an InputError naming the file, the line of the first bad byte and ``kind``
    (e.g. "YAML file", "TSV") as what was expected. A FIFO or device is refused unopened."""
    why = not_a_regular_file(path)
    if why:
        raise InputError(problem(path, why, f"a readable {kind}"))
    try:
        data = open(path, "rb").read()
    except OSError as exc:
        raise InputError(problem(path, f"cannot be read ({exc.strerror or exc})",
                                 f"a readable {kind}")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(problem(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                 f"a UTF-8 encoded {kind} (re-save it as UTF-8)", line=line)) from None


def not_a_regular_file(path) -> str | None:
    """Why ``path`` cannot be read as a file (``"does not exist"``, ``"is a folder"``,
    ``"is a broken symbolic link"``, ``"is a symbolic link loop"``, ``"is a FIFO / named
    pipe"``, ``"is a device or socket"``, ...), or None for a regular file (through any
    number of symbolic links). Checked before opening: a FIFO blocks a reader forever and a
    device such as /dev/zero never ends."""
    import errno
    import os
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if exc.errno == errno.ENOTDIR:
            return "does not exist (a part of the path is a file, not a folder)"
        try:
            os.lstat(path)
            return "is a broken symbolic link"
        except OSError:
            pass
        if exc.errno == errno.ENOENT:
            return "does not exist"
        return f"cannot be accessed ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "is a folder"
    if stat.S_ISFIFO(st.st_mode):
        return "is a FIFO (named pipe), not a file"
    return "is a device or socket, not a file"
