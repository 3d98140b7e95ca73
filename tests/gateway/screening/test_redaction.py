"""Redaction: spans of the original text become typed placeholders."""

from __future__ import annotations

from secure_ai_gateway.screening.findings import mask_sample, placeholder
from secure_ai_gateway.screening.redaction import redact, redact_tracking


def test_each_span_is_replaced_by_its_placeholder() -> None:
    text = "mail alice@example.com or call +44 20 7946 0958."
    assert redact(text, [(5, 22, "[EMAIL]"), (31, 47, "[PHONE]")]) == "mail [EMAIL] or call [PHONE]."


def test_overlapping_spans_become_one_placeholder_named_by_the_widest() -> None:
    text = "see https://evil.example/?to=alice@example.com now"
    # the e-mail (29-46) lies inside the link (4-46)
    assert redact(text, [(29, 46, "[EMAIL]"), (4, 46, "[LINK]")]) == "see [LINK] now"


def test_partly_overlapping_spans_merge_into_their_union_named_by_the_widest() -> None:
    assert redact("0123456789", [(2, 5, "[A]"), (4, 8, "[B]")]) == "01[B]89"
    assert redact("0123456789", [(2, 6, "[A]"), (4, 7, "[B]")]) == "01[A]789"


def test_touching_spans_stay_separate() -> None:
    assert redact("abcdef", [(0, 3, "[X]"), (3, 6, "[Y]")]) == "[X][Y]"


def test_no_spans_leave_the_text_alone() -> None:
    assert redact("unchanged", []) == "unchanged"


def test_placeholders_are_typed() -> None:
    assert [
        placeholder(kind)
        for kind in ("email", "ipv6", "card", "aws_access_key", "canary", "exfiltration_link")
    ] == [
        "[EMAIL]",
        "[IP]",
        "[CARD]",
        "[SECRET:aws_access_key]",
        "[CANARY]",
        "[LINK]",
    ]


def test_a_masked_sample_shows_at_most_four_characters_and_a_quarter() -> None:
    assert mask_sample("sk-proj-abcdefghijklmnop") == "sk-p…[redacted]"
    assert mask_sample("10.0.0.1") == "10…[redacted]"
    assert mask_sample("abc") == "…[redacted]"


def test_kept_spans_move_with_the_replacements_before_them() -> None:
    text, kept = redact_tracking("aaaa bb cc", [(0, 4, "[X]")], [(5, 7), (8, 10)])
    assert (text, kept) == ("[X] bb cc", [(4, 6), (7, 9)])


def test_a_kept_span_that_a_replacement_overlaps_is_dropped() -> None:
    _, kept = redact_tracking("aaaa bb cc", [(3, 6, "[X]")], [(0, 4), (5, 7), (8, 10)])
    assert kept == [(8, 10)]


def test_a_kept_span_touching_a_replacement_is_kept() -> None:
    _, kept = redact_tracking("aaaabb", [(0, 4, "[LONGER]")], [(4, 6)])
    assert kept == [(8, 10)]
