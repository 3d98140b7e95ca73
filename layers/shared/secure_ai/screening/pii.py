"""PII detector: e-mail, phone, payment card, IBAN, US SSN, IPv4/IPv6.

One RE2 pass finds candidates; each candidate is then validated (Luhn and issuer ranges for
cards, mod-97 and country length for IBANs, SSA rules for SSNs, `ipaddress` for IPs) and its
neighbourhood checked, so that order numbers, UUIDs, ISBNs, dates, version strings and
tracking numbers stay out. Validators look at the candidate and a few characters around it
only, so the work per candidate is bounded.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from secure_ai.screening.findings import Detection
from secure_ai.screening.matching import Pattern, RegexMatch, ScanTarget
from secure_ai.screening.normalise import NormalisedText

_EMAIL = r"[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
_PHONE = (
    # International: +CC or 00CC, then 2-6 groups (a group may be an area code in brackets).
    r"(?:\+|\b00)[1-9]\d{0,2}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}"
    # North American: (415) 555-0142, 415-555-0142, 1-800-555-0199.
    r"|\(\d{3}\) ?\d{3}[\-. ]\d{4}\b"
    r"|\b(?:1[\-. ])?\d{3}[\-. ]\d{3}[\-. ]\d{4}\b"
    # French national: 01 23 45 67 89.
    r"|\b0[1-9](?:[ .]\d{2}){4}\b"
)
# Order matters where two can start at one position: an international phone number is also a
# run of grouped digits, and the card alternative would take it (and then reject it).
_ALTERNATIVES: Final = ("email", "iban", "phone", "card", "ssn", "ipv4", "ipv6")
_PII = Pattern(
    f"(?P<email>{_EMAIL})"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b)"
    f"|(?P<phone>{_PHONE})"
    r"|(?P<card>\b\d(?:[ \-]?\d){12,18}\b)"
    r"|(?P<ssn>\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b)"
    r"|(?P<ipv4>\b(?:\d{1,3}\.){3}\d{1,3}\b)"
    r"|(?P<ipv6>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?)"
)
_GROUPS: Final = [(name, _PII.groups[name]) for name in _ALTERNATIVES]

_CONFIDENCE: Final = {
    "email": 0.95,
    "iban": 0.97,
    "card": 0.95,
    "ssn": 0.85,
    "ipv4": 0.8,
    "ipv6": 0.8,
    "phone": 0.75,
}

# File extensions that make `icon@2x.png` look like an address.
_NOT_TLDS: Final = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "mjs", "ts", "json", "yaml",
     "yml", "txt", "html", "htm", "pdf", "zip", "gz", "tgz", "tar", "lock", "toml", "ini", "cfg", "log",
     "csv", "xml", "map"}
)  # fmt: skip
# Words that make a dotted quad a version number, not an address.
_VERSION_WORDS: Final = ("version", "ver", "ver.", "v", "release", "build", "firmware", "rev", "revision")

# IBAN length per country (SWIFT IBAN registry).
_IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_MAESTRO_PREFIXES: Final = frozenset({"5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"})


def detect_pii(view: NormalisedText, target: ScanTarget | None = None) -> list[Detection]:
    """Validated PII in the normalised view, with spans in the original text."""
    text = view.text
    found: list[Detection] = []
    for match in _PII.finditer(target or ScanTarget(text)):
        kind, start, end = _classify(match)
        value = _validate(kind, text, start, end)
        if value is None:
            continue
        start, end = value
        original_start, original_end = view.original_span(start, end)
        found.append(
            Detection(
                type=kind,
                detector="pii",
                start=original_start,
                end=original_end,
                confidence=_CONFIDENCE[kind],
                value=text[start:end],
            )
        )
    return found


def canonical_value(detection: Detection) -> str:
    """One spelling per value, so `+1 415 555 0142` and `+14155550142` compare equal."""
    if detection.type == "email":
        return detection.value.casefold()
    if detection.type in {"ipv4", "ipv6"}:
        return str(ipaddress.ip_address(detection.value))
    return "".join(char for char in detection.value if char.isalnum()).upper()


def _classify(match: RegexMatch) -> tuple[str, int, int]:
    for name, index in _GROUPS:
        start, end = match.span(index)
        if start >= 0:
            return name, start, end
    raise LookupError("no PII alternative matched")  # pragma: no cover - the pattern is an alternation


def _validate(kind: str, text: str, start: int, end: int) -> tuple[int, int] | None:
    """The (possibly narrowed) span of a valid candidate, or None for a look-alike."""
    candidate = text[start:end]
    match kind:
        case "email":
            return (start, end) if _valid_email(text, start, end, candidate) else None
        case "iban":
            return _valid_iban(text, start, candidate)
        case "card":
            return (start, end) if _valid_card(text, start, end, candidate) else None
        case "ssn":
            return (start, end) if _valid_ssn(text, start, end, candidate) else None
        case "ipv4":
            return (start, end) if _valid_ipv4(text, start, end, candidate) else None
        case "ipv6":
            return (start, end) if _valid_ipv6(text, start, end, candidate) else None
        case _:
            return _valid_phone(text, start, end, candidate)


def _valid_email(text: str, start: int, end: int, candidate: str) -> bool:
    local, _, domain = candidate.partition("@")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    if domain.rsplit(".", 1)[-1].lower() in _NOT_TLDS:
        return False
    following = text[end : end + 1]
    if following in {":", "@"} or following.isalnum():
        return False  # git@github.com:org/repo, or the domain runs on: not an address
    return not _in_url_user_info(text, start)


def _in_url_user_info(text: str, start: int) -> bool:
    """`user@host` or `user:password@host` right after `scheme://` is URL user info."""
    head = text[max(0, start - 260) : start]
    scheme_end = head.rfind("://")
    if scheme_end < 0:
        return False
    between = head[scheme_end + 3 :]
    return not any(char.isspace() or char in "/@" for char in between)


def _valid_iban(text: str, start: int, candidate: str) -> tuple[int, int] | None:
    compact = candidate.replace(" ", "")
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) < expected:
        return None
    if len(compact) > expected:
        # A longer run may be an IBAN followed by another group: keep it if it ends at a gap.
        length, seen = 0, 0
        for index, char in enumerate(candidate):
            if char != " ":
                seen += 1
            if seen == expected:
                length = index + 1
                break
        if candidate[length : length + 1] != " ":
            return None
        candidate = candidate[:length]
        compact = compact[:expected]
    if " " in candidate and any(len(group) != 4 for group in candidate.split(" ")[:-1]):
        return None
    if not _mod97_ok(compact):
        return None
    return start, start + len(candidate)


def _mod97_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def _valid_card(text: str, start: int, end: int, candidate: str) -> bool:
    digits = "".join(char for char in candidate if char.isdigit())
    separators = {char for char in candidate if not char.isdigit()}
    if len(separators) > 1:
        return False
    if separators:
        groups = [len(group) for group in candidate.replace("-", " ").split(" ")]
        if groups not in ([4, 6, 5], [4, 6, 4]) and (
            any(length != 4 for length in groups[:-1]) or not 1 <= groups[-1] <= 4
        ):
            return False
        # "4111 1111 1111 1111 2222": a longer grouped number, not a card.
        if text[end : end + 1] in {" ", "-"} and text[end + 1 : end + 5].isdigit():
            return False
    if _continues_number(text, start, end):
        return False
    return _issuer_accepts(digits) and _luhn_ok(digits)


def _issuer_accepts(digits: str) -> bool:
    """Card numbers start with an issuer prefix that fixes their length; others are not cards."""
    length = len(digits)
    two, three, four, six = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":
        return length in {13, 16, 19}  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16  # Mastercard
    if two in {34, 37}:
        return length == 15  # American Express
    if four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925:
        return 16 <= length <= 19  # Discover
    if 3528 <= four <= 3589:
        return 16 <= length <= 19  # JCB
    if 300 <= three <= 305 or two in {36, 38, 39} or four == 3095:
        return 14 <= length <= 19  # Diners Club
    if two == 62 or 2200 <= four <= 2204:
        return 16 <= length <= 19  # UnionPay, Mir
    return digits[:4] in _MAESTRO_PREFIXES


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _valid_ssn(text: str, start: int, end: int, candidate: str) -> bool:
    area, group, serial = candidate[:3], candidate[4:6], candidate[7:]
    if area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000":
        return False
    return not _continues_number(text, start, end)


def _valid_ipv4(text: str, start: int, end: int, candidate: str) -> bool:
    try:
        address = ipaddress.IPv4Address(candidate)
    except ValueError:
        return False  # an octet above 255 or with a leading zero
    if address.is_loopback or address.is_unspecified or _is_netmask(int(address)):
        return False
    # Only another ".digit" makes it a longer dotted number (an OID); "/24" and "-10.0.0.9"
    # are CIDR and ranges, still addresses.
    if _continues_number(text, start, end, before=".", after="."):
        return False
    return not _preceded_by_word(text, start, _VERSION_WORDS)


def _is_netmask(value: int) -> bool:
    inverted = ~value & 0xFFFFFFFF
    return value >> 24 == 0xFF and inverted & (inverted + 1) == 0


def _valid_ipv6(text: str, start: int, end: int, candidate: str) -> bool:
    before = text[start - 1 : start] if start else ""
    after = text[end : end + 1]
    if before.isalnum() or before in {":", ".", "_"} or after.isalnum() or after in {":", "_"}:
        return False
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return False
    # `a::b` in code is a valid address; real ones carry more than a few hex digits.
    return sum(char in "0123456789abcdefABCDEF" for char in candidate) >= 5


def _valid_phone(text: str, start: int, end: int, candidate: str) -> tuple[int, int] | None:
    before = text[start - 1 : start] if start else ""
    if before.isalnum() or before in {"+", "_"}:
        return None
    if candidate.startswith(("+", "00")):
        trimmed = _trim_to_e164(candidate)
        if trimmed is None:
            return None
        end = start + len(trimmed)
    elif not (len(candidate) == 14 and candidate[0] == "0" and candidate[2] in " ."):
        # North American: area code and exchange start with 2-9.
        national = "".join(char for char in candidate if char.isdigit())[-10:]
        if national[0] in "01" or national[3] in "01":
            return None
    following = text[end : end + 1]
    if following.isalnum() or following == "_" or _continues_number(text, start, end):
        return None
    return start, end


def _trim_to_e164(candidate: str) -> str | None:
    """The international number in `candidate` (8-15 digits), dropping a swallowed tail group."""
    prefix = 2 if candidate.startswith("00") else 0
    count = sum(char.isdigit() for char in candidate) - prefix
    while count > 15 and " " in candidate:
        candidate = candidate.rsplit(" ", 1)[0]
        count = sum(char.isdigit() for char in candidate) - prefix
    return candidate if 8 <= count <= 15 else None


def _continues_number(text: str, start: int, end: int, *, before: str = ".-/:", after: str = ".-/:") -> bool:
    """True when the candidate is a piece of a longer dotted/dashed number (OIDs, ids)."""
    head = text[max(0, start - 2) : start]
    tail = text[end : end + 2]
    if len(head) == 2 and head[0].isdigit() and head[1] in before:
        return True
    return len(tail) == 2 and tail[0] in after and tail[1].isdigit()


def _preceded_by_word(text: str, start: int, words: tuple[str, ...]) -> bool:
    head = text[max(0, start - 20) : start].lower().rstrip(" :=#")
    for word in words:
        if head.endswith(word):
            before = head[: -len(word)][-1:]
            if not before.isalpha():
                return True
    return False
