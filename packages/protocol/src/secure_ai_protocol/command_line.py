"""The `secure-ai` command's contract with the packages that add subcommands to it.

secure-ai-client installs the `secure-ai` command (`ask`, `demo`); any installed distribution may add
top-level subcommands through the `secure_ai.commands` entry-point group (secure-ai-gateway adds the
operator's `clients`). An entry point names a function that takes the subparsers and adds one
command whose `run(args) -> int` it sets as the parser default. Both sides agree here on the parser
class, the exit codes and the two ways a command fails:

    0  done
    1  the operation failed (`CommandFailed`: no such client, AWS error, blocked answer)
    2  bad arguments or configuration, nothing changed or sent (`UsageError`)

Errors are one line on stderr, `secure-ai: error: <message>`. See docs/architecture.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final, NoReturn

ENTRY_POINT_GROUP: Final = "secure_ai.commands"
PROG: Final = "secure-ai"

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


class UsageError(Exception):
    """Bad arguments or configuration: exit 2, nothing changed."""

    def __init__(self, message: str, *, prog: str = PROG) -> None:
        super().__init__(message)
        self.prog = prog


class CommandFailed(Exception):
    """The command ran and its operation failed: exit 1, with `message` on stderr."""


class CommandParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` returns its exit code."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)", prog=self.prog)


if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[CommandParser]


def report_error(message: str, *, prog: str = PROG) -> None:
    """Write `message` as the command's one-line error on stderr."""
    sys.stderr.write(f"{prog}: error: {message}\n")
