/**
 * Opening the sealed answer (docs/encryption.md, "Response envelopes"): one message under a raw AES
 * keyring (namespace `secure-ai`, name `response-key`, AES-256-GCM, 12-byte IV) holding the
 * request's `resp_key`, stored context exactly {dir: response, req_id}. An answer sealed for
 * another request, under another key or in another shape is refused before any plaintext returns.
 */
import { ByteWriter, concat, constantTimeEqual, utf8, type Bytes } from "./bytes.js";
import { sameContext, serializeContext } from "./esdk/context.js";
import { decryptMessage, MessageError, parseHeader } from "./esdk/message.js";

export const RESPONSE_KEY_NAMESPACE = "secure-ai";
export const RESPONSE_KEY_NAME = "response-key";
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
const IV_BYTES = 12;
const NAME_AND_LENGTHS = new ByteWriter().bytes(utf8(RESPONSE_KEY_NAME)).u32(128).u32(IV_BYTES).finish();

export function responseContext(reqId: string): Record<string, string> {
  return { dir: "response", req_id: reqId };
}

/** Import a 32-byte response key for unwrapping only (non-extractable). */
export async function importResponseKey(respKey: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (respKey.length !== 32) {
    throw new RangeError("resp_key is 32 bytes");
  }
  return globalThis.crypto.subtle.importKey("raw", respKey, "AES-GCM", false, ["decrypt", "encrypt"]);
}

/** The plaintext of the answer to request `reqId`, or MessageError. */
export async function openResponse(message: Uint8Array, respKey: CryptoKey, reqId: string): Promise<Bytes> {
  if (message.length > MAX_RESPONSE_BYTES) {
    throw new MessageError("ciphertext_too_large");
  }
  const header = parseHeader(message);
  const context = responseContext(reqId);
  if (!sameContext(header.storedContext, context)) {
    throw new MessageError("context_mismatch");
  }
  const { providerId, providerInfo, ciphertext } = header.dataKey;
  if (
    providerId !== RESPONSE_KEY_NAMESPACE ||
    providerInfo.length !== NAME_AND_LENGTHS.length + IV_BYTES ||
    !constantTimeEqual(providerInfo.subarray(0, NAME_AND_LENGTHS.length), NAME_AND_LENGTHS)
  ) {
    throw new MessageError("unexpected_key");
  }
  const iv = providerInfo.slice(NAME_AND_LENGTHS.length);
  let dataKey: Bytes;
  try {
    dataKey = new Uint8Array(
      await globalThis.crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: serializeContext(context), tagLength: 128 }, respKey, ciphertext),
    );
  } catch {
    throw new MessageError("decrypt_failed");
  }
  try {
    return await decryptMessage(message, header, dataKey, {});
  } finally {
    dataKey.fill(0);
  }
}

/** The raw AES keyring's EDK for `dataKey` (tests and a fake gateway seal answers with it). */
export async function wrapResponseDataKey(respKey: CryptoKey, reqId: string, dataKey: Uint8Array<ArrayBuffer>, iv: Uint8Array<ArrayBuffer>): Promise<{ providerInfo: Bytes; ciphertext: Bytes }> {
  const sealed = await globalThis.crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: serializeContext(responseContext(reqId)), tagLength: 128 }, respKey, dataKey);
  return { providerInfo: concat(NAME_AND_LENGTHS, iv), ciphertext: new Uint8Array(sealed) };
}

