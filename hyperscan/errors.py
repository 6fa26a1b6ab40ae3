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
