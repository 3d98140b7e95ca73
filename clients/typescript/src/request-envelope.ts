/**
 * Mobile-mode request envelopes (docs/encryption.md): the data key wrapped the way the MPL's AWS KMS
 * RSA keyring wraps it, so the gateway's KMS Decrypt (RSAES_OAEP_SHA_256) unwraps it.
 *
 * EDK: provider id `aws-kms-rsa`, provider info = the key ARN, ciphertext =
 * RSA-OAEP-SHA256(SHA-384(serialised full context) || data key). Stored context
 * {purpose: request, route, version: 1}; `client_id` and `req_id` are required context: bound by
 * the header tag and the digest, not stored.
 */
import { concat, fromBase64, randomBytes, utf8, type Bytes } from "./bytes.js";
import { serializeContext } from "./esdk/context.js";
import { encryptMessage, type EncryptedDataKey } from "./esdk/message.js";

export const MOBILE_PROVIDER_ID = "aws-kms-rsa";
export const RSA_ENCRYPTION_ALGORITHM = "RSAES_OAEP_SHA_256";
const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):[0-9]{12}:key\/[A-Za-z0-9-]+$/;

export interface RsaRequestKey {
  /** RSA-OAEP SHA-256 public key (`importRsaPublicKey`). */
  readonly publicKey: CryptoKey;
  /** The full KMS key ARN, never an alias: the gateway compares it byte for byte. */
  readonly keyArn: string;
}

export function checkKeyArn(keyArn: string): string {
  if (!KEY_ARN.test(keyArn)) {
    throw new TypeError("a KMS key ARN is needed: arn:aws:kms:<region>:<account>:key/<id>");
  }
  return keyArn;
}

/** The DER (SubjectPublicKeyInfo) inside a PEM public key; line breaks do not matter. */
export function pemToDer(pem: string): Bytes {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (match?.[1] === undefined) {
    throw new TypeError("not a PEM public key");
  }
  return fromBase64(match[1].replace(/\s+/g, ""));
}

export async function importRsaPublicKey(pem: string): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey("spki", pemToDer(pem), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
}

export interface SealRequestInput {
  readonly plaintext: Uint8Array<ArrayBuffer>;
  readonly clientId: string;
  readonly reqId: string;
  readonly route: string;
  /** Fixed values for test vectors only; drawn fresh otherwise. */
  readonly dataKey?: Uint8Array<ArrayBuffer>;
  readonly messageId?: Uint8Array<ArrayBuffer>;
  /** Test vectors only: the wrapped data key to write instead of a fresh RSA-OAEP encryption. */
  readonly wrappedDataKey?: Uint8Array<ArrayBuffer>;
  readonly frameLength?: number;
}

export function requestContexts(clientId: string, reqId: string, route: string): {
  stored: Record<string, string>;
  required: Record<string, string>;
} {
  if (!clientId || !reqId || !route) {
    throw new TypeError("client id, req id and route must be non-empty");
  }
  return { stored: { purpose: "request", route, version: "1" }, required: { client_id: clientId, req_id: reqId } };
}

/** SHA-384 of the serialised full context, then the data key: what RSA-OAEP wraps. */
export async function kmsRsaWrappedPlaintext(fullContext: Record<string, string>, dataKey: Uint8Array): Promise<Bytes> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-384", serializeContext(fullContext)));
  return concat(digest, dataKey);
}

/** Seal a request plaintext to the gateway's RSA request key. */
export async function sealRequest(key: RsaRequestKey, input: SealRequestInput): Promise<Bytes> {
  const { stored, required } = requestContexts(input.clientId, input.reqId, input.route);
  const dataKey = input.dataKey ?? randomBytes(32);
  const wrapped =
    input.wrappedDataKey ??
    new Uint8Array(await globalThis.crypto.subtle.encrypt({ name: "RSA-OAEP" }, key.publicKey, await kmsRsaWrappedPlaintext({ ...required, ...stored }, dataKey)));
  const encryptedDataKey: EncryptedDataKey = { providerId: MOBILE_PROVIDER_ID, providerInfo: utf8(checkKeyArn(key.keyArn)), ciphertext: wrapped };
  try {
    return await encryptMessage({
      plaintext: input.plaintext,
      dataKey,
      messageId: input.messageId ?? randomBytes(32),
      storedContext: stored,
      requiredContext: required,
      encryptedDataKey,
      ...(input.frameLength === undefined ? {} : { frameLength: input.frameLength }),
    });
  } finally {
    if (input.dataKey === undefined) {
      dataKey.fill(0);
    }
  }
}
