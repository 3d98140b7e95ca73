"""Secrets detector: cloud keys, provider API tokens, private keys, JWTs, connection strings
with passwords and high-entropy values assigned to secret-sounding names.

Each format is its own RE2 pattern behind a prefilter of short hints (`AKIA`, `ghp_`,
`PRIVATE KEY`…), all searched in one RE2 set pass: a format none of whose hints occurs is not
searched at all, so a short answer costs one pass and a few set lookups. One alternation of
every format was measured and rejected: with twenty bounded counters alive at once over
base64-heavy text, RE2's DFA runs out of states and falls back to its NFA, ten times slower.

The formats key on literals, so they are searched in the view where look-alike letters read
as Latin (`NormalisedText.latin()`): `AKIA…` spelled with a Cyrillic A, or `-----BEGIN` with
a Cyrillic E, is what a reader takes for the real thing.

Hits are resolved like a leftmost-first alternation (earliest, then longest, wins).
Assignments (`password = …`) are a second tier: an assignment overlapping a token is that
token. Vendors' documented example keys (`AKIAIOSFODNN7EXAMPLE`) take part as tokens and are
then left out, so an assignment of one is not a generic secret either. Every run is bounded,
except trailing runs that end the match, so a search never reads far past the match it returns
(see `matching`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Final

from secure_ai_gateway.screening.entropy import looks_random, shannon_entropy
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import HintSet, Pattern, RegexMatch, ScanTarget, escape
from secure_ai_gateway.screening.normalise import NormalisedText

_BASE64_CHARS = r"A-Za-z0-9+/"
# Names a secret is assigned to end in one of these (`DB_PASSWORD`, `client_secret`, `apiKey`).
_ASSIGNED_NAME = (
    r"(?i:password|passwd|passphrase|pwd|secret|token|api_?key|apikey|access_?key|auth_?key"
    r"|private_?key|credentials?)"
)
_URLSAFE_CHARS = r"A-Za-z0-9_\-"


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    pattern: Pattern
    hints: tuple[str, ...]  # regexes; at least one matches in any text the pattern can match
    value_group: int | None = None  # the secret is this group, not the whole match


def _format(name: str, pattern: str, hints: tuple[str, ...], *, value: bool = False) -> _Format:
    compiled = Pattern(pattern)
    return _Format(name, compiled, hints, compiled.groups["value"] if value else None)


def _literals(*literals: str) -> tuple[str, ...]:
    return tuple(escape(literal) for literal in literals)


_TOKENS: Final = (
    _format(
        "private_key",
        # A whole block up to its END line, or a header with its base64 lines if truncated. The
        # body stops at "--" (another BEGIN/END line), so a body is read at most twice.
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:[A-Za-z0-9+/=\s:,.\\]|-[A-Za-z0-9])*?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:\s{0,4}[A-Za-z0-9+/=\\]{16,})*)",
        (r"PRIVATE KEY(?: BLOCK)?-----",),
    ),
    _format("aws_access_key", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", (r"A[KSBC][IC]A[A-Z2-7]{4}",)),
    _format(
        "aws_secret_key",
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"']?\s{0,4}(?::=|=>|[:=])\s{0,4}[\"']?"
        rf"(?P<value>[{_BASE64_CHARS}]{{40}})",
        (r"(?i)secret_?access_?key|secret_?key",),
        value=True,
    ),
    _format(
        "gcp_service_account_key",
        r"\"private_key_id\"\s{0,4}:\s{0,4}\"(?P<value>[0-9a-f]{40})\"",
        ('"private_key_id"',),
        value=True,
    ),
    _format(
        "azure_storage_key",
        rf"(?i:AccountKey)=(?P<value>[{_BASE64_CHARS}]{{86}}==)",
        (r"(?i)accountkey=",),
        value=True,
    ),
    _format(
        "azure_sas_signature",
        r"\bsv=\d{4}-\d{2}-\d{2}&[^\s\"'<>]{0,400}?\bsig=(?P<value>[A-Za-z0-9%+/=]{40,120})",
        _literals("sig="),
        value=True,
    ),
    _format("azure_client_secret", r"\b[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}", (r"\dQ~",)),
    _format(
        "openai_api_key",
        rf"sk-(?:proj|svcacct|admin)-[{_URLSAFE_CHARS}]{{20,250}}|\bsk-[A-Za-z0-9]{{32,100}}\b",
        _literals("sk-"),
    ),
    _format(
        "anthropic_api_key",
        rf"sk-ant-[a-z]{{2,8}}\d{{2}}-[{_URLSAFE_CHARS}]{{32,250}}",
        _literals("sk-ant-"),
    ),
    _format(
        "github_token",
        r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{40,250}",
        (r"gh[pousr]_", "github_pat_"),
    ),
    _format(
        "gitlab_token",
        rf"gl(?:pat|dt|rt|ptt|ft|imt|oas|cbt|soat|agent|cf|ffct)-[{_URLSAFE_CHARS}]{{20,64}}",
        (r"gl[a-z]{2,5}-",),
    ),
    _format(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,200}",
        _literals("hooks.slack.com/"),
    ),
    _format("slack_token", r"xox[abposre]-[A-Za-z0-9\-]{10,250}", (r"xox[abposre]-",)),
    _format(
        "stripe_secret_key",
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,247}\b",
        (r"[sr]k_(?:live|test)_",),
    ),
    _format("google_api_key", rf"\bAIza[{_URLSAFE_CHARS}]{{35}}", _literals("AIza")),
    _format("twilio_api_key", r"\bSK[0-9a-fA-F]{32}\b", (r"SK[0-9a-fA-F]{8}",)),
    _format(
        "sendgrid_api_key", rf"\bSG\.[{_URLSAFE_CHARS}]{{22}}\.[{_URLSAFE_CHARS}]{{43}}", _literals("SG.")
    ),
    _format("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", _literals("npm_")),
    # Header and the start of the payload; the rest of the token is taken in `_extend_jwt`.
    _format(
        "jwt", rf"\beyJ[{_URLSAFE_CHARS}]{{5,1000}}\.eyJ[{_URLSAFE_CHARS}]{{5}}", (r"eyJ[A-Za-z0-9_\-]{5}",)
    ),
    _format(
        "connection_string",
        r"(?i:\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver"
        r"|https?|ftps?|ldaps?|smtps?))://[^\s:/@\"'<>]{0,128}:(?P<password>[^\s@/\"'<>]{1,256})@"
        r"[A-Za-z0-9.\-\[\]:_%]{1,253}(?:[/?#][^\s\"'<>`]*)?",
        (r"://[^\s/@]{0,128}:",),
    ),
)
_ASSIGNMENTS: Final = (
    _format(
        "bearer_token",
        r"(?i:\bbearer)\s{1,4}(?P<value>[A-Za-z0-9\-._~+/]{20,1000}=*)",
        (r"(?i)bearer\s",),
        value=True,
    ),
    _format(
        "generic_secret",
        # The name must END in the keyword (`DB_PASSWORD=`, not `password_reset_url=`); what comes
        # before the keyword does not matter, so it is not matched.
        _ASSIGNED_NAME + r"[\"']?\s{0,4}(?::=|=>|[:=])\s{0,4}[\"']?"
        r"(?P<value>[^\s\"'`,;<>(){}\[\]]{8,200})",
        (_ASSIGNED_NAME + r"[\"']?\s{0,4}[:=]",),
        value=True,
    ),
)

# JWT continuation after the regex prefix: payload rest, optional signature. A single
# unambiguous character-class pattern, linear in the token length with any engine.
_JWT_TAIL = re.compile(r"[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)?")
_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# Formats whose pattern ends in a bounded run: a longer run means a different, longer string.
_MUST_END_CLEANLY: Final = frozenset(
    {"azure_client_secret", "openai_api_key", "anthropic_api_key", "github_token", "gitlab_token",
     "slack_token", "google_api_key", "sendgrid_api_key", "aws_secret_key", "azure_sas_signature"}
)  # fmt: skip
# Random-body tokens behind a fixed prefix; the JWT, key block and URL kinds are checked apart.
_PREFIXED_TOKENS: Final = frozenset(
    {token.name for token in _TOKENS} - {"private_key", "jwt", "connection_string", "slack_webhook"}
)
_MASK_CHARS: Final = frozenset("*x.X•#-_")
_PLACEHOLDER_WORDS: Final = frozenset(
    {"password", "passwd", "pass", "pwd", "secret", "changeme", "changeit", "example", "placeholder",
     "redacted", "username", "user", "token", "none", "null", "undefined", "true", "false", "your_password",
     "yourpassword", "mypassword", "password123", "secret123"}
)  # fmt: skip
# Confidence per kind of finding: bandit takes a key naming a token or secret for a password.
_CONFIDENCE: Final = {
    "jwt": 0.95,
    "connection_string": 0.95,
    "bearer_token": 0.8,  # nosec B105 - a score, keyed by a kind of finding
    "generic_secret": 0.7,  # nosec B105 - a score, keyed by a kind of finding
}

_Hit = tuple[str, int, int]
# The kind of a documented example key: resolved with the tokens, then left out.
_DOCUMENTED_EXAMPLE: Final = "documented_example"


def _prefilter(formats: tuple[_Format, ...]) -> tuple[HintSet, tuple[tuple[int, ...], ...]]:
    """One hint set for all formats, and for each hint the indices of the formats it admits."""
    hints: list[str] = []
    admits: list[tuple[int, ...]] = []
    for index, secret_format in enumerate(formats):
        hints.extend(secret_format.hints)
        admits.extend((index,) for _ in secret_format.hints)
    return HintSet(hints), tuple(admits)


_FORMATS: Final = _TOKENS + _ASSIGNMENTS
_HINTS, _ADMITS = _prefilter(_FORMATS)


def detect_secrets(view: NormalisedText, target: ScanTarget | None = None) -> list[Detection]:
    """Secrets in the normalised view, look-alike letters read as Latin; spans in the original.

    `target`, if given, is `view.text` prepared for RE2; it is used when no look-alike changes it.
    """
    latin = view.latin()
    text = latin.text
    if target is None or latin is not view:
        target = ScanTarget(text)
    present = _HINTS.present(target)
    # Only formats with a hint in the text run, in table order (tokens, then assignments).
    runnable = sorted({admitted for hint in present for admitted in _ADMITS[hint]})
    candidates: list[_Hit] = []
    for index in runnable:
        if index < len(_TOKENS):
            for match in _FORMATS[index].pattern.finditer(target):
                hit = _accept_token(_FORMATS[index], text, match)
                if hit is not None:
                    candidates.append(hit)
    tokens = _leftmost_longest(candidates)
    token_starts = [start for _, start, _ in tokens]
    assignments: list[_Hit] = []
    for index in runnable:
        if index >= len(_TOKENS):
            for match in _FORMATS[index].pattern.finditer(target):
                start, end = _span(_FORMATS[index], match)
                # A value already reported as a token ("api_key: AIza…") is that token; this
                # check comes first because it is cheaper than judging the value.
                covering = bisect_right(token_starts, end - 1) - 1
                if covering >= 0 and tokens[covering][2] > start:
                    continue
                hit = _accept_assignment(_FORMATS[index].name, text, start, end)
                if hit is not None:
                    assignments.append(hit)
    found = [hit for hit in tokens if hit[0] != _DOCUMENTED_EXAMPLE] + _leftmost_longest(assignments)
    found.sort(key=lambda hit: hit[1])
    return [_detection(latin, text, hit) for hit in found]


def _detection(view: NormalisedText, text: str, hit: _Hit) -> Detection:
    kind, start, end = hit
    original_start, original_end = view.original_span(start, end)
    return Detection(
        type=kind,
        detector="secrets",
        start=original_start,
        end=original_end,
        confidence=_CONFIDENCE.get(kind, 0.99),
        value=text[start:end],
    )


def _leftmost_longest(hits: list[_Hit]) -> list[_Hit]:
    """Non-overlapping hits as one alternation would pick them: earliest start, then longest."""
    if len(hits) < 2:
        return hits
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda hit: (hit[1], hit[1] - hit[2])):
        if not kept or hit[1] >= kept[-1][2]:
            kept.append(hit)
    return kept


def _span(secret_format: _Format, match: RegexMatch) -> tuple[int, int]:
    if secret_format.value_group is not None:
        return match.span(secret_format.value_group)
    return match.span()


def _accept_token(secret_format: _Format, text: str, match: RegexMatch) -> _Hit | None:
    """(type, start, end) of a valid token in `match`, or None for a look-alike."""
    kind = secret_format.name
    start, end = _span(secret_format, match)
    if kind in _MUST_END_CLEANLY and text[end : end + 1] in _TOKEN_CHARS:
        return None
    if kind in _PREFIXED_TOKENS and len(set(text[start:end])) < 10:
        return None  # ghp_xxxx…, AKIAXXXX…: a placeholder in the right shape
    if _is_documented_example(kind, text[start:end]):
        return _DOCUMENTED_EXAMPLE, start, end
    match kind:
        case "private_key":
            end = start + len(text[start:end].rstrip())
            if _base64_length(text[start:end]) < 64:
                return None  # a header mentioned in prose, not a key
        case "jwt":
            end = _extend_jwt(text, end)
            if not _jwt_header_ok(text[start:end]):
                return None
        case "slack_token":
            if sum(char.isdigit() for char in text[start:end]) < 6:
                return None  # real tokens carry numeric team/user ids: xoxb-not-a-real-token
        case "connection_string":
            password_start, password_end = match.span(secret_format.pattern.groups["password"])
            if _is_placeholder(text[password_start:password_end]):
                return None
            end = start + len(text[start:end].rstrip(".,;:!?)]}*"))
        case _:
            pass
    return kind, start, end


def _is_documented_example(kind: str, value: str) -> bool:
    """AWS's documentation example credentials, and keys in their style.

    AWS writes its examples with a suffix in place of the last random characters
    (`AKIAIOSFODNN7EXAMPLE`, `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`). The rule cannot pass a
    real key: both formats have a fixed length (20 and 40), so the suffix replaces 7 or 10 of
    the key's own random characters instead of following them, and a real key ends so by
    chance once in 32**7 (ids) or 64**10 (secrets). A whole key with the word after it is a
    longer value, which this rule never sees, and the word elsewhere in a key changes nothing.
    """
    match kind:
        case "aws_access_key":
            return value.endswith("EXAMPLE")
        case "aws_secret_key":
            return value.endswith("EXAMPLEKEY")
        case _:
            return False


def _accept_assignment(kind: str, text: str, start: int, end: int) -> _Hit | None:
    """A value assigned to a secret-sounding name that is neither a placeholder nor code."""
    value = text[start:end].rstrip(".")
    if _is_placeholder(value) or _is_reference(value) or not looks_random(value):
        return None
    return kind, start, start + len(value)


def _base64_length(block: str) -> int:
    """Characters in the body of a key block, whitespace aside."""
    body = block.split("-----", 2)[-1].split("-----END", 1)[0]
    return len("".join(body.split()))


def _extend_jwt(text: str, end: int) -> int:
    tail = _JWT_TAIL.match(text, end)
    return tail.end() if tail else end


def _jwt_header_ok(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


def _is_placeholder(value: str) -> bool:
    """Template variables, masks and dictionary words stand in for a secret; they are not one."""
    if value[:1] in {"$", "{", "<", "%", "[", "("} or "{{" in value or "${" in value:
        return True
    if set(value) <= _MASK_CHARS:
        return True
    return value.casefold() in _PLACEHOLDER_WORDS


def _is_reference(value: str) -> bool:
    """Code that reads a secret (`os.environ.X`, `settings.DB_PASSWORD`), a URL or a path."""
    if "://" in value or value.startswith(("/", "./", "../", "~/")):
        return True
    parts = value.split(".")
    return len(parts) > 1 and all(part.isidentifier() for part in parts) and shannon_entropy(value) < 4.0
