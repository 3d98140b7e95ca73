/**
 * One AWS Encryption SDK message format: version 2, suite 0x0478
 * (AES_256_GCM_HKDF_SHA512_COMMIT_KEY: committing, unsigned), one encrypted data key, framed body.
 * Written from the ESDK message-format specification; the bytes are checked against
 * docs/vectors/client-vectors.json and the Python gateway.
 *
 * - content key = HKDF-SHA512(data key, salt = message id, info = 0x0478 || "DERIVEKEY"), 32 bytes
 * - commitment  = HKDF-SHA512(data key, salt = message id, info = "COMMITKEY"), 32 bytes, in the header
 * - header tag  = AES-GCM(content key, IV = 12 zero bytes, no plaintext,
 *                         AAD = header body || serialised required (unstored) context)
 * - frame       = AES-GCM(content key, IV = 8 zero bytes || sequence number,
 *                         AAD = message id || content string || sequence number (4) || length (8))
 */
import { ByteReader, ByteWriter, concat, constantTimeEqual, utf8, type Bytes } from "../bytes.js";
import { parseContext, serializeContext, type EncryptionContext } from "./context.js";

export const SUITE_ID = 0x0478;
export const MESSAGE_FORMAT = 2;
/** The largest frame this client writes or reads: the gateway's request plaintext cap (512 KiB). */
export const MAX_FRAME_LENGTH = 512 * 1024;
/**
 * One frame for any request the gateway accepts: each frame is one WebCrypto call (a promise and a
 * copy), so 4 KiB frames (the ESDK's default) cost ~16 calls at 64 KiB for nothing — the message is
 * built and read whole, never streamed.
 */
export const DEFAULT_FRAME_LENGTH = MAX_FRAME_LENGTH;
const FRAMED = 2;
const NON_FRAMED = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const MESSAGE_ID_BYTES = 32;
const FINAL_FRAME = 0xffffffff;
const FRAME_STRING = utf8("AWSKMSEncryptionClient Frame");
const FINAL_FRAME_STRING = utf8("AWSKMSEncryptionClient Final Frame");
const SINGLE_BLOCK_STRING = utf8("AWSKMSEncryptionClient Single Block");
const DERIVE_INFO = concat(Uint8Array.of(SUITE_ID >> 8, SUITE_ID & 0xff), utf8("DERIVEKEY"));
const COMMIT_INFO = utf8("COMMITKEY");

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export interface EncryptedDataKey {
  readonly providerId: string;
  readonly providerInfo: Bytes;
  readonly ciphertext: Bytes;
}

export interface MessageHeader {
  readonly messageId: Bytes;
  readonly storedContext: Record<string, string>;
  readonly dataKey: EncryptedDataKey;
  readonly contentType: number;
  readonly frameLength: number;
  readonly commitment: Bytes;
  /** The bytes the header tag covers (before the required context). */
  readonly body: Bytes;
  readonly tag: Bytes;
  /** Where the body starts. */
  readonly end: number;
}

/** Thrown for any message that is not exactly what this format allows, or that does not authenticate. */
export class MessageError extends Error {
  constructor(readonly reason: string) {
    super(`envelope refused (${reason})`);
    this.name = "MessageError";
  }
}

export interface DerivedKeys {
  readonly contentKey: CryptoKey;
  readonly commitment: Bytes;
}

/** The content key (non-extractable) and the commitment, from a data key and message id. */
export async function deriveKeys(dataKey: Uint8Array<ArrayBuffer>, messageId: Uint8Array<ArrayBuffer>): Promise<DerivedKeys> {
  if (dataKey.length !== KEY_BYTES || messageId.length !== MESSAGE_ID_BYTES) {
    throw new RangeError("data key and message id are 32 bytes each");
  }
  const base = await subtle().importKey("raw", dataKey, "HKDF", false, ["deriveKey", "deriveBits"]);
  const [contentKey, commitment] = await Promise.all([
    subtle().deriveKey({ name: "HKDF", hash: "SHA-512", salt: messageId, info: DERIVE_INFO }, base, { name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ]),
    subtle().deriveBits({ name: "HKDF", hash: "SHA-512", salt: messageId, info: COMMIT_INFO }, base, 256),
  ]);
  return { contentKey, commitment: new Uint8Array(commitment) };
}

export function serializeHeaderBody(header: {
  messageId: Uint8Array;
  storedContext: EncryptionContext;
  dataKey: EncryptedDataKey;
  frameLength: number;
  commitment: Uint8Array;
}): Bytes {
  return new ByteWriter()
    .u8(MESSAGE_FORMAT)
    .u16(SUITE_ID)
    .bytes(header.messageId)
    .short(serializeContext(header.storedContext))
    .u16(1)
    .short(utf8(header.dataKey.providerId))
    .short(header.dataKey.providerInfo)
    .short(header.dataKey.ciphertext)
    .u8(FRAMED)
    .u32(header.frameLength)
    .bytes(header.commitment)
    .finish();
}

/** The header authentication tag over the header body and the required context. */
export async function headerTag(contentKey: CryptoKey, body: Uint8Array, requiredContext: EncryptionContext): Promise<Bytes> {
  const sealed = await subtle().encrypt(
    { name: "AES-GCM", iv: new Uint8Array(IV_BYTES), additionalData: concat(body, serializeContext(requiredContext)), tagLength: 128 },
    contentKey,
    new Uint8Array(0),
  );
  return new Uint8Array(sealed);
}

function frameIv(sequence: number): Bytes {
  const iv = new Uint8Array(IV_BYTES);
  new DataView(iv.buffer).setUint32(IV_BYTES - 4, sequence);
  return iv;
}

function frameAad(messageId: Uint8Array, content: Uint8Array, sequence: number, length: number): Bytes {
  return new ByteWriter().bytes(messageId).bytes(content).u32(sequence).u64(length).finish();
}

/** Regular frames while a whole frame is left, then a final frame shorter than a frame (maybe empty). */
export async function encryptFrames(contentKey: CryptoKey, messageId: Uint8Array, plaintext: Uint8Array<ArrayBuffer>, frameLength: number): Promise<Bytes> {
  const regular = Math.floor(plaintext.length / frameLength);
  const jobs: Promise<Bytes>[] = [];
  for (let index = 0; index <= regular; index += 1) {
    const sequence = index + 1;
    const final = index === regular;
    const chunk = plaintext.subarray(index * frameLength, final ? plaintext.length : (index + 1) * frameLength);
    const iv = frameIv(sequence);
    const aad = frameAad(messageId, final ? FINAL_FRAME_STRING : FRAME_STRING, sequence, chunk.length);
    jobs.push(
      subtle()
        .encrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, contentKey, chunk)
        .then((sealed) => {
          const writer = new ByteWriter();
          if (final) {
            writer.u32(FINAL_FRAME).u32(sequence).bytes(iv).u32(chunk.length);
          } else {
            writer.u32(sequence).bytes(iv);
          }
          return writer.bytes(new Uint8Array(sealed)).finish();
        }),
    );
  }
  return concat(...(await Promise.all(jobs)));
}

export interface SealInput {
  readonly plaintext: Uint8Array<ArrayBuffer>;
  readonly dataKey: Uint8Array<ArrayBuffer>;
  readonly messageId: Uint8Array<ArrayBuffer>;
  readonly storedContext: EncryptionContext;
  readonly requiredContext: EncryptionContext;
  readonly encryptedDataKey: EncryptedDataKey;
  readonly frameLength?: number;
}

/** Encrypt one message. The caller wraps the data key into `encryptedDataKey`. */
export async function encryptMessage(input: SealInput): Promise<Bytes> {
  const frameLength = input.frameLength ?? DEFAULT_FRAME_LENGTH;
  if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > MAX_FRAME_LENGTH) {
    throw new RangeError("frame length must be 1..524288");
  }
  const { contentKey, commitment } = await deriveKeys(input.dataKey, input.messageId);
  const body = serializeHeaderBody({
    messageId: input.messageId,
    storedContext: input.storedContext,
    dataKey: input.encryptedDataKey,
    frameLength,
    commitment,
  });
  const [tag, frames] = await Promise.all([
    headerTag(contentKey, body, input.requiredContext),
    encryptFrames(contentKey, input.messageId, input.plaintext, frameLength),
  ]);
  return concat(body, tag, frames);
}

/** Parse a header of this format (nothing authenticated yet). */
export function parseHeader(message: Uint8Array): MessageHeader {
  try {
    const reader = new ByteReader(message);
    if (reader.u8() !== MESSAGE_FORMAT) {
      throw new MessageError("legacy_format");
    }
    if (reader.u16() !== SUITE_ID) {
      throw new MessageError("unexpected_suite");
    }
    const messageId = reader.bytes(MESSAGE_ID_BYTES);
    const storedContext = parseContext(reader.short());
    if (reader.u16() !== 1) {
      throw new MessageError("data_key_count");
    }
    const providerId = new TextDecoder("utf-8", { fatal: true }).decode(reader.short());
    const dataKey = { providerId, providerInfo: reader.short(), ciphertext: reader.short() };
    const contentType = reader.u8();
    const frameLength = reader.u32();
    if (!(contentType === FRAMED && frameLength > 0 && frameLength <= MAX_FRAME_LENGTH) && !(contentType === NON_FRAMED && frameLength === 0)) {
      throw new MessageError("malformed_envelope");
    }
    const commitment = reader.bytes(KEY_BYTES);
    const body = message.slice(0, reader.offset);
    const tag = reader.bytes(TAG_BYTES);
    return { messageId, storedContext, dataKey, contentType, frameLength, commitment, body, tag, end: reader.offset };
  } catch (error) {
    if (error instanceof MessageError) {
      throw error;
    }
    throw new MessageError("malformed_envelope");
  }
}

async function open(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer>): Promise<Bytes> {
  try {
    return new Uint8Array(await subtle().decrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, key, sealed));
  } catch {
    throw new MessageError("decrypt_failed");
  }
}

interface SealedPart {
  readonly iv: Bytes;
  readonly aad: Bytes;
  readonly sealed: Bytes;
}

/** Every frame (or the single block), parsed before anything is decrypted. */
function bodyParts(header: MessageHeader, reader: ByteReader): SealedPart[] {
  const jobs: SealedPart[] = [];
  if (header.contentType === NON_FRAMED) {
    const iv = reader.bytes(IV_BYTES);
    const length = reader.u64();
    const sealed = reader.bytes(length + TAG_BYTES);
    jobs.push({ iv, aad: frameAad(header.messageId, SINGLE_BLOCK_STRING, 1, length), sealed });
    return jobs;
  }
  for (let expected = 1; ; expected += 1) {
    const marker = reader.u32();
    const final = marker === FINAL_FRAME;
    const sequence = final ? reader.u32() : marker;
    if (sequence !== expected) {
      throw new MessageError("malformed_envelope");
    }
    const iv = reader.bytes(IV_BYTES);
    if (!constantTimeEqual(iv, frameIv(sequence))) {
      throw new MessageError("malformed_envelope");
    }
    const length = final ? reader.u32() : header.frameLength;
    if (length > header.frameLength) {
      throw new MessageError("malformed_envelope");
    }
    const sealed = reader.bytes(length + TAG_BYTES);
    jobs.push({ iv, aad: frameAad(header.messageId, final ? FINAL_FRAME_STRING : FRAME_STRING, sequence, length), sealed });
    if (final) {
      return jobs;
    }
  }
}

/**
 * Decrypt one whole message: key commitment, header tag (with `requiredContext`), every frame.
 * `dataKey` is the unwrapped data key; the caller has checked the header's claims.
 */
export async function decryptMessage(message: Uint8Array, header: MessageHeader, dataKey: Uint8Array<ArrayBuffer>, requiredContext: EncryptionContext): Promise<Bytes> {
  const { contentKey, commitment } = await deriveKeys(dataKey, header.messageId);
  if (!constantTimeEqual(commitment, header.commitment)) {
    throw new MessageError("decrypt_failed");
  }
  const reader = new ByteReader(message);
  reader.offset = header.end;
  let parts: SealedPart[];
  try {
    parts = bodyParts(header, reader);
  } catch (error) {
    throw error instanceof MessageError ? error : new MessageError("malformed_envelope");
  }
  if (reader.remaining !== 0) {
    throw new MessageError("malformed_envelope");
  }
  const headerCheck = open(contentKey, new Uint8Array(IV_BYTES), concat(header.body, serializeContext(requiredContext)), header.tag);
  const [, ...plaintexts] = await Promise.all([headerCheck, ...parts.map((part) => open(contentKey, part.iv, part.aad, part.sealed))]);
  return concat(...plaintexts);
}
