"""Test-only: make moto's KMS Decrypt honour `EncryptionAlgorithm` for RSA keys, as real KMS does.

moto decrypts every ciphertext as its own symmetric blob and ignores `EncryptionAlgorithm`, so data
a client encrypted locally with an RSA key's public half (RSAES-OAEP) never decrypts. The shim
registers two botocore event handlers on one client: the first remembers the Decrypt parameters,
the second answers a Decrypt that involves an RSA key, or names an RSA algorithm, from moto's
stored private key, the way KMS would (wrong algorithm or key usage: InvalidKeyUsageException;
bytes that do not decrypt: InvalidCiphertextException). Everything else still goes to moto.
Encrypt, GenerateDataKey and the rest are untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

from secure_ai_local.moto_kms import SYMMETRIC as _SYMMETRIC
from secure_ai_local.moto_kms import KmsRejection, is_rsa, rsa_decrypt

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_PARAMETERS: Final = "kms_rsa_shim_parameters"


def install_rsa_decrypt(client: KMSClient) -> KMSClient:
    """Give `client` (created under moto) real-KMS RSA decryption; returns the same client."""
    client.meta.events.register("before-parameter-build.kms.Decrypt", _remember_parameters)
    # botocore uses a before-call handler's return value as the response (the stubs say None).
    client.meta.events.register("before-call.kms.Decrypt", cast("Callable[..., None]", _answer_rsa_decrypt))
    return client


def _remember_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMETERS] = dict(params)


def _answer_rsa_decrypt(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    params: dict[str, Any] = context.get(_PARAMETERS, {})
    algorithm = params.get("EncryptionAlgorithm", _SYMMETRIC)
    key_id = params.get("KeyId")
    if key_id is None:
        if algorithm == _SYMMETRIC:
            return None  # moto's own symmetric path
        return _error("ValidationException", "KeyId is required to decrypt with an asymmetric key")
    key = _moto_key(key_id, context.get("client_region") or "us-east-1")
    if key is None:
        return _error("NotFoundException", "Key not found")
    if not is_rsa(key):
        if algorithm == _SYMMETRIC:
            return None
        return _error("InvalidKeyUsageException", f"{algorithm} is not valid for this key")
    try:
        plaintext = rsa_decrypt(key, params["CiphertextBlob"], algorithm)
    except KmsRejection as rejection:
        return _error(rejection.code, str(rejection))
    return _response(200), {
        "Plaintext": plaintext,
        "KeyId": key.arn,
        "EncryptionAlgorithm": algorithm,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def _moto_key(key_id: str, client_region: str) -> Any:
    account_id, region = DEFAULT_ACCOUNT_ID, client_region
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        region, account_id = parts[3], parts[4]
    try:
        return kms_backends[account_id][region].describe_key(key_id)
    except KeyError:
        return None


def _error(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    return _response(400), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


def _response(status: int) -> AWSResponse:
    return AWSResponse("https://kms.amazonaws.com/", status, HTTPHeaders(), None)
