"""An app user's OIDC token is accepted only from its issuer, for its app, in time, under the issuer's key.

Each refusal asserts its exact reason; each time boundary is tested on both sides, so a rule one
second off fails a test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jwt
import pytest

from secure_ai_gateway.identity.oidc import (
    MAX_LEEWAY_SECONDS,
    MAX_SUBJECT_CHARS,
    MAX_TOKEN_CHARS,
    TOKEN_REJECTIONS,
    TokenRejected,
    TrustedIssuer,
    VerifiedToken,
    verify_token,
)
from secure_ai_protocol.errors import Unauthenticated
from tests.gateway.identity.keys import (
    APP,
    ISSUER,
    JWKS_URI,
    NOW,
    OTHER_APP,
    FakeKeys,
    SigningKey,
    b64url,
    claims,
    ec_private_key,
    hmac_signed,
    rsa_private_key,
    segment,
    sign,
    unsigned,
)

SUBJECT = claims()["sub"]
LEEWAY = 30


def issuer(**changes: Any) -> TrustedIssuer:
    settings: dict[str, Any] = {"audiences": (APP,), "token_use": "id", "leeway_seconds": LEEWAY}
    settings.update(changes)
    return TrustedIssuer.for_issuer(ISSUER, **settings)


def refusal(
    token: str, keys: FakeKeys, trusted: TrustedIssuer | None = None, now: float = NOW
) -> TokenRejected:
    with pytest.raises(TokenRejected) as refused:
        verify_token(token, trusted or issuer(), keys, now)
    assert refused.value.reason in TOKEN_REJECTIONS
    return refused.value


@pytest.fixture
def keys(rsa_key: SigningKey) -> FakeKeys:
    return FakeKeys(rsa_key.jwk())


# --- what is accepted ---


def test_a_valid_id_token_names_its_issuer_user_app_and_expiry(rsa_key: SigningKey, keys: FakeKeys) -> None:
    verified = verify_token(sign(claims(), rsa_key), issuer(), keys, NOW)
    assert verified == VerifiedToken(issuer=ISSUER, subject=SUBJECT, audience=APP, expires_at=int(NOW) + 3600)
    assert keys.lookups == [(JWKS_URI, "rsa-1")]


def test_an_access_token_with_client_id_and_no_aud_is_accepted(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(aud=None, client_id=APP, token_use="access"), rsa_key)
    verified = verify_token(token, issuer(token_use="access"), keys, NOW)
    assert verified.audience == APP


def test_an_aud_list_holding_one_accepted_value_is_accepted(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(aud=["some-api", APP]), rsa_key)
    assert verify_token(token, issuer(), keys, NOW).audience == APP


def test_the_matched_audience_is_the_one_the_token_names(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(aud=OTHER_APP), rsa_key)
    assert verify_token(token, issuer(audiences=(APP, OTHER_APP)), keys, NOW).audience == OTHER_APP


def test_token_use_is_not_checked_when_the_issuer_does_not_ask(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(token_use=None), rsa_key)
    assert verify_token(token, issuer(token_use=None), keys, NOW).subject == SUBJECT


def test_an_es256_token_is_accepted_from_an_issuer_configured_for_it(ec_key: SigningKey) -> None:
    token = sign(claims(), ec_key)
    verified = verify_token(token, issuer(algorithms=("ES256",)), FakeKeys(ec_key.jwk()), NOW)
    assert verified.subject == SUBJECT


def test_an_eddsa_token_is_accepted_from_an_issuer_configured_for_it(ed_key: SigningKey) -> None:
    token = sign(claims(), ed_key)
    assert verify_token(token, issuer(algorithms=("EdDSA",)), FakeKeys(ed_key.jwk()), NOW).subject == SUBJECT


def test_a_ps256_token_is_accepted_when_the_key_says_ps256(rsa_key: SigningKey) -> None:
    key = SigningKey(rsa_key.private, "PS256", "ps-1")
    token = sign(claims(), key)
    assert verify_token(token, issuer(algorithms=("PS256",)), FakeKeys(key.jwk()), NOW).subject == SUBJECT


def test_a_fractional_exp_is_floored(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(exp=NOW + 100.75), rsa_key)
    assert verify_token(token, issuer(), keys, NOW).expires_at == int(NOW) + 100


def test_a_key_without_alg_in_the_jwks_verifies_rs256(rsa_key: SigningKey) -> None:
    jwk = rsa_key.jwk()
    del jwk["alg"]
    assert verify_token(sign(claims(), rsa_key), issuer(), FakeKeys(jwk), NOW).subject == SUBJECT


# --- time, both sides of every boundary ---


@pytest.mark.parametrize(("leeway", "past_by"), [(0, 0), (0, 1), (LEEWAY, LEEWAY), (LEEWAY, LEEWAY + 1)])
def test_a_token_expired_by_at_least_the_leeway_is_refused(
    rsa_key: SigningKey, keys: FakeKeys, leeway: int, past_by: int
) -> None:
    token = sign(claims(exp=int(NOW) - past_by, iat=int(NOW) - 3600), rsa_key)
    assert refusal(token, keys, issuer(leeway_seconds=leeway)).reason == "token_expired"


@pytest.mark.parametrize(("leeway", "past_by"), [(0, -1), (LEEWAY, LEEWAY - 1), (LEEWAY, 0)])
def test_a_token_expired_by_less_than_the_leeway_is_accepted(
    rsa_key: SigningKey, keys: FakeKeys, leeway: int, past_by: int
) -> None:
    token = sign(claims(exp=int(NOW) - past_by, iat=int(NOW) - 3600), rsa_key)
    assert verify_token(token, issuer(leeway_seconds=leeway), keys, NOW).expires_at == int(NOW) - past_by


def test_expiry_is_compared_to_fractional_now(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(exp=int(NOW), iat=int(NOW) - 3600), rsa_key)
    assert verify_token(token, issuer(leeway_seconds=0), keys, NOW - 0.001).expires_at == int(NOW)
    assert refusal(token, keys, issuer(leeway_seconds=0), NOW).reason == "token_expired"


@pytest.mark.parametrize("leeway", [0, LEEWAY])
def test_nbf_later_than_now_plus_leeway_is_refused(rsa_key: SigningKey, keys: FakeKeys, leeway: int) -> None:
    token = sign(claims(nbf=int(NOW) + leeway + 1), rsa_key)
    assert refusal(token, keys, issuer(leeway_seconds=leeway)).reason == "token_not_yet_valid"


@pytest.mark.parametrize("leeway", [0, LEEWAY])
def test_nbf_at_now_plus_leeway_is_accepted(rsa_key: SigningKey, keys: FakeKeys, leeway: int) -> None:
    token = sign(claims(nbf=int(NOW) + leeway), rsa_key)
    assert verify_token(token, issuer(leeway_seconds=leeway), keys, NOW).subject == SUBJECT


@pytest.mark.parametrize("leeway", [0, LEEWAY])
def test_iat_later_than_now_plus_leeway_is_refused(rsa_key: SigningKey, keys: FakeKeys, leeway: int) -> None:
    token = sign(claims(iat=int(NOW) + leeway + 1), rsa_key)
    assert refusal(token, keys, issuer(leeway_seconds=leeway)).reason == "token_issued_in_future"


@pytest.mark.parametrize("leeway", [0, LEEWAY])
def test_iat_at_now_plus_leeway_is_accepted(rsa_key: SigningKey, keys: FakeKeys, leeway: int) -> None:
    token = sign(claims(iat=int(NOW) + leeway), rsa_key)
    assert verify_token(token, issuer(leeway_seconds=leeway), keys, NOW).subject == SUBJECT


@pytest.mark.parametrize("value", ["tomorrow", True, [1], {"t": 1}, float("inf"), float("nan")])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_claim_that_is_not_a_finite_number_is_malformed(
    rsa_key: SigningKey, keys: FakeKeys, claim: str, value: Any
) -> None:
    token = sign(claims(**{claim: value}), rsa_key)
    assert refusal(token, keys).reason == "token_malformed"


# --- issuer, audience, use, subject ---


@pytest.mark.parametrize(
    "other",
    [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other",
        ISSUER + "/",
        ISSUER[:-1],  # a prefix: PyJWT 2.10.0 compared issuers by substring
        ISSUER.upper(),
        "https://accounts.example.com",
    ],
)
def test_a_token_from_another_issuer_is_refused(rsa_key: SigningKey, keys: FakeKeys, other: str) -> None:
    assert refusal(sign(claims(iss=other), rsa_key), keys).reason == "token_issuer"


def test_a_token_without_iss_is_refused(rsa_key: SigningKey, keys: FakeKeys) -> None:
    assert refusal(sign(claims(iss=None), rsa_key), keys).reason == "token_issuer"


def test_a_token_for_another_app_of_the_same_issuer_is_refused(rsa_key: SigningKey, keys: FakeKeys) -> None:
    assert refusal(sign(claims(aud=OTHER_APP), rsa_key), keys).reason == "token_audience"


@pytest.mark.parametrize(
    "audience", ["", "APP-CLIENT-ONE", APP + " ", [], ["some-api"], [APP[:-1]], [1], {"aud": APP}, 7]
)
def test_a_token_for_an_audience_not_accepted_is_refused(
    rsa_key: SigningKey, keys: FakeKeys, audience: Any
) -> None:
    assert refusal(sign(claims(aud=audience), rsa_key), keys).reason == "token_audience"


def test_an_aud_list_with_a_non_string_is_refused_even_beside_a_good_value(
    rsa_key: SigningKey, keys: FakeKeys
) -> None:
    assert refusal(sign(claims(aud=[APP, 1]), rsa_key), keys).reason == "token_audience"


def test_a_wrong_aud_does_not_fall_back_to_client_id(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(aud=OTHER_APP, client_id=APP), rsa_key)
    assert refusal(token, keys).reason == "token_audience"


@pytest.mark.parametrize("client_id", [OTHER_APP, None, ["app-client-one"], ""])
def test_an_access_token_for_another_client_is_refused(
    rsa_key: SigningKey, keys: FakeKeys, client_id: Any
) -> None:
    token = sign(claims(aud=None, client_id=client_id, token_use="access"), rsa_key)
    assert refusal(token, keys, issuer(token_use="access")).reason == "token_audience"


@pytest.mark.parametrize("use", ["access", None, "ID", ["id"]])
def test_a_token_of_another_use_is_refused(rsa_key: SigningKey, keys: FakeKeys, use: Any) -> None:
    assert refusal(sign(claims(token_use=use), rsa_key), keys).reason == "token_use"


@pytest.mark.parametrize("subject", [None, "", 42, "x" * (MAX_SUBJECT_CHARS + 1), "user\nforged", "user\x00"])
def test_a_missing_or_unusable_subject_is_refused(rsa_key: SigningKey, keys: FakeKeys, subject: Any) -> None:
    assert refusal(sign(claims(sub=subject), rsa_key), keys).reason == "token_subject"


def test_a_subject_of_the_maximum_length_is_accepted(rsa_key: SigningKey, keys: FakeKeys) -> None:
    subject = "x" * MAX_SUBJECT_CHARS
    assert verify_token(sign(claims(sub=subject), rsa_key), issuer(), keys, NOW).subject == subject


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_a_token_without_exp_or_iat_is_refused(rsa_key: SigningKey, keys: FakeKeys, claim: str) -> None:
    assert refusal(sign(claims(**{claim: None}), rsa_key), keys).reason == "token_claim_missing"


# --- keys and algorithms ---


def test_a_token_signed_by_another_key_under_the_issuer_s_kid_is_refused(
    impostor_key: SigningKey, keys: FakeKeys
) -> None:
    assert refusal(sign(claims(), impostor_key), keys).reason == "token_signature"


def test_a_token_whose_payload_was_changed_after_signing_is_refused(
    rsa_key: SigningKey, keys: FakeKeys
) -> None:
    header, _, signature = sign(claims(), rsa_key).split(".")
    forged = f"{header}.{segment(claims(sub='someone-else'))}.{signature}"
    assert refusal(forged, keys).reason == "token_signature"


@pytest.mark.parametrize("name", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_token_is_refused_before_any_key_lookup(keys: FakeKeys, name: str) -> None:
    token = f"{segment({'alg': name, 'typ': 'JWT', 'kid': 'rsa-1'})}.{segment(claims())}."
    assert refusal(token, keys).reason == "token_algorithm"
    assert keys.lookups == []


def test_an_unsigned_token_with_the_signature_segment_left_on_is_refused(
    rsa_key: SigningKey, keys: FakeKeys
) -> None:
    signature = sign(claims(), rsa_key).rsplit(".", 1)[1]
    assert refusal(unsigned(claims(), kid="rsa-1") + signature, keys).reason == "token_algorithm"


def test_hs256_keyed_with_the_issuer_s_public_key_is_refused(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = hmac_signed(claims(), rsa_key.public_pem(), kid="rsa-1")
    assert refusal(token, keys).reason == "token_algorithm"
    assert keys.lookups == []


def test_an_algorithm_the_issuer_is_not_configured_for_is_refused(ec_key: SigningKey) -> None:
    # ES256 is allowed in general, but this issuer signs RS256 only.
    assert refusal(sign(claims(), ec_key), FakeKeys(ec_key.jwk())).reason == "token_algorithm"


def test_a_header_alg_that_is_not_the_key_s_own_alg_is_refused(rsa_key: SigningKey) -> None:
    # The JWKS says the key is RS256; the token claims PS256 for it, which the issuer also allows.
    ps256 = SigningKey(rsa_key.private, "PS256", rsa_key.kid)
    trusted = issuer(algorithms=("RS256", "PS256"))
    assert refusal(sign(claims(), ps256), FakeKeys(rsa_key.jwk()), trusted).reason == "token_algorithm"


def test_an_es256_header_naming_an_rsa_key_is_refused(rsa_key: SigningKey, ec_key: SigningKey) -> None:
    token = sign(claims(), ec_key.with_kid(rsa_key.kid))
    trusted = issuer(algorithms=("RS256", "ES256"))
    assert refusal(token, FakeKeys(rsa_key.jwk()), trusted).reason == "token_algorithm"


def test_an_ec_key_on_another_curve_than_its_algorithm_s_is_refused() -> None:
    p384 = SigningKey(ec_private_key(2, "P-384"), "ES384", "ec-384")
    # The JWKS labels the P-384 key ES256; the token is ES256 in its header, signed with ES384's curve.
    jwk = p384.jwk(alg="ES256")
    signed = sign(claims(), p384)
    token = segment({"alg": "ES256", "typ": "JWT", "kid": "ec-384"}) + signed[signed.index(".") :]
    assert refusal(token, FakeKeys(jwk), issuer(algorithms=("ES256",))).reason == "token_algorithm"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing with it, below
def test_a_weak_rsa_key_is_refused() -> None:
    weak = SigningKey(rsa_private_key(3, 1024), "RS256", "weak")
    assert refusal(sign(claims(), weak), FakeKeys(weak.jwk())).reason == "token_key_unusable"


def test_a_kid_the_keys_do_not_have_is_refused(rsa_key: SigningKey, keys: FakeKeys) -> None:
    assert refusal(sign(claims(), rsa_key.with_kid("rsa-2")), keys).reason == "token_unknown_key"
    assert keys.lookups == [(JWKS_URI, "rsa-2")]


@pytest.mark.parametrize("kid", [None, "", 7, "k" * 257])
def test_a_token_without_a_usable_kid_is_malformed(rsa_key: SigningKey, keys: FakeKeys, kid: Any) -> None:
    valid = sign(claims(), rsa_key)
    header = segment({"alg": "RS256", "typ": "JWT", **({} if kid is None else {"kid": kid})})
    token = header + valid[valid.index(".") :]
    assert refusal(token, keys).reason == "token_malformed"
    assert keys.lookups == []


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"b64": False, "crit": ["b64"]},
        # PyJWT understands b64 (RFC 7797) and would go on to check the signature; this code does not.
        {"b64": True, "crit": ["b64"]},
    ],
)
def test_a_header_with_extensions_is_refused(
    rsa_key: SigningKey, keys: FakeKeys, extra: dict[str, Any]
) -> None:
    header = segment({"alg": "RS256", "typ": "JWT", "kid": "rsa-1", **extra})
    token = sign(claims(), rsa_key)
    assert refusal(header + token[token.index(".") :], keys).reason == "token_malformed"


# --- shape and size ---


def test_a_token_over_the_size_cap_is_refused_before_parsing(keys: FakeKeys) -> None:
    assert refusal("a" * (MAX_TOKEN_CHARS + 1), keys).reason == "token_too_large"
    assert keys.lookups == []


def padded(rsa_key: SigningKey, length: int) -> str:
    """A valid token of exactly `length` characters, padded with a claim and a header field."""
    shortest = len(sign(claims(pad=""), rsa_key))
    start = max(0, (length - shortest) * 3 // 4 - 8)
    for header_pad in range(4):
        for claim_pad in range(start, length):
            token = sign(claims(pad="p" * claim_pad), rsa_key, x="h" * header_pad)
            if len(token) >= length:
                if len(token) == length:
                    return token
                break
    raise AssertionError("no padding gives that length")


def test_a_token_of_exactly_the_size_cap_is_accepted_and_one_more_is_refused(
    rsa_key: SigningKey, keys: FakeKeys
) -> None:
    at_cap = padded(rsa_key, MAX_TOKEN_CHARS)
    assert verify_token(at_cap, issuer(), keys, NOW).subject == SUBJECT
    over = padded(rsa_key, MAX_TOKEN_CHARS + 1)
    assert refusal(over, keys).reason == "token_too_large"


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "token_malformed"),
        ("not a token", "token_malformed"),
        ("a.b", "token_malformed"),
        ("a.b.c", "token_malformed"),
        ("...", "token_malformed"),
        ("a.b.c.d.e", "token_malformed"),
        ("Bearer eyJ.eyJ.sig", "token_malformed"),
        ("ééé.ééé.ééé", "token_malformed"),
        (f"{segment([1, 2])}.{segment({})}.", "token_malformed"),
        (f"{segment('RS256')}.{segment({})}.", "token_malformed"),
        (f"{b64url(b'{not json')}.{segment({})}.", "token_malformed"),
        (f"!!!!.{segment({})}.", "token_malformed"),
        (f"{b64url(b'[' * 5000)}.{segment({})}.", "token_malformed"),
        (f"{segment({'typ': 'JWT', 'kid': 'rsa-1'})}.{segment({})}.", "token_algorithm"),
        (f"{segment({'alg': ['RS256'], 'kid': 'rsa-1'})}.{segment({})}.", "token_algorithm"),
        (f"{segment({'alg': 'RS256', 'kid': 'rsa-1'})}.{segment({})}.", "token_signature"),
        (
            f"{segment({'alg': 'RS256', 'kid': 'rsa-1'})}.{segment([1])}.{b64url(b'x' * 256)}",
            "token_signature",
        ),
        (f"{segment({'alg': 'RS256', 'kid': 'rsa-1'})}.!!.{b64url(b'x' * 256)}", "token_malformed"),
    ],
)
def test_garbage_is_refused(keys: FakeKeys, garbage: str, reason: str) -> None:
    assert refusal(garbage, keys).reason == reason


def test_a_signed_payload_that_is_not_a_json_object_is_malformed(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = jwt.api_jws.PyJWS().encode(
        b'["not","claims"]', rsa_key.private, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    assert refusal(token, keys).reason == "token_malformed"


# --- what errors and results reveal ---


def test_refusals_never_carry_the_token_or_its_claims(rsa_key: SigningKey, impostor_key: SigningKey) -> None:
    keys = FakeKeys(rsa_key.jwk())
    for token in (
        sign(claims(aud=OTHER_APP), rsa_key),
        sign(claims(), impostor_key),
        sign(claims(iss="https://evil.example"), rsa_key),
        unsigned(claims(), kid="rsa-1"),
    ):
        error = refusal(token, keys)
        for secret in (token, *token.split("."), SUBJECT, OTHER_APP, "evil.example"):
            if secret:
                assert secret not in str(error)
                assert secret not in repr(error)
                assert secret not in str(error.args)


def test_a_refusal_is_an_authentication_failure() -> None:
    assert issubclass(TokenRejected, Unauthenticated)
    assert TokenRejected("token_expired").reason == "token_expired"


def test_the_verified_token_holds_no_token(rsa_key: SigningKey, keys: FakeKeys) -> None:
    token = sign(claims(), rsa_key)
    verified = verify_token(token, issuer(), keys, NOW)
    assert token.split(".")[2] not in repr(verified)
    assert {field.name for field in dataclasses.fields(verified)} == {
        "issuer",
        "subject",
        "audience",
        "expires_at",
    }


# --- the issuer's configuration ---


def test_the_default_jwks_uri_is_the_issuer_s_well_known_path() -> None:
    assert TrustedIssuer.for_issuer(ISSUER, (APP,)).jwks_uri == JWKS_URI
    assert TrustedIssuer.for_issuer(ISSUER + "/", (APP,)).jwks_uri == JWKS_URI
    explicit = TrustedIssuer.for_issuer(ISSUER, (APP,), jwks_uri="https://keys.example/jwks")
    assert explicit.jwks_uri == "https://keys.example/jwks"


def test_the_defaults_are_rs256_and_thirty_seconds() -> None:
    trusted = TrustedIssuer.for_issuer(ISSUER, (APP,))
    assert (trusted.algorithms, trusted.leeway_seconds, trusted.token_use) == (("RS256",), 30, None)


@pytest.mark.parametrize(
    "algorithms",
    [(), ("none",), ("HS256",), ("HS384",), ("HS512",), ("RS256", "HS256"), ("ES256K",), ("rs256",), ("",)],
)
def test_an_issuer_cannot_be_configured_with_a_symmetric_or_unknown_algorithm(
    algorithms: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="algorithms"):
        TrustedIssuer.for_issuer(ISSUER, (APP,), algorithms=algorithms)


@pytest.mark.parametrize(
    "algorithms",
    [("RS256", "RS384", "RS512"), ("PS256", "PS384", "PS512"), ("ES256", "ES384", "ES512"), ("EdDSA",)],
)
def test_every_asymmetric_algorithm_can_be_configured(algorithms: tuple[str, ...]) -> None:
    assert TrustedIssuer.for_issuer(ISSUER, (APP,), algorithms=algorithms).algorithms == algorithms


@pytest.mark.parametrize("leeway", [-1, MAX_LEEWAY_SECONDS + 1, True, 1.5])
def test_the_leeway_is_bounded(leeway: Any) -> None:
    with pytest.raises(ValueError, match="leeway"):
        TrustedIssuer.for_issuer(ISSUER, (APP,), leeway_seconds=leeway)


@pytest.mark.parametrize("leeway", [0, MAX_LEEWAY_SECONDS])
def test_the_leeway_s_bounds_are_allowed(leeway: int) -> None:
    assert TrustedIssuer.for_issuer(ISSUER, (APP,), leeway_seconds=leeway).leeway_seconds == leeway


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": ""},
        {"jwks_uri": ""},
        {"audiences": ()},
        {"audiences": ("",)},
        {"audiences": [APP]},
        {"token_use": ""},
    ],
)
def test_an_issuer_needs_its_name_keys_and_audiences(changes: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"issuer": ISSUER, "audiences": (APP,), "jwks_uri": JWKS_URI, **changes}
    with pytest.raises(ValueError, match="must be"):
        TrustedIssuer(**settings)
