"""The published Encryption SDK test vectors kept in tests/vectors, and raw keyrings built from them."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import (
    AesWrappingAlg,
    CreateRawAesKeyringInput,
    CreateRawRsaKeyringInput,
    PaddingScheme,
)

VECTORS = Path(__file__).parents[2] / "vectors"

_AES_BY_BITS = {
    128: AesWrappingAlg.ALG_AES128_GCM_IV12_TAG16,
    192: AesWrappingAlg.ALG_AES192_GCM_IV12_TAG16,
    256: AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
}
_RSA_PADDING = {
    ("pkcs1", None): PaddingScheme.PKCS1,
    ("oaep-mgf1", "sha1"): PaddingScheme.OAEP_SHA1_MGF1,
    ("oaep-mgf1", "sha256"): PaddingScheme.OAEP_SHA256_MGF1,
    ("oaep-mgf1", "sha384"): PaddingScheme.OAEP_SHA384_MGF1,
    ("oaep-mgf1", "sha512"): PaddingScheme.OAEP_SHA512_MGF1,
}


@cache
def load(name: str) -> Any:
    """One vector file, parsed."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def material_providers() -> AwsCryptographicMaterialProviders:
    """An MPL client for building test keyrings."""
    return AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())


def zero_key_aes_keyring() -> Any:
    """The keyring the commitment KATs' "static" vectors name: AES-256, 32 zero bytes."""
    return material_providers().create_raw_aes_keyring(
        input=CreateRawAesKeyringInput(
            key_namespace="ProviderName",
            key_name="KeyId",
            wrapping_key=bytes(32),
            wrapping_alg=AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
        )
    )


def manifest_keyring(master_key: dict[str, Any]) -> Any:
    """A raw MPL keyring for one `master-keys` entry of a generated vector (keys from the v3 manifest)."""
    key = load("esdk_keys_manifest_v3_raw.json")["keys"][master_key["key"]]
    providers = material_providers()
    if master_key["encryption-algorithm"] == "aes":
        return providers.create_raw_aes_keyring(
            input=CreateRawAesKeyringInput(
                key_namespace=master_key["provider-id"],
                key_name=key["key-id"],
                wrapping_key=base64.b64decode(key["material"]),
                wrapping_alg=_AES_BY_BITS[key["bits"]],
            )
        )
    padding = _RSA_PADDING[(master_key["padding-algorithm"], master_key.get("padding-hash"))]
    # A generated vector names the private or the public key; decrypting needs the private one.
    private = load("esdk_keys_manifest_v3_raw.json")["keys"]["rsa-4096-private"]
    return providers.create_raw_rsa_keyring(
        input=CreateRawRsaKeyringInput(
            key_namespace=master_key["provider-id"],
            key_name=key["key-id"],
            padding_scheme=padding,
            private_key=private["material"].encode("ascii"),
        )
    )
