"""Content types the gateway speaks."""

# An AWS Encryption SDK message. Declared as a binary media type in template.yaml so API Gateway
# hands the bytes to Lambda base64-encoded instead of mangling them as text.
ENVELOPE_CONTENT_TYPE = "application/vnd.secure-ai.envelope"
JSON_CONTENT_TYPE = "application/json"


def first_accepted(accept: str | None) -> str:
    """The first media range of an Accept header, lower-cased, without parameters ("" if none).

    API Gateway decodes a base64 proxy answer into binary only when this first type is one of the
    API's binary media types; for any other Accept the caller would get the base64 text.
    """
    return (accept or "").split(",", 1)[0].split(";", 1)[0].strip().lower()


def accepts_envelope(accept: str | None) -> bool:
    """Whether a sealed answer may be sent: the first Accept type is the envelope type itself
    (`*/*` or `application/*` is not enough: API Gateway would send base64 text)."""
    return first_accepted(accept) == ENVELOPE_CONTENT_TYPE
