/** Byte helpers over Uint8Array only: no Buffer, so the same code runs in browsers and Node. */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map<string, number>(Array.from({ length: B64.length }, (_, index) => [B64.charAt(index), index]));

export type Bytes = Uint8Array<ArrayBuffer>;

export function utf8(text: string): Bytes {
  return encoder.encode(text);
}

/** UTF-8 decode, refusing invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function concat(...parts: readonly Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index] ?? 0;
    const b = bytes[index + 1];
    const c = bytes[index + 2];
    const chunk = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64.charAt(chunk >> 18) + B64.charAt((chunk >> 12) & 63);
    out += b === undefined ? "=" : B64.charAt((chunk >> 6) & 63);
    out += c === undefined ? "=" : B64.charAt(chunk & 63);
  }
  return out;
}

/** Strict standard base64 (padding required, no whitespace); throws TypeError otherwise. */
export function fromBase64(text: string): Bytes {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new TypeError("not standard base64");
  }
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let written = 0;
  for (let index = 0; index < text.length; index += 4) {
    let chunk = 0;
    for (let offset = 0; offset < 4; offset += 1) {
      const character = text.charAt(index + offset);
      chunk = (chunk << 6) | (character === "=" ? 0 : (B64_INDEX.get(character) ?? 0));
    }
    for (const shift of [16, 8, 0]) {
      if (written < out.length) {
        out[written] = (chunk >> shift) & 0xff;
        written += 1;
      }
    }
  }
  if (toBase64(out) !== text) {
    throw new TypeError("not canonical base64");
  }
  return out;
}

/** base64url without padding (RFC 4648 §5), as the nonce uses. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text: string): Bytes {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("not hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let index = 0; index < out.length; index += 1) {
    out[index] = Number.parseInt(text.slice(index * 2, index * 2 + 2), 16);
  }
  return out;
}

export function randomBytes(length: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/** Equality that does not stop at the first differing byte. */
export function constantTimeEqual(first: Uint8Array, second: Uint8Array): boolean {
  if (first.length !== second.length) {
    return false;
  }
  let difference = 0;
  for (let index = 0; index < first.length; index += 1) {
    difference |= (first[index] ?? 0) ^ (second[index] ?? 0);
  }
  return difference === 0;
}

/** A big-endian writer for the ESDK's length-prefixed fields. */
export class ByteWriter {
  private readonly parts: Uint8Array[] = [];

  u8(value: number): this {
    this.parts.push(Uint8Array.of(value & 0xff));
    return this;
  }

  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new RangeError("value does not fit in 2 bytes");
    }
    this.parts.push(Uint8Array.of(value >> 8, value & 0xff));
    return this;
  }

  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    this.parts.push(out);
    return this;
  }

  u64(value: number): this {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    this.parts.push(out);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.parts.push(value);
    return this;
  }

  /** A 2-byte length, then the bytes. */
  short(value: Uint8Array): this {
    return this.u16(value.length).bytes(value);
  }

  finish(): Bytes {
    return concat(...this.parts);
  }
}

/** A big-endian reader that throws RangeError past the end. */
export class ByteReader {
  offset = 0;

  constructor(readonly data: Uint8Array) {}

  private take(length: number): Uint8Array {
    if (this.offset + length > this.data.length) {
      throw new RangeError("truncated");
    }
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0] ?? 0;
  }

  u16(): number {
    const bytes = this.take(2);
    return ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
  }

  u32(): number {
    const bytes = this.take(4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  }

  u64(): number {
    const bytes = this.take(8);
    const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError("length too large");
    }
    return Number(value);
  }

  bytes(length: number): Bytes {
    return this.take(length).slice();
  }

  short(): Bytes {
    return this.bytes(this.u16());
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }
}
