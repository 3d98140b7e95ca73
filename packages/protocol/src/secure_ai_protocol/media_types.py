"""Content types the gateway speaks."""

# An AWS Encryption SDK message. Declared as a binary media type in template.yaml so API Gateway
# hands the bytes to Lambda base64-encoded instead of mangling them as text.
ENVELOPE_CONTENT_TYPE = "application/vnd.secure-ai.envelope"
JSON_CONTENT_TYPE = "application/json"
