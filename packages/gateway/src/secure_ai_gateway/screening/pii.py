"""PII detector: e-mail, phone, payment card, IBAN, US SSN, IP addresses.

One RE2 pass finds candidates for every kind but phone numbers; each candidate is then validated
(Luhn and issuer ranges for cards, mod-97 and country length for IBANs, SSA rules for SSNs,
`ipaddress` for IPs) and its neighbourhood checked, so that order numbers, UUIDs, ISBNs, dates,
version strings and tracking numbers stay out. Validators look at the candidate and a few
characters around it only, so the work per candidate is bounded.

Phone numbers are judged by Google's libphonenumber (`phonenumbers`), but only on bounded windows
that a second RE2 pass finds: its own matcher scans the whole text once per region with
backtracking patterns, and gives up after 65,535 failed candidates, which padding would exploit.
Bare digits count only with a label (`SSN 123456789`, `Call 4155550142`): alone they are as often
an order number.

Addresses outside the public internet (private, loopback, link-local, CGNAT, documentation,
unique-local, multicast, reserved) are `ip_internal`: they locate no one, so they are reported
apart from the personal `ipv4`/`ipv6`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING, Final, NamedTuple

from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import HintSet, Pattern, RegexMatch, ScanTarget
from secure_ai_gateway.screening.normalise import NormalisedText

if TYPE_CHECKING:
    from phonenumbers import PhoneMetadata, PhoneNumber

# Regions whose national phone formats are recognised by default (ISO 3166 alpha-2, as libphonenumber
# names them); a policy may set its own (`Policy.phone_regions`).
DEFAULT_PHONE_REGIONS: Final = ("US", "GB", "CA", "AU", "DE", "FR", "IN", "JP")

# Gaps a reader takes for one between digit groups. NFKC already turns no-break, figure, thin
# and narrow spaces into a space; they are listed so the rule does not lean on the normaliser.
_SPACE = r"[ \x{a0}\x{2007}\x{2009}\x{202f}]"
# A line break, with up to two spaces before it (a markdown hard break). Markdown renders a
# single break inside a paragraph as a space, so the reader sees one number.
_LINE_BREAK = r"[ ]{0,2}(?:\r\n|[\n\r\x{2028}\x{2029}])"
_DASH = r"[\-\x{2010}-\x{2015}\x{2212}\x{fe58}\x{fe63}\x{ff0d}]"
_DASHES: Final = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# One separator kind per number: a card written "5100-5199 5200-5299" is two ranges, and
# "4111.1111 1111.1111" two decimals. Spaces and line breaks are one kind, as a wrap replaces a space.
_SEPARATOR_KINDS: Final = (f"(?:{_SPACE}|{_LINE_BREAK})", _DASH, r"\.")


def _card_forms(sep: str) -> str:
    # 4-4-4-x and 4-4-4-4-x (Visa 13, most cards 16, 19-digit cards), 4-6-5 and 4-6-4 (Amex, Diners).
    return rf"\d{{4}}(?:{sep}\d{{4}}){{2,3}}{sep}\d{{1,4}}|\d{{4}}{sep}\d{{6}}{sep}\d{{4,5}}"


# The local part takes an apostrophe (o'brien@…); a quote opening it is trimmed in validation.
_EMAIL = r"[A-Za-z0-9._%+\-']{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
_CARD = "|".join([r"\d{13,19}", *(_card_forms(sep) for sep in _SEPARATOR_KINDS)])
_SSN = "|".join([r"\d{9}", *(rf"\d{{3}}{sep}\d{{2}}{sep}\d{{4}}" for sep in _SEPARATOR_KINDS)])
_ALTERNATIVES: Final = ("email", "iban", "card", "ssn", "ipv4", "ipv6")
_PII = Pattern(
    f"(?P<email>{_EMAIL})"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b)"
    rf"|(?P<card>\b(?:{_CARD})\b)"
    rf"|(?P<ssn>\b(?:{_SSN})\b)"
    r"|(?P<ipv4>\b(?:\d{1,3}\.){3}\d{1,3}\b)"
    # An embedded IPv4 tail first: `::ffff:10.0.0.1` is one address, not `::ffff:10`.
    r"|(?P<ipv6>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?)"
)
_GROUPS: Final = [(name, _PII.groups[name]) for name in _ALTERNATIVES]

# Two to eight digit groups (or seven digits or more), each gap one separator or a bracket with
# one beside it: `+44 (0)20 7946 0958`, `(02) 9374 4000`, `03-1234-5678`, `030/12345678`. Not
# inside a word or a longer digit run (\b), no line breaks (a column of numbers is not one
# number), and bounded, so a search reads a bounded distance past a match.
_PHONE_SEPARATOR = r"[ \-./\x{a0}\x{2007}\x{2009}\x{202f}\x{2010}-\x{2015}\x{2212}]"
_PHONE_GAP = rf"(?:{_PHONE_SEPARATOR}|\){_PHONE_SEPARATOR}?|{_PHONE_SEPARATOR}?\()"
_PHONE = Pattern(
    rf"(?:\+\(?|\(|\b)(?:\d{{7,17}}"
    # At least two groups, one of them two digits or longer: `1 1 1 1` is no number.
    rf"|(?:\d{{1,17}}{_PHONE_GAP}){{1,7}}\d{{2,17}}(?:{_PHONE_GAP}\d{{1,17}}){{0,6}}"
    rf"|\d{{2,17}}(?:{_PHONE_GAP}\d{{1,17}}){{1,7}})"
)
_SPACES: Final = " \xa0\u2007\u2009\u202f"
_DIGIT_RUN = re.compile("[0-9]+")
_WORD = re.compile(r"[^\W_]+")

_CONFIDENCE: Final = {
    "email": 0.95,
    "iban": 0.97,
    "card": 0.95,
    "ssn": 0.85,
    "ipv4": 0.8,
    "ipv6": 0.8,
    "ip_internal": 0.8,
    "phone": 0.75,
}

# File extensions that make `icon@2x.png` look like an address.
_NOT_TLDS: Final = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "mjs", "ts", "json", "yaml",
     "yml", "txt", "html", "htm", "pdf", "zip", "gz", "tgz", "tar", "lock", "toml", "ini", "cfg", "log",
     "csv", "xml", "map"}
)  # fmt: skip
# Words after which a dotted number is a version, not an address or a phone number.
_VERSION_WORDS: Final = frozenset(
    {"version", "ver", "v", "release", "build", "firmware", "rev", "revision", "node", "nodejs", "python",
     "kernel", "chrome", "firefox", "safari", "windows", "ios", "android", "patch", "sdk"}
)  # fmt: skip
_PINS: Final = frozenset({"==", ">=", "<=", "~=", "!="})
# Words after which a digit run is an identifier, not a phone number.
_ID_WORDS: Final = frozenset(
    {"order", "invoice", "ticket", "ref", "reference", "tracking", "account", "acct", "sku", "serial",
     "part", "po", "isbn", "issn", "case", "claim", "batch", "lot", "id", "uuid", "ean", "upc", "gtin"}
)  # fmt: skip
# Words that may stand between an id word and its digits (`Order no. 123`).
_NUMBER_WORDS: Final = frozenset({"no", "nr", "num", "number"})
# Words that make bare digits a phone number, and words that may stand between (`Call me on …`).
_PHONE_WORDS: Final = frozenset(
    {"phone", "telephone", "tel", "call", "mobile", "cell", "fax", "ph", "mob", "whatsapp", "sms", "dial"}
)
_FILLER_WORDS: Final = _NUMBER_WORDS | {"on", "at", "me", "us", "is"}
# A bare, dotted or broken SSN needs one of these just before it; `ssn` also covers `SSN#`.
_SSN_LABELS: Final = ("ssn", "s.s.n", "social security", "soc. sec", "soc sec")
_SSN_LABEL_REACH: Final = 32
# Characters that join the pieces of a longer dotted, dashed or slashed number (OIDs, ids).
_JOINERS: Final = ".-/:" + _DASHES

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

# Phone numbers: 7 to 17 digits (15 for E.164, plus an international call prefix such as 0011).
_PHONE_MIN_DIGITS: Final = 7
_PHONE_MAX_DIGITS: Final = 17
_PHONE_MAX_GROUPS: Final = 7
# An ungrouped run of digits is a number only with a trunk prefix and this many digits, or a label.
_PHONE_COMPACT_DIGITS: Final = 10
# Windows per text that libphonenumber judges (see `_PhoneScan`): about 50 ms of its time.
_PHONE_CHECKS: Final = 1024


def detect_pii(
    view: NormalisedText,
    target: ScanTarget | None = None,
    *,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> list[Detection]:
    """Validated PII in the normalised view, with spans in the original text, in text order.

    `phone_regions` (ISO 3166 codes, tried in order) are the countries whose national spellings
    (`020 7946 0958`) count as phone numbers; international ones (`+44 …`) count everywhere.
    """
    text = view.text
    target = target or ScanTarget(text)
    spans: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for match in _PII.finditer(target):
        kind, start, end = _classify(match)
        valid = _validate(kind, text, start, end)
        if valid is not None:
            spans.append(valid)
            taken.append(valid[:2])
        elif kind == "iban" or (kind == "card" and not text[start:end].isdigit()):
            # Shaped like an IBAN or a grouped card but failing its check: a reference, not a phone.
            taken.append((start, end))
    taken.sort()
    phones: _PhoneScan | None = None
    for match in _PHONE.finditer(target):
        start, end = match.span()
        if _covered(taken, start, end):
            continue  # a card or an SSN
        phones = phones or _PhoneScan(text, tuple(phone_regions), taken)
        spans.extend(
            (phone_start, phone_end, "phone") for phone_start, phone_end in phones.numbers_in(start, end)
        )
    spans.sort()
    found: list[Detection] = []
    for start, end, kind in spans:
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
    if detection.type in {"ipv4", "ipv6", "ip_internal"}:
        return str(ipaddress.ip_address(detection.value))
    return "".join(char for char in detection.value if char.isalnum()).upper()


def _classify(match: RegexMatch) -> tuple[str, int, int]:
    for name, index in _GROUPS:
        start, end = match.span(index)
        if start >= 0:
            return name, start, end
    raise LookupError("no PII alternative matched")  # pragma: no cover - the pattern is an alternation


def _validate(kind: str, text: str, start: int, end: int) -> tuple[int, int, str] | None:
    """The (possibly narrowed) span and final type of a valid candidate, or None for a look-alike."""
    candidate = text[start:end]
    match kind:
        case "email":
            start += len(candidate) - len(candidate.lstrip("'"))  # 'alice@example.com' in quotes
            return (start, end, kind) if _valid_email(text, start, end, text[start:end]) else None
        case "iban":
            span = _valid_iban(start, candidate)
            return None if span is None else (*span, kind)
        case "card":
            return (start, end, kind) if _valid_card(text, start, end, candidate) else None
        case "ssn":
            return (start, end, kind) if _valid_ssn(text, start, end, candidate) else None
        case "ipv4":
            address = _ipv4(text, start, end, candidate)
            return None if address is None else (start, end, _address_type(address))
        case _:
            address6 = _ipv6(text, start, end, candidate)
            return None if address6 is None else (start, end, _address_type(address6))


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


def _valid_iban(start: int, candidate: str) -> tuple[int, int] | None:
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
    if text[start - 1 : start] == "+":
        return False  # +4477009001234: an international phone number
    digits = "".join(char for char in candidate if char.isdigit())
    if len(digits) != len(candidate):
        # "4111 1111 1111 1111 2222": a longer grouped number, not a card.
        separator = candidate[4]
        if text[end : end + 1] == separator and text[end + 1 : end + 2].isdigit():
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
    digits = candidate if candidate.isdigit() else "".join(char for char in candidate if char.isdigit())
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000":
        return False
    if _continues_number(text, start, end) or _in_spaced_number(text, start, end, candidate):
        return False
    if candidate.isdigit():
        return _labelled_ssn(text, start)  # nine bare digits are an order number as often
    return candidate[3] != "." or not _in_version_context(text, start)  # build 123.45.6789


def _in_spaced_number(text: str, start: int, end: int, candidate: str) -> bool:
    """`+591 800 17 1234`: a spaced SSN shape inside a longer spaced number (a phone number)."""
    if text[start - 1 : start] == "+":
        return True
    separator = candidate[3]
    if separator not in _SPACES:
        return False
    head, tail = text[max(0, start - 2) : start], text[end : end + 2]
    return (len(head) == 2 and head[1] == separator and head[0] in "0123456789+") or (
        len(tail) == 2 and tail[0] == separator and tail[1].isdigit()
    )


def _labelled_ssn(text: str, start: int) -> bool:
    head = text[max(0, start - _SSN_LABEL_REACH) : start].casefold()
    for label in _SSN_LABELS:
        at = head.rfind(label)
        if at < 0 or (at and head[at - 1].isalpha()):
            continue
        between = head[at + len(label) :]
        if not any(char.isdigit() for char in between) and not between[:1].isalpha():
            return True
    return False


def _ipv4(text: str, start: int, end: int, candidate: str) -> ipaddress.IPv4Address | None:
    try:
        address = ipaddress.IPv4Address(candidate)
    except ValueError:
        return None  # an octet above 255 or with a leading zero
    if _is_netmask(int(address)):
        return None
    # Only another ".digit" makes it a longer dotted number (an OID); "/24" and "-10.0.0.9"
    # are CIDR and ranges, still addresses.
    if _continues_number(text, start, end, before=".", after="."):
        return None
    return None if _in_version_context(text, start) else address


def _is_netmask(value: int) -> bool:
    inverted = ~value & 0xFFFFFFFF
    return value >> 24 == 0xFF and inverted & (inverted + 1) == 0


def _ipv6(text: str, start: int, end: int, candidate: str) -> ipaddress.IPv6Address | None:
    before = text[start - 1 : start] if start else ""
    after = text[end : end + 1]
    if before.isalnum() or before in {":", ".", "_"} or after.isalnum() or after in {":", "_"}:
        return None
    if after == "." and text[end + 1 : end + 2].isdigit():
        return None  # ::ffff:10.0.0.1 cut short
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    # `a::b` in code is a valid address; real ones carry more than a few hex digits (`::1` aside).
    if candidate != "::1" and sum(char in "0123456789abcdefABCDEF" for char in candidate) < 5:
        return None
    return address


def _address_type(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """`ipv4`/`ipv6` for an address on the public internet, `ip_internal` for any other."""
    checked: ipaddress.IPv4Address | ipaddress.IPv6Address = address
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            checked = address.ipv4_mapped  # ::ffff:10.0.0.1 is the private 10.0.0.1
        elif address.is_site_local:
            return "ip_internal"
    if not checked.is_global or checked.is_multicast:
        return "ip_internal"
    return "ipv4" if address.version == 4 else "ipv6"


def _in_version_context(text: str, start: int, words: tuple[str, ...] | None = None) -> bool:
    """After `version`, `build`, `node`…, a pin (`==`, `>=`, `~=`) or glued to `Product/` (user
    agents): a version number."""
    if text[start - 2 : start] in _PINS:
        return True
    if start >= 2 and text[start - 1] == "/" and text[start - 2].isalnum():
        return True
    return _nearest(_words_before(text, start) if words is None else words) in _VERSION_WORDS


def _words_before(text: str, start: int) -> tuple[str, ...]:
    """Up to three words right before `start` (only spaces and `:=#(.-"'` between), case-folded,
    the nearest last; none when a digit or anything else stands in between."""
    head = text[max(0, start - 32) : start].casefold()
    words: list[str] = []
    while len(words) < 3:
        head = head.rstrip(" \t:=#(.-\"'")
        if not head[-1:].isalpha():
            break  # most windows: a digit, a bracket or the start of the text before them
        word: str = _WORD.findall(head)[-1]
        words.insert(0, word)
        head = head[: -len(word)]
    return tuple(words)


def _nearest(words: tuple[str, ...], skip: frozenset[str] = frozenset()) -> str:
    """The nearest of `words` not in `skip`: for `Order no. 123`, skipping `no` gives `order`."""
    for word in reversed(words):
        if word not in skip:
            return word
    return ""


class _PhoneScan:
    """The phone numbers of one text, judged by libphonenumber within a budget.

    libphonenumber takes 20 to 60 µs per window. Up to `_PHONE_CHECKS` windows per text it has
    the last word; past that (a text made of digit groups), a window that matches its number
    patterns (the RE2 prefilter) and the evidence rules counts as a number unchecked: more
    findings, never fewer, and the work stays linear.
    """

    __slots__ = ("_checks_left", "_dialling", "_taken", "_text")

    def __init__(self, text: str, regions: tuple[str, ...], taken: list[tuple[int, int]]) -> None:
        """`taken`: sorted spans of other findings (and card-shaped references) a number may not overlap."""
        self._text = text
        self._dialling = _dialling(regions)
        self._taken = taken
        self._checks_left = _PHONE_CHECKS

    def numbers_in(self, start: int, end: int) -> list[tuple[int, int]]:
        """The numbers in one run of digit groups, left to right, each the longest valid one.

        A number starts where the run starts, right after a number, or where something marks a
        start: an opening bracket, or a trunk prefix 0 after a space. Trying every group would
        multiply the work on a page of digit groups: a number after a digit group without
        either mark (`Ref 12 415 555 0142`) is given up.
        """
        text = self._text
        groups = [match.span() for match in _DIGIT_RUN.finditer(text, start, end)]
        found: list[tuple[int, int]] = []
        first, after_number = 0, True
        while first < len(groups):
            group_start = groups[first][0]
            marked = text[group_start - 1] == "(" or (
                text[group_start] == "0" and text[group_start - 1] in _SPACES
            )
            last = self._longest(start, groups, first) if after_number or marked else None
            if last is None:
                first, after_number = first + 1, False
            else:
                found.append(_window(text, start, groups, first, last))
                first, after_number = last + 1, True
        return found

    def _longest(self, run_start: int, groups: list[tuple[int, int]], first: int) -> int | None:
        """The last group of the longest number that starts at group `first`, if any."""
        text = self._text
        if first and text[groups[first][0] - 1] not in _SPACES + "(":
            return None  # inside a dashed, dotted or slashed number
        digits, singles = "", 0
        ends: list[tuple[int, str]] = []
        for last in range(first, min(len(groups), first + _PHONE_MAX_GROUPS)):
            group_start, group_end = groups[last]
            digits += text[group_start:group_end]
            # One group of a single digit (1-800, +33 1 …); more are ISBNs, scores, lists.
            singles += group_end - group_start == 1 and text[group_start - 1] not in "+("
            if len(digits) > _PHONE_MAX_DIGITS or singles > 1:
                break
            if len(digits) >= _PHONE_MIN_DIGITS:
                ends.append((last, digits))
        for last, window_digits in reversed(ends):
            start, end = _window(text, run_start, groups, first, last)
            window = text[start:end]
            if not _phone_shaped(window, last - first + 1) or _overlaps(self._taken, start, end):
                continue
            international = window[0] == "+"
            if not international and first == last and not _compact_number(text, start, window):
                continue
            readings = () if international else self._dialling.readings(window_digits)
            if (
                (international or readings)
                and _phone_neighbours_ok(text, start, end)
                and self._is_number(start, end, readings)
            ):
                return last
        return None

    def _is_number(self, start: int, end: int, readings: tuple[_Reading, ...]) -> bool:
        text = self._text
        window = text[start:end]
        if window.startswith("+"):
            return not self._spend() or _valid_international(window)
        labelled = _nearest(_words_before(text, start), _FILLER_WORDS) in _PHONE_WORDS
        # Without its trunk prefix, a national number needs a label or groups: random ten-digit
        # runs are valid US numbers, and 12 34 56 78 90 is not how India writes one.
        evident = labelled or _grouped_in_threes(window)
        regions: list[str] = []
        for region, form in readings:
            if (form != "bare" or evident) and region not in regions:
                regions.append(region)
        if not regions:
            return False
        return not self._spend() or any(_valid_in(window, region, labelled=labelled) for region in regions)

    def _spend(self) -> bool:
        """Whether libphonenumber may still be asked in this text."""
        self._checks_left -= 1
        return self._checks_left >= 0


class _Reading(NamedTuple):
    """One way a window's digits may be a number of a region (see `_shapes`)."""

    region: str
    form: str  # "trunk" (0 + number), "bare" (the number alone), "country" (44 …) or "exit" (00 …)


class _Dialling:
    """The phone regions of a policy, and an RE2 set of the numbers each can dial.

    One set match over a window's digits says which regions' number patterns (libphonenumber's
    own metadata) could match, and how, before libphonenumber itself is asked.
    """

    __slots__ = ("_readings", "_shapes")

    def __init__(self, regions: tuple[str, ...]) -> None:
        # libphonenumber costs ~50 ms to import: only a text with a phone-shaped run pays it.
        import phonenumbers  # noqa: PLC0415

        readings: list[_Reading] = []
        hints: list[str] = []
        for region in regions:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                raise ValueError("unknown phone region")
            for form, shape in _shapes(metadata):
                readings.append(_Reading(region, form))
                hints.append(shape)
        self._readings = tuple(readings)
        self._shapes = HintSet(hints)

    def readings(self, digits: str) -> tuple[_Reading, ...]:
        """The ways `digits` may be a number, in the policy's order of regions."""
        # Readings were added region by region, so index order is the policy's order.
        return tuple(self._readings[index] for index in sorted(self._shapes.present(ScanTarget(digits))))


def _shapes(metadata: PhoneMetadata) -> list[tuple[str, str]]:
    """RE2 patterns over a window's digits that every valid number of the region matches.

    Supersets, as libphonenumber has the last word. Its patterns are written for RE2 too (its
    C++ build can use it).
    """
    descs = (
        metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
        metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
        metadata.fixed_line, metadata.mobile,
    )  # fmt: skip
    numbers = "|".join(
        desc.national_number_pattern for desc in descs if desc and desc.national_number_pattern
    )
    prefix = metadata.national_prefix_for_parsing
    country = metadata.country_code
    shapes = [("exit", f"^(?:{metadata.international_prefix})[1-9]")] if metadata.international_prefix else []
    if metadata.national_prefix_transform_rule not in {None, "\\1"}:
        # The trunk prefix rewrites the number (Argentina, Mexico): ask libphonenumber every time.
        return [*shapes, ("trunk", "^"), ("bare", "^"), ("country", f"^{country}")]
    if not numbers:
        return shapes
    shapes += [("bare", f"^(?:{numbers})$"), ("country", f"^{country}(?:{prefix or ''})?(?:{numbers})$")]
    if prefix:
        shapes.append(("trunk", f"^(?:{prefix})(?:{numbers})$"))
    return shapes


@lru_cache(maxsize=16)
def _dialling(regions: tuple[str, ...]) -> _Dialling:
    return _Dialling(regions)


def _window(
    text: str, run_start: int, groups: list[tuple[int, int]], first: int, last: int
) -> tuple[int, int]:
    """The span of groups `first..last`, with the `+` or brackets that belong to them."""
    start, end = groups[first][0], groups[last][1]
    if start > run_start and text[start - 1] == "(":
        start -= 1
    if start == run_start + 1 and text[run_start] == "+":
        start -= 1
    if text[end : end + 1] == ")" and text.count("(", start, end) > text.count(")", start, end):
        end += 1
    return start, end


def _phone_shaped(window: str, group_count: int) -> bool:
    """At most one pair of brackets, in order; at most one slash; not a date or a dotted quad."""
    opening, closing = window.count("("), window.count(")")
    if opening != closing or opening > 1 or (opening and window.index("(") > window.index(")")):
        return False
    return (
        window.count("/") < 2
        and not _is_date(window, group_count)
        and not _is_dotted_quad(window, group_count)
    )


def _phone_neighbours_ok(text: str, start: int, end: int) -> bool:
    """Nothing around the window makes it part of something else: a word, a price, an id, a URL."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before in "_#+" or after.isalnum() or after in "_%":
        return False  # glued to a word (abc8005550142, 0958x), an id (#…), a percentage
    if unicodedata.category(before) == "Sc" or unicodedata.category(after) == "Sc":
        return False  # a price
    if after == "," and text[end + 1 : end + 3].isdigit() and not text[end + 3 : end + 4].isdigit():
        return False  # 1 234 567,89: a decimal comma
    words = _words_before(text, start)
    if _continues_number(text, start, end) or _in_version_context(text, start, words):
        return False
    if _nearest(words, _NUMBER_WORDS) in _ID_WORDS:
        return False
    return not _inside_web_address(text, start)


def _is_date(window: str, group_count: int) -> bool:
    """2024-01-15, 15.01.2024, 01/15/2024: three groups joined by one of `-./`."""
    if group_count != 3:
        return False
    lengths = [len(group) for group in _DIGIT_RUN.findall(window)]
    separators = {char for char in window if not char.isdigit()}
    return len(separators) == 1 and separators <= {"-", ".", "/"} and lengths in ([4, 2, 2], [2, 2, 4])


def _is_dotted_quad(window: str, group_count: int) -> bool:
    return group_count == 4 and window.count(".") == 3 and window.replace(".", "").isdigit()


def _inside_web_address(text: str, start: int) -> bool:
    """In a URL (a query id, a path segment); a `tel:` link is a phone number."""
    if not start or text[start - 1].isspace():
        return False
    token = text[max(0, start - 256) : start].rsplit(None, 1)[-1].casefold()
    return "://" in token or token.startswith("www.")


def _compact_number(text: str, start: int, window: str) -> bool:
    """Bare digits are as often an id: a number needs a trunk prefix and ten digits, or a label."""
    if window[0] == "0" and len(window) >= _PHONE_COMPACT_DIGITS:
        return True
    return _nearest(_words_before(text, start), _FILLER_WORDS) in _PHONE_WORDS


def _grouped_in_threes(window: str) -> bool:
    """Two groups or more, none shorter than three digits: 415 555 0142, 98765 43210."""
    groups = _DIGIT_RUN.findall(window)
    return len(groups) > 1 and all(len(group) > 2 for group in groups)


def _valid_international(window: str) -> bool:
    import phonenumbers  # noqa: PLC0415

    number = _parse(window, None)
    # The + is the signal: a number of a length the country dials counts even in a range the
    # metadata does not know yet (new allocations, Ofcom's 07700 900xxx for drama).
    return number is not None and (
        phonenumbers.is_valid_number(number)
        or phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE
    )


def _valid_in(window: str, region: str, *, labelled: bool) -> bool:
    """libphonenumber's VALID leniency for `region`; a national number without its trunk
    prefix must also be labelled or written in the region's groups (not 12 34 56 78 90)."""
    import phonenumbers  # noqa: PLC0415
    from phonenumbers.phonenumbermatcher import (  # noqa: PLC0415
        _is_national_prefix_present_if_required,  # the matcher's own VALID rule; not exported
    )

    number = _parse(window, region)
    if number is None:
        return False
    if number.country_code_source != phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY:
        return phonenumbers.is_valid_number(number)  # 0044 …, 011 44 …, or 44 20 … where 44 is dialled
    if not phonenumbers.is_valid_number_for_region(number, region):
        return False
    if len(phonenumbers.national_significant_number(number)) < sum(char.isdigit() for char in window):
        return True  # the trunk prefix is written: 020 7946 0958
    if not _is_national_prefix_present_if_required(number):
        return False
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return labelled or _grouped_as(window, formatted)


def _grouped_as(window: str, formatted: str) -> bool:
    """Whether `window` is split into groups, and only where the national format splits it."""
    written = [len(group) for group in _DIGIT_RUN.findall(window)]
    expected = [len(group) for group in _DIGIT_RUN.findall(formatted)]
    # The national format may carry a trunk prefix the window omits (098765 43210 for 98765 43210).
    surplus = sum(expected) - sum(written)
    if surplus < 0 or (surplus and expected[0] <= surplus):
        return False
    expected[0] -= surplus
    return len(written) > 1 and set(accumulate(written)) <= set(accumulate(expected))


def _parse(window: str, region: str | None) -> PhoneNumber | None:
    import phonenumbers  # noqa: PLC0415

    try:
        return phonenumbers.parse(window, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return None


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps any of the sorted, disjoint `spans`."""
    index = bisect_left(spans, (start, start))
    if index and spans[index - 1][1] > start:
        return True
    return index < len(spans) and spans[index][0] < end


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the sorted `spans` cover all of [start, end) (a card the phone pass need not see)."""
    index = max(bisect_left(spans, (start, start)) - 1, 0)
    covered = start
    while index < len(spans) and spans[index][0] <= covered < end:
        covered = max(covered, spans[index][1])
        index += 1
    return covered >= end


def _continues_number(
    text: str, start: int, end: int, *, before: str = _JOINERS, after: str = _JOINERS
) -> bool:
    """True when the candidate is a piece of a longer dotted/dashed number (OIDs, ids)."""
    head = text[max(0, start - 2) : start]
    tail = text[end : end + 2]
    if len(head) == 2 and head[0].isdigit() and head[1] in before:
        return True
    return len(tail) == 2 and tail[0] in after and tail[1].isdigit()
