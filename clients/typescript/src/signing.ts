/**
 * RFC 9421 signing under the gateway's `secure-ai-v1` profile (docs/protocol.md): the six covered
 * components in the Python signer's order, the six parameters in its order, HMAC-SHA256 with a
 * non-extractable CryptoKey.
 */
import { canonicalQuery, queryPairs } from "./canonical-query.js";
import { contentDigest } from "./content-digest.js";
import { randomBytes, toBase64Url, utf8, type Bytes } from "./bytes.js";
import { sfByteSequence, sfInnerList, sfKey } from "./structured-fields.js";

export const PROFILE_TAG = "secure-ai-v1";
export const PROFILE_ALGORITHM = "hmac-sha256";
export const COMPONENTS = ["@method", "@authority", "@path", "@query", "content-type", "content-digest"] as const;
export const DEFAULT_LIFETIME_SECONDS = 120;
export const MAX_LIFETIME_SECONDS = 300;
const SECRET_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}\.[1-9][0-9]{0,5}$/;
const NONCE = /^[A-Za-z0-9+/_-]{22,128}={0,2}$/;
const VISIBLE = /^[\x20-\x7e]*$/;
const MAX_COMPONENT_LENGTH = 8192;

/** A signing key: its key id and the HMAC key, which cannot be exported. */
export interface SigningKey {
  readonly keyId: string;
  readonly key: CryptoKey;
  /** The profile tag the key signs with (`signature_tag` of device credentials). */
  readonly tag?: string;
}

/** Import a 32-byte secret as a non-extractable HMAC-SHA256 key, then zero the caller's copy. */
export async function importSigningSecret(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (secret.length !== SECRET_BYTES) {
    throw new RangeError(`a signing secret is ${SECRET_BYTES} bytes`);
  }
  try {
    return await globalThis.crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  } finally {
    secret.fill(0);
  }
}

export function checkKeyId(keyId: string): string {
  if (!KEY_ID.test(keyId)) {
    throw new TypeError("key id must be <client_id>.<version>, e.g. 'my-client.1'");
  }
  return keyId;
}

/** 16 bytes from the CSPRNG, base64url without padding (22 characters): the request's req_id too. */
export function newNonce(): string {
  return toBase64Url(randomBytes(16));
}

export interface RequestToSign {
  readonly method: string;
  readonly url: string | URL;
  readonly contentType: string;
  readonly body: Bytes;
}

export interface SignatureParameters {
  readonly created: number;
  readonly expires: number;
  readonly nonce: string;
  readonly keyId: string;
  readonly tag?: string;
  readonly label?: string;
}

export interface SignedHeaders {
  /** The URL to send: its query rewritten to the canonical form that was signed. */
  readonly url: string;
  readonly contentDigest: string;
  readonly signatureInput: string;
  readonly signature: string;
  /** The signature base, for tests and debugging (never a secret). */
  readonly signatureBase: string;
}

function covered(value: string): string {
  if (value.length > MAX_COMPONENT_LENGTH || !VISIBLE.test(value)) {
    throw new TypeError("a covered value must be printable ASCII, at most 8192 characters");
  }
  return value;
}

/** The `Signature-Input` member (without `label=`): the `@signature-params` value. */
export function signatureParams(parameters: SignatureParameters): string {
  const { created, expires, nonce, keyId } = parameters;
  if (!(created < expires && expires <= created + MAX_LIFETIME_SECONDS)) {
    throw new RangeError("expires must be after created, at most 300 s later");
  }
  if (!NONCE.test(nonce)) {
    throw new TypeError("nonce must be 22-128 base64(url) characters");
  }
  return sfInnerList(COMPONENTS, [
    ["created", created],
    ["expires", expires],
    ["nonce", nonce],
    ["keyid", checkKeyId(keyId)],
    ["alg", PROFILE_ALGORITHM],
    ["tag", parameters.tag ?? PROFILE_TAG],
  ]);
}

/** The RFC 9421 §2.5 signature base: one line per component, then `@signature-params`, LF-joined. */
export function signatureBase(
  request: { method: string; authority: string; path: string; query: string; contentType: string; contentDigest: string },
  params: string,
): string {
  const values = [request.method, request.authority, request.path, `?${request.query}`, request.contentType.trim(), request.contentDigest];
  const lines = COMPONENTS.map((name, index) => `"${name}": ${covered(values[index] ?? "")}`);
  lines.push(`"@signature-params": ${params}`);
  return lines.join("\n");
}

/** Sign one request: Content-Digest, Signature-Input, Signature. */
export async function signRequest(request: RequestToSign, key: CryptoKey, parameters: SignatureParameters): Promise<SignedHeaders> {
  const url = new URL(request.url);
  const query = canonicalQuery(queryPairs(url));
  url.search = query;
  const digest = await contentDigest(request.body);
  const params = signatureParams(parameters);
  const base = signatureBase(
    {
      method: request.method.toUpperCase(),
      authority: url.host.toLowerCase(),
      path: url.pathname || "/",
      query,
      contentType: request.contentType,
      contentDigest: digest,
    },
    params,
  );
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, utf8(base)));
  const label = sfKey(parameters.label ?? "sig");
  return {
    url: url.toString(),
    contentDigest: digest,
    signatureInput: `${label}=${params}`,
    signature: `${label}=${sfByteSequence(mac)}`,
    signatureBase: base,
  };
}
