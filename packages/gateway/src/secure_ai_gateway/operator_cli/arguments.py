"""Argument types of the `clients` actions: strict, with messages that quote only the argument."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Final


def comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"empty item in {text!r}")
    return items


def positive_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)


_DURATION_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    match = re.fullmatch(r"([0-9]{1,9})([smhd]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration (like 3600, 90s, 15m, 24h, 7d): {text!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


# A client record's policy_id grammar (client_registry.records.PolicyId): every stored policy can be named.
_POLICY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def policy_id(text: str) -> str:
    if not _POLICY_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a policy id ([A-Za-z0-9][A-Za-z0-9._-]{{0,63}}): {text!r}")
    return text


def secret_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file",
        type=Path,
        metavar="PATH",
        help="write the new key id and secret to PATH (created with mode 0600, never overwritten) "
        "instead of printing the secret",
    )
