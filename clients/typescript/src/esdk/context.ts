/**
 * The AWS Encryption SDK's serialised encryption context: a 2-byte pair count, then the pairs
 * sorted by key bytes, each key and value as a 2-byte length and UTF-8. Empty context: no bytes.
 */
import { ByteReader, ByteWriter, fromUtf8, utf8, type Bytes } from "../bytes.js";

export type EncryptionContext = Readonly<Record<string, string>>;

function compareBytes(first: Uint8Array, second: Uint8Array): number {
  const length = Math.min(first.length, second.length);
  for (let index = 0; index < length; index += 1) {
    const difference = (first[index] ?? 0) - (second[index] ?? 0);
    if (difference !== 0) {
      return difference;
    }
  }
  return first.length - second.length;
}

export function serializeContext(context: EncryptionContext): Bytes {
  const pairs = Object.entries(context).map(([key, value]) => [utf8(key), utf8(value)] as const);
  if (pairs.length === 0) {
    return new Uint8Array(0);
  }
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  const writer = new ByteWriter().u16(pairs.length);
  for (const [key, value] of pairs) {
    writer.short(key).short(value);
  }
  return writer.finish();
}

export function parseContext(bytes: Uint8Array): Record<string, string> {
  const context: Record<string, string> = {};
  if (bytes.length === 0) {
    return context;
  }
  const reader = new ByteReader(bytes);
  const count = reader.u16();
  for (let index = 0; index < count; index += 1) {
    const key = fromUtf8(reader.short());
    if (Object.hasOwn(context, key)) {
      throw new RangeError("duplicate context key");
    }
    context[key] = fromUtf8(reader.short());
  }
  if (reader.remaining !== 0) {
    throw new RangeError("trailing context bytes");
  }
  return context;
}

/** Exactly the same entries (order does not matter). */
export function sameContext(first: EncryptionContext, second: EncryptionContext): boolean {
  const firstKeys = Object.keys(first);
  return firstKeys.length === Object.keys(second).length && firstKeys.every((key) => Object.hasOwn(second, key) && second[key] === first[key]);
}
