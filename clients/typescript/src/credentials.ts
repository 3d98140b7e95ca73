/**
 * Device credentials (packages/protocol/.../wire/devices.py): what `POST /v1/devices` (201) and
 * `POST /v1/devices/renew` (200) answer. The secret is imported at once as a non-extractable
 * HMAC key and its base64 is dropped; only the metadata below is kept beside the CryptoKey.
 */
import { fromBase64 } from "./bytes.js";
import { importSigningSecret } from "./signing.js";

const APP_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_ID = /^dev-[a-z2-7]{26}$/;
const TAG = /^[A-Za-z0-9._-]{1,64}$/;
const VERSION = /^[1-9][0-9]{0,5}$/;

/** The credentials without the secret: safe to store in the clear. */
export interface CredentialsMetadata {
  readonly app_id: string;
  readonly device_id: string;
  readonly key_id: string;
  readonly issued_at: number;
  readonly renew_after: number;
  readonly expires_at: number;
  readonly signature_tag: string;
}

export interface DeviceKey {
  readonly credentials: CredentialsMetadata;
  /** HMAC-SHA256, non-extractable. */
  readonly key: CryptoKey;
}

function epoch(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError("not epoch seconds");
  }
  return value;
}

function matching(value: unknown, pattern: RegExp): string {
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new TypeError("malformed field");
  }
  return value;
}

/** Check a DeviceCredentials document, import its secret, and return the key with the metadata. */
export async function importDeviceCredentials(document: unknown): Promise<DeviceKey> {
  if (typeof document !== "object" || document === null) {
    throw new TypeError("credentials must be an object");
  }
  const fields = document as Record<string, unknown>;
  const deviceId = matching(fields["device_id"], DEVICE_ID);
  const keyId = matching(fields["key_id"], /^.{1,80}$/);
  const [owner, version, ...rest] = keyId.split(".");
  if (owner !== deviceId || version === undefined || !VERSION.test(version) || rest.length > 0) {
    throw new TypeError("key_id is not <device_id>.<version>");
  }
  const credentials: CredentialsMetadata = {
    app_id: matching(fields["app_id"], APP_ID),
    device_id: deviceId,
    key_id: keyId,
    issued_at: epoch(fields["issued_at"]),
    renew_after: epoch(fields["renew_after"]),
    expires_at: epoch(fields["expires_at"]),
    signature_tag: matching(fields["signature_tag"], TAG),
  };
  const secret = fromBase64(matching(fields["secret"], /^[A-Za-z0-9+/=]{44}$/));
  return { credentials, key: await importSigningSecret(secret) };
}
