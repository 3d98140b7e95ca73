"""A model's answer screened while it streams: nothing is released before the detectors saw it in context.

`StreamScreen` takes the model's deltas and says, after each, what may be sent now. It keeps the
rule of the buffered path (screening/release.py): every character released has been screened in
its final form, pseudonyms restored in plain text only. How:

- **The hold-back.** Text within `hold_back` characters of the end (in the normalised view, where
  detectors match, so invisible characters and escapes do not stretch it) is never released. The
  size is the largest `stream_reach` of the policy's detectors (screening/registry.py): how far a
  finding, with the context its detector reads, reaches across whitespace. A run of characters
  without ASCII whitespace (a token, a URL, a JWT) is never split: while it reaches into the
  hold-back it is held whole.
- **Constructs.** A markdown link or image, an HTML tag, comment or raw-text element, a code fence,
  a reference definition or a private-key header without its END line that is still open at the
  end of the text is held from its first character; a release never ends inside a construct (open
  or closed, as this module reads it or as the renderer reports markup), a finding or a restored
  value.
- **Re-screening.** Each screen runs over the accumulated text as the client will have it: what was
  released (redactions applied) followed by what is held. A finding ending before the hold-back is
  settled: `block` ends the stream at once, `redact` is applied to the held text before it is
  released (and the redacted text is screened again). Findings inside the hold-back are not acted on
  yet: the text there may still become something else (a longer token, a canary cut short).
- **The end.** `finish` runs the buffered `release` over the whole answer: its verdict is the
  stream's, and what it releases must begin with what the stream already released (else the stream
  blocks: the released text could not be vouched for). So the final verdict, its digest (of exactly
  the released text) and the text are the buffered path's.
- **Whole-text detectors** (schema, moderation) buffer the stream unless the policy's
  `stream_modes` says `incremental` (moderation only): then each release ends at a sentence and the
  sentences released, with the previous release as context, are moderated first.

Screens are batched: the first once the text reaches past the hold-back by 32 characters, then
each once the text has grown by a quarter (and by 32 characters at least), so a stream costs a
bounded multiple of one buffered screen.
docs/screening.md ("Streams: what is held back and why") states the rules and their limits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from secure_ai_gateway.screening.detector import ScreeningContext
from secure_ai_gateway.screening.errors import StreamEnded
from secure_ai_gateway.screening.findings import PLACEHOLDER_TAGS, Detection, DetectorName, placeholder
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.normalise import NormalisedText, TextView, normalise
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser, Restoration
from secure_ai_gateway.screening.redaction import redact_tracking
from secure_ai_gateway.screening.registry import DETECTOR_SPECS, WHOLE_TEXT_DETECTORS
from secure_ai_gateway.screening.release import (
    VALUE_IN_MARKUP,
    markup_spans,
    release,
    restore_in_plain_text,
    values_in_markup,
)
from secure_ai_gateway.screening.screen import MAX_INPUT_BYTES, Judged, ScreenPass, screen_pass
from secure_ai_gateway.screening.verdict import MAX_VERDICT_FINDINGS, UnavailableReason
from secure_ai_protocol.errors import PayloadTooLarge
from secure_ai_protocol.wire.verdict import Finding, Verdict

type Span = tuple[int, int]

# RE2's \s, which every detector pattern uses: a run without these is one token.
_WHITESPACE: Final = " \t\n\r\f"
# Screen again once the text grew by this share of what was screened last, and by at least
# `_RESCREEN_MIN_CHARS`; the first screen waits until that much lies beyond the hold-back.
_RESCREEN_GROWTH: Final = 0.25
_RESCREEN_MIN_CHARS: Final = 32
# Finding type of the (unreachable) case where the whole answer's release does not begin with
# what the stream already released: the stream blocks rather than vouch for either.
RELEASED_TEXT_CHANGED: Final = "released_text_changed"
# The end of a sentence: the release boundary under incremental moderation.
_SENTENCE_END: Final = re.compile(r"[.!?](?=\s)|\n")
_PLACEHOLDER_SHAPE: Final = re.compile("<" + PLACEHOLDER_TAGS + "_[1-9]")
_FENCE: Final = re.compile(r" {0,3}(`{3,}|~{3,})")
_BLANK_LINE: Final = re.compile(r"\n[ \t]*(?:\n|\Z)")
_TAG_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
# Elements whose content HTML reads as text up to their end tag: they hide or change what follows.
_RAW_TEXT_ELEMENTS: Final = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"}
)
_KEY_HEADER: Final = re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_KEY_FOOTER: Final = "-----END"


@dataclass(frozen=True, slots=True)
class StreamStep:
    """What a delta (or the end) lets through: `released` may be sent now; `verdict` is set when the
    stream ends here, on `finish` or on a block in mid-stream."""

    released: str
    verdict: Verdict | None


def stream_hold_back(policy: Policy, canary: str | None) -> int:
    """The hold-back for `policy` and `canary`: one more than the largest reach of the policy's
    detectors that read a stream through it (screening/registry.py, `DetectorSpec.stream_reach`)."""
    reaches = [
        spec.stream_reach(policy, canary)
        for spec in DETECTOR_SPECS
        if spec.name in policy.detectors and spec.stream_reach is not None
    ]
    return max(reaches, default=0) + 1


class StreamScreen:
    """One streamed answer, screened before release. Feed it the model's deltas in order, then
    `finish`; after a step with a verdict it takes nothing more (`StreamEnded`)."""

    def __init__(
        self,
        policy: Policy,
        *,
        pseudonyms: Pseudonymiser,
        canary: str | None,
        schema: dict[str, Any] | None,
        moderation: ModerationPort | None,
        digest_key: bytes | None,
        hold_back_chars: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        derived = stream_hold_back(policy, canary)
        if hold_back_chars is not None and hold_back_chars < derived:
            raise ValueError(f"hold_back_chars must be at least {derived} for this policy and canary")
        self.hold_back: Final = hold_back_chars if hold_back_chars is not None else derived
        self._policy = policy
        self._pseudonyms = pseudonyms
        self._canary = canary
        self._schema = schema
        self._moderation = moderation
        self._digest_key = digest_key
        self._clock = clock
        # The detectors that read a stream through its hold-back; whole-text ones are asked at the end.
        self._local = _only(policy, policy.detectors - WHOLE_TEXT_DETECTORS)
        waiting = self._whole_text_detectors()
        self._buffering = any(policy.stream_mode_for(name) == "buffer" for name in waiting)
        incremental = frozenset(name for name in waiting if policy.stream_mode_for(name) == "incremental")
        self._windowed = _only(policy, incremental) if incremental else None
        self._parts: list[str] = []
        self._raw = ""
        self._raw_length = 0
        self._screened_length = 0
        self._emitted = ""  # exactly what was released, redactions applied
        self._applied: list[tuple[int, int, str]] = []  # redactions released so far, in restored-text offsets
        self._moderated_from = 0  # offset of the emitted text where the next moderation window starts
        self._ended = False
        # How many times the accumulated text was screened (for metrics and the benchmark).
        self.screens = 0

    @property
    def released(self) -> str:
        """Everything released so far."""
        return self._emitted

    def feed(self, delta: str) -> StreamStep:
        """Take one delta of the model's answer; return what may be released now."""
        self._check_open()
        if not delta:
            return StreamStep("", None)
        self._parts.append(delta)
        self._raw_length += len(delta)
        if self._raw_length > MAX_INPUT_BYTES:
            self._ended = True
            raise PayloadTooLarge("screening_input_too_large")
        if self._raw_length < self.hold_back + _RESCREEN_MIN_CHARS:
            return StreamStep("", None)  # nothing could be released yet
        grown = self._raw_length - self._screened_length
        if grown < max(_RESCREEN_MIN_CHARS, _RESCREEN_GROWTH * self._screened_length):
            return StreamStep("", None)
        return self._screen()

    def finish(self) -> StreamStep:
        """The model ended: screen the whole answer as the buffered path does and release the rest."""
        self._check_open()
        self._ended = True
        outcome = release(
            self._text(),
            self._pseudonyms,
            self._policy,
            canary=self._canary,
            schema=self._schema,
            moderation=self._moderation,
            digest_key=self._digest_key,
        )
        if outcome.text is None:
            return StreamStep("", outcome.verdict)
        if not outcome.text.startswith(self._emitted):
            return StreamStep("", _changed(outcome.verdict, len(outcome.text)))
        return StreamStep(outcome.text[len(self._emitted) :], outcome.verdict)

    # The screen of the accumulated text.

    def _screen(self) -> StreamStep:
        self.screens += 1
        raw = self._text()
        self._screened_length = len(raw)
        restoration = self._restore(raw)
        # The text as the client will have it: the released part as released, then the held part.
        text, restored = redact_tracking(restoration.text, self._applied, restoration.spans)
        floor = len(self._emitted)
        if text[:floor] != self._emitted:
            return self._end(_changed_verdict(self._policy, len(text)))
        passed = self._pass(text, restored)
        judged = [
            *passed.judged,
            *_in_markup(values_in_markup(Restoration(text, tuple(restored)), self._policy)),
        ]
        view = normalise(text)
        cut_view = len(view.text) - self.hold_back
        cut = _original_point(view, cut_view, len(text)) if cut_view > 0 else 0
        # Settled: ending before the hold-back, so no later text can change it; or in released text,
        # where any finding but an allowed one means the release was wrong, and the stream blocks.
        settled = [item for item in judged if item.detection.end <= cut or item.detection.start < floor]
        if (
            _blocking(self._policy, passed.unavailable)
            or any(item.action == "block" for item in settled)
            or any(item.action != "allow" and item.detection.start < floor for item in settled)
        ):
            return self._end(self._blocked(settled, passed))
        if self._buffering or cut_view <= 0:
            return StreamStep("", None)
        boundary = self._boundary(
            text, view, cut_view=cut_view, cut=cut, floor=floor, judged=judged, restored=restored
        )
        if boundary <= floor:
            return StreamStep("", None)
        redactions = [
            (item.detection.start, item.detection.end, placeholder(item.detection.type))
            for item in settled
            if item.action == "redact" and item.detection.end <= boundary
        ]
        candidate = text[:boundary]
        if redactions:
            redacted, moved = redact_tracking(text, redactions, restored)
            released_length = len(redacted) - (len(text) - boundary)
            # The redacted text is screened again, as in the buffered path: anything but a clean
            # pass over what would be released blocks.
            again = self._pass(redacted, moved)
            if _blocking(self._policy, again.unavailable) or any(
                item.action != "allow" and item.detection.start < released_length for item in again.judged
            ):
                return self._end(self._blocked(settled, passed))
            candidate = redacted[:released_length]
            # Earlier redactions all lie in the released part: the held part is offset by their sum.
            shift = len(restoration.text) - len(text)
            self._applied += [(start + shift, end + shift, mark) for start, end, mark in redactions]
        if self._windowed is not None:
            blocked = self._moderate(self._windowed, candidate, restored)
            if blocked is not None:
                return self._end(blocked)
        self._emitted = candidate
        return StreamStep(candidate[floor:], None)

    def _pass(self, text: str, restored: Sequence[Span]) -> ScreenPass:
        return screen_pass(text, self._local, canary=self._canary, restored=restored, clock=self._clock)

    def _boundary(
        self,
        text: str,
        view: NormalisedText,
        *,
        cut_view: int,
        cut: int,
        floor: int,
        judged: Iterable[Judged],
        restored: Sequence[Span],
    ) -> int:
        """The furthest point up to `cut` that splits no token, construct, finding or restored value."""
        boundary = _original_point(view, _token_start(view.text, cut_view), len(text))
        boundary = min(boundary, cut)
        spans, opens = _constructs_everywhere(text, view)
        boundary = min([boundary, *opens])
        spans += markup_spans(text, self._policy)
        spans += [(item.detection.start, item.detection.end) for item in judged]
        spans += restored
        boundary = _outside(boundary, spans)
        if self._windowed is not None:
            # Released text ends at a sentence, so moderation judges whole sentences.
            while boundary > floor:
                last = None
                for match in _SENTENCE_END.finditer(text, floor, boundary):
                    last = match
                sentence_end = last.end() if last is not None else floor
                moved = _outside(sentence_end, spans)
                if moved == sentence_end:
                    boundary = sentence_end
                    break
                boundary = moved
        return boundary

    def _moderate(self, windowed: Policy, candidate: str, restored: Sequence[Span]) -> Verdict | None:
        """Moderate the sentences about to be released, with the previous release as context;
        the verdict if they block."""
        start = self._moderated_from
        window = candidate[start:]
        spans = [
            (max(begin, start) - start, min(end, len(candidate)) - start)
            for begin, end in restored
            if begin < len(candidate) and end > start
        ]
        passed = screen_pass(window, windowed, moderation=self._moderation, restored=spans, clock=self._clock)
        self._moderated_from = len(self._emitted)
        if _blocking(self._policy, passed.unavailable) or any(
            item.action == "block" for item in passed.judged
        ):
            return self._blocked(passed.judged, passed)
        return None

    # Helpers.

    def _restore(self, raw: str) -> Restoration:
        if _PLACEHOLDER_SHAPE.search(raw) is None:
            return Restoration(raw, ())
        return restore_in_plain_text(raw, self._pseudonyms, self._policy)

    def _whole_text_detectors(self) -> list[DetectorName]:
        context = ScreeningContext(
            normalise(""),
            self._policy,
            canary=self._canary,
            schema=self._schema,
            moderation=self._moderation,
            clock=self._clock,
        )
        return [
            spec.name
            for spec in DETECTOR_SPECS
            if spec.whole_text and spec.name in self._policy.detectors and spec.applies(context)
        ]

    def _text(self) -> str:
        if self._parts:
            self._raw += "".join(self._parts)
            self._parts.clear()
        return self._raw

    def _check_open(self) -> None:
        if self._ended:
            raise StreamEnded("stream_ended")

    def _end(self, verdict: Verdict) -> StreamStep:
        self._ended = True
        return StreamStep("", verdict)

    def _blocked(self, judged: Sequence[Judged], passed: ScreenPass) -> Verdict:
        findings = sorted((item.finding() for item in judged), key=lambda finding: finding.span)
        unavailable: dict[str, UnavailableReason] = dict(passed.unavailable)
        return Verdict(
            decision="block",
            findings=tuple(findings[:MAX_VERDICT_FINDINGS]),
            findings_total=len(findings),
            policy_id=self._policy.policy_id,
            policy_version=self._policy.version,
            latency_ms=dict(passed.latency),
            unavailable=dict(unavailable),
            failed_open=tuple(name for name in unavailable if name in self._policy.fail_open),
        )


def _only(policy: Policy, detectors: frozenset[DetectorName]) -> Policy:
    """`policy` with only `detectors` enabled (and failing open only among them)."""
    return policy.model_copy(update={"detectors": detectors, "fail_open": policy.fail_open & detectors})


def _blocking(policy: Policy, unavailable: Mapping[DetectorName, UnavailableReason]) -> bool:
    return any(name not in policy.fail_open for name in unavailable)


def _in_markup(written: Sequence[Span]) -> list[Judged]:
    """A restored value that became part of wider markup blocks, as in the buffered path."""
    return [
        Judged(
            Detection("exfiltration_link", "exfiltration", start, end, 1.0, "", VALUE_IN_MARKUP),
            "block",
            VALUE_IN_MARKUP,
        )
        for start, end in written
    ]


def _released_text_changed(length: int) -> Finding:
    return Finding(
        type=RELEASED_TEXT_CHANGED, detector="stream", span=(0, length), confidence=1.0, action="block"
    )


def _changed_verdict(policy: Policy, length: int) -> Verdict:
    """A block in mid-stream: the text screened no longer begins with what was released."""
    return Verdict(
        decision="block",
        findings=(_released_text_changed(length),),
        findings_total=1,
        policy_id=policy.policy_id,
        policy_version=policy.version,
    )


def _changed(verdict: Verdict, length: int) -> Verdict:
    """The whole answer's verdict, blocked: its release does not begin with what was released."""
    return verdict.model_copy(
        update={
            "decision": "block",
            "findings": (*verdict.findings, _released_text_changed(length))[:MAX_VERDICT_FINDINGS],
            "findings_total": verdict.findings_total + 1,
            "content_digest": None,
            "redacted_text": None,
        }
    )


def _original_point(view: TextView, position: int, length: int) -> int:
    """The offset of the original text where `view`'s character at `position` starts."""
    if position >= len(view.text):
        return length
    return view.original_span(position, position + 1)[0]


def _token_start(text: str, position: int) -> int:
    """`position`, moved back to the start of the whitespace-free run it would split."""
    if position <= 0 or position >= len(text):
        return max(0, min(position, len(text)))
    if text[position] in _WHITESPACE or text[position - 1] in _WHITESPACE:
        return position
    return max(text.rfind(char, 0, position) for char in _WHITESPACE) + 1


def _outside(boundary: int, spans: Iterable[Span]) -> int:
    """`boundary` moved back until it lies inside none of `spans` (at a start or end is outside)."""
    ordered = sorted(spans, key=lambda span: span[1], reverse=True)
    moved = True
    while moved:
        moved = False
        for start, end in ordered:
            if start < boundary < end:
                boundary, moved = start, True
    return boundary


def _constructs_everywhere(text: str, view: NormalisedText) -> tuple[list[Span], list[int]]:
    """Constructs of `text` as written and as decoded (the normalised view, mapped back), and the
    private-key headers (read with look-alike letters as Latin) still waiting for their END line."""
    spans, opens = _constructs(text)
    if view.text != text:
        decoded_spans, decoded_opens = _constructs(view.text)
        spans += [view.original_span(start, end) for start, end in decoded_spans]
        opens += [_original_point(view, start, len(text)) for start in decoded_opens]
    latin = view.latin()
    for match in _KEY_HEADER.finditer(latin.text):
        if latin.text.find(_KEY_FOOTER, match.end()) < 0:
            opens.append(_original_point(latin, match.start(), len(text)))
            break
    return spans, opens


def _constructs(text: str) -> tuple[list[Span], list[int]]:
    """Markdown and HTML constructs as a renderer would start reading them: the closed ones' spans,
    and where each one still open at the end of `text` starts. Deliberately coarse: it may see a
    construct where a renderer sees text (held a little longer), never the other way round."""
    spans: list[Span] = []
    opens: list[int] = []
    fence: tuple[str, int, int] | None = None  # marker character, length, start
    segment = 0
    line_start = 0
    while line_start < len(text):
        newline = text.find("\n", line_start)
        line_end = len(text) if newline < 0 else newline
        line = text[line_start:line_end]
        if fence is not None:
            marker, length, start = fence
            stripped = line.lstrip(" ")
            if (
                len(line) - len(stripped) <= 3
                and stripped.rstrip() == marker * max(length, len(stripped.rstrip()))
                and len(stripped.rstrip()) >= length
            ):
                spans.append((start, line_end))
                fence = None
                segment = line_end
        else:
            opened = _FENCE.match(line)
            if opened is not None:
                if not _inline(text, segment, line_start, spans, opens):
                    return spans, opens
                run = opened.group(1)
                fence = (run[0], len(run), line_start)
        if newline < 0:
            break
        line_start = newline + 1
    if fence is not None:
        opens.append(fence[2])
        return spans, opens
    _inline(text, segment, len(text), spans, opens)
    return spans, opens


def _inline(text: str, start: int, end: int, spans: list[Span], opens: list[int]) -> bool:  # noqa: PLR0915 - one scanner, one pass
    """Brackets and tags in `text[start:end]` (outside code fences); False once one is open at the
    end of the text, after which nothing is released anyway."""
    at_end = end == len(text)
    brackets: list[int] = []
    index = start
    while index < end:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n" and _BLANK_LINE.match(text, index) is not None:
            # A paragraph ends: its unmatched brackets can no longer open a link.
            spans.extend((opened, index) for opened in brackets)
            brackets.clear()
        elif char == "[":
            brackets.append(index - 1 if index > start and text[index - 1] == "!" else index)
        elif char == "]" and brackets:
            opened = brackets.pop()
            after = index + 1
            if after >= end:
                if at_end:
                    opens.append(opened)
                    return False
                spans.append((opened, after))
            elif text[after] == "(":
                close = _closing_paren(text, after, end)
                if close is None:
                    if at_end:
                        opens.append(opened)
                        return False
                    spans.append((opened, end))
                    index = end
                    continue
                spans.append((opened, close))
                index = close
                continue
            elif text[after] == "[":
                brackets.append(opened)  # a full reference: one construct to its second `]`
                index = after + 1
                continue
            elif text[after] == ":":
                blank = _BLANK_LINE.search(text, after, end)
                if blank is None and at_end:
                    opens.append(opened)
                    return False
                stop = blank.start() if blank is not None else end
                spans.append((opened, stop))
                index = stop
                continue
            else:
                spans.append((opened, after))
        elif char == "<" and index + 1 < end and (text[index + 1].isalpha() or text[index + 1] in "/!?"):
            close = _tag_end(text, index)
            if close is None:
                opens.append(index)
                return False
            spans.append((index, close))
            index = close
            continue
        index += 1
    if brackets:
        if at_end:
            opens.append(brackets[0])
            return False
        spans.extend((opened, end) for opened in brackets)
    return True


def _closing_paren(text: str, start: int, end: int) -> int | None:
    """The offset after the `)` closing the `(` at `start`, within the paragraph; None if open."""
    depth = 0
    index = start
    while index < end:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        elif char == "\n" and _BLANK_LINE.match(text, index) is not None:
            return index
        index += 1
    return None


def _tag_end(text: str, start: int) -> int | None:
    """The offset after the HTML construct starting at `start` (a comment, a CDATA section, a tag,
    a raw-text element to its end tag); None if it is still open at the end of the text."""
    for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>")):
        if text.startswith(opener, start):
            found = text.find(closer, start + len(opener))
            return None if found < 0 else found + len(closer)
    quote = ""
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == ">":
            break
        index += 1
    else:
        return None
    close = index + 1
    name = _TAG_NAME.match(text, start + 1)
    if name is None or name.group().lower() not in _RAW_TEXT_ELEMENTS:
        return close
    if name.group().lower() == "plaintext":
        return None
    ending = re.compile("</" + name.group(), re.IGNORECASE).search(text, close)
    if ending is None:
        return None
    final = text.find(">", ending.end())
    return None if final < 0 else final + 1
