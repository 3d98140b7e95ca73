/**
 * Streamed answers (docs/protocol.md, "Streamed answers"): one AES-256-GCM chunk per server-sent
 * event, in order, ending in one final event. WebCrypto only; no I/O here (chat-stream.ts reads the
 * response body and feeds it to a `StreamJudge`).
 *
 *   okm   = HKDF-SHA256(ikm = resp_key, salt = UTF-8("secure-ai-stream-v1:" + req_id),
 *                       info = UTF-8("gateway-to-client"), L = 44)
 *   key   = okm[0:32]        base_nonce = okm[32:44]
 *   nonce = base_nonce XOR seq (12 bytes, big-endian)
 *   aad   = u16be(len(req_id)) ‖ req_id ‖ u64be(seq) ‖ u8(final)
 *
 * The reference is packages/protocol/src/secure_ai_protocol/stream.py (`parse_events`,
 * `StreamOpener`) and the Python SDK's `StreamJudge` (secure_ai_client/streams.py): the same
 * refusals, with the same reasons, checked against docs/vectors/stream-vectors.json.
 */
import { ByteWriter, fromBase64, fromUtf8, utf8, type Bytes } from "./bytes.js";
import { StreamBrokenError } from "./errors.js";
import type { StreamFinal, Usage, Verdict } from "./types.js";

export const STREAM_CONTENT_TYPE = "text/event-stream";
export const STREAM_SALT_PREFIX = "secure-ai-stream-v1:";
export const STREAM_DIRECTION_LABEL = "gateway-to-client";
export const MAX_SEQUENCE = 2 ** 32 - 1;
/** One event's decoded ciphertext at most, before its 16-byte tag. */
export const MAX_EVENT_CIPHERTEXT_BYTES = 256 * 1024;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAX_DATA_CHARS = Math.floor(((MAX_EVENT_CIPHERTEXT_BYTES + TAG_BYTES) * 4) / 3) + 4;
/** The longest line a valid event has: `data: ` and the largest data; any longer line is refused. */
export const MAX_LINE_BYTES = "data: ".length + MAX_DATA_CHARS;
const MAX_DELTA_CHARS = 64 * 1024;
const FIELD = /^(id|event|data): ?(.*)$/s;
const SEQUENCE = /^(0|[1-9][0-9]{0,9})$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const FINAL_FIELDS = new Set(["delta", "req_id", "verdict", "usage", "finish_reason"]);
const DECISIONS = new Set(["allow", "redact", "block"]);

/** How much of a streamed answer the client reads before it gives up on it (the Python SDK's defaults). */
export interface StreamLimits {
  /** Events at most (`stream_too_large` beyond). */
  readonly maxEvents: number;
  /** Bytes of body at most (`stream_too_large` beyond). */
  readonly maxBytes: number;
  /** Milliseconds for the whole body (`NetworkError("stream_timeout")` beyond). */
  readonly timeoutMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxEvents: 20_000, maxBytes: 8 * 1024 * 1024, timeoutMs: 300_000 };

/** One server-sent event of an answer stream, as sent. */
export interface StreamEvent {
  readonly seq: number;
  readonly final: boolean;
  readonly ciphertext: Bytes;
}

/** The HKDF salt of request `reqId`'s stream. */
export function streamSalt(reqId: string): Bytes {
  return utf8(STREAM_SALT_PREFIX + reqId);
}

/**
 * The stream's AES-256-GCM key bytes and base nonce, from the request's 32-byte `resp_key`. Only
 * `StreamOpener.create` (which imports the key non-extractable and zeroes these bytes) and the
 * vector tests call it.
 */
export async function streamKeyMaterial(respKey: Uint8Array<ArrayBuffer>, reqId: string): Promise<{ key: Bytes; baseNonce: Bytes }> {
  if (respKey.length !== KEY_BYTES) {
    throw new RangeError("resp_key is 32 bytes");
  }
  const subtle = globalThis.crypto.subtle;
  const ikm = await subtle.importKey("raw", respKey, "HKDF", false, ["deriveBits"]);
  const okm = new Uint8Array(
    await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: streamSalt(reqId), info: utf8(STREAM_DIRECTION_LABEL) }, ikm, (KEY_BYTES + NONCE_BYTES) * 8),
  );
  return { key: okm.subarray(0, KEY_BYTES), baseNonce: okm.slice(KEY_BYTES) };
}

/** The nonce of chunk `seq`: the base nonce XOR the sequence number (12 bytes, big-endian). */
export function chunkNonce(baseNonce: Uint8Array, seq: number): Bytes {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQUENCE) {
    throw new RangeError("sequence number out of range");
  }
  const nonce = Uint8Array.from(baseNonce);
  const view = new DataView(nonce.buffer);
  view.setUint32(8, view.getUint32(8) ^ seq);
  return nonce;
}

/** The additional data of chunk `seq`: request id, position, and whether it ends the stream. */
export function chunkAad(reqId: string, seq: number, final: boolean): Bytes {
  return new ByteWriter().short(utf8(reqId)).u64(seq).u8(final ? 1 : 0).finish();
}

function broken(reason: string): StreamBrokenError {
  return new StreamBrokenError(reason);
}

/**
 * The event made of `fields` (each of `id`, `event`, `data` exactly once), or `stream_event`: `event`
 * is `chunk` or `final`, `id` a canonical decimal up to 2³²−1, `data` unpadded base64url of at
 * least a tag and at most MAX_EVENT_CIPHERTEXT_BYTES plus the tag.
 */
export function streamEvent(fields: ReadonlyMap<string, string>): StreamEvent {
  const id = fields.get("id");
  const kind = fields.get("event");
  const data = fields.get("data");
  if (fields.size !== 3 || id === undefined || data === undefined || (kind !== "chunk" && kind !== "final")) {
    throw broken("stream_event");
  }
  if (!SEQUENCE.test(id) || Number(id) > MAX_SEQUENCE || data.length > MAX_DATA_CHARS || !BASE64URL.test(data)) {
    throw broken("stream_event");
  }
  let ciphertext: Bytes;
  try {
    // Canonical only: the gateway writes standard base64url and strips the padding.
    ciphertext = fromBase64(data.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (data.length % 4)) % 4));
  } catch {
    throw broken("stream_event");
  }
  if (ciphertext.length < TAG_BYTES) {
    throw broken("stream_event");
  }
  return { seq: Number(id), final: kind === "final", ciphertext };
}

/**
 * Opens an answer's events in order, refusing anything out of place (`StreamOpener` of
 * secure_ai_protocol.stream): `stream_after_final`, `stream_order`, `stream_event` (overlong),
 * `stream_tampered`; `finish()` refuses a stream whose final event never came (`stream_truncated`).
 */
export class StreamOpener {
  private next = 0;
  private done = false;

  private constructor(
    private readonly key: CryptoKey,
    private readonly baseNonce: Bytes,
    private readonly reqId: string,
  ) {}

  /** The opener of request `reqId`'s stream; `respKey` is left as it was (the caller zeroes it). */
  static async create(respKey: Uint8Array<ArrayBuffer>, reqId: string): Promise<StreamOpener> {
    const { key, baseNonce } = await streamKeyMaterial(respKey, reqId);
    try {
      const aesKey = await globalThis.crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
      return new StreamOpener(aesKey, baseNonce, reqId);
    } finally {
      key.fill(0);
    }
  }

  /** Whether the final event was opened. */
  get finished(): boolean {
    return this.done;
  }

  /** The plaintext of `event`, the next one of the stream. */
  async open(event: StreamEvent): Promise<Bytes> {
    if (this.done) throw broken("stream_after_final");
    if (event.seq !== this.next) throw broken("stream_order");
    if (event.ciphertext.length > MAX_EVENT_CIPHERTEXT_BYTES + TAG_BYTES) throw broken("stream_event");
    let plaintext: Bytes;
    try {
      plaintext = new Uint8Array(
        await globalThis.crypto.subtle.decrypt(
          { name: "AES-GCM", iv: chunkNonce(this.baseNonce, event.seq), additionalData: chunkAad(this.reqId, event.seq, event.final), tagLength: 128 },
          this.key,
          event.ciphertext,
        ),
      );
    } catch {
      throw broken("stream_tampered");
    }
    this.next += 1;
    this.done = event.final;
    return plaintext;
  }

  /** The transport ended: refuse a stream whose final event never came. */
  finish(): void {
    if (!this.done) throw broken("stream_truncated");
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isDelta(value: unknown): value is string {
  return typeof value === "string" && (value.length <= MAX_DELTA_CHARS || Array.from(value).length <= MAX_DELTA_CHARS);
}

function isCount(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function isUsage(value: unknown): value is Usage | null | undefined {
  return value === undefined || value === null || (isObject(value) && isCount(value["prompt_tokens"]) && isCount(value["completion_tokens"]) && isCount(value["total_tokens"]));
}

function isVerdict(value: unknown): value is Verdict {
  return isObject(value) && DECISIONS.has(value["decision"] as string) && (value["findings"] === undefined || Array.isArray(value["findings"]));
}

/** A chunk's plaintext: `{"delta": text}` and nothing else. */
function chunkDelta(plaintext: Bytes): string {
  const document = parsePayload(plaintext);
  const delta = document["delta"];
  if (Object.keys(document).length !== 1 || !isDelta(delta)) throw broken("malformed_payload");
  return delta;
}

/** The final event's plaintext (wire/stream.py's `StreamFinal`: no other field). */
function finalPayload(plaintext: Bytes): StreamFinal {
  const document = parsePayload(plaintext);
  const { delta, req_id, verdict, usage, finish_reason } = document;
  if (
    !Object.keys(document).every((key) => FINAL_FIELDS.has(key)) ||
    !isDelta(delta) ||
    typeof req_id !== "string" ||
    !isVerdict(verdict) ||
    !isUsage(usage) ||
    !(finish_reason === undefined || finish_reason === null || typeof finish_reason === "string")
  ) {
    throw broken("malformed_payload");
  }
  return { delta, req_id, verdict, usage: usage ?? null, finish_reason: finish_reason ?? null };
}

function parsePayload(plaintext: Bytes): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(fromUtf8(plaintext));
  } catch {
    throw broken("malformed_payload");
  }
  if (!isObject(document)) throw broken("malformed_payload");
  return document;
}

/**
 * The client's side of one answer stream, without I/O: bytes in (any split), released deltas out.
 * `feed` yields each chunk's delta as soon as its event opened (so deltas that opened before a
 * refusal in the same bytes come first, then the refusal is thrown); `end` says the transport ended
 * and returns the final event, whose delta is released only then. Everything the protocol refuses,
 * and a body over the limits, is a StreamBrokenError. After one, the judge refuses everything.
 */
export class StreamJudge {
  private readonly pending: Uint8Array[] = []; // the current line, not yet ended
  private pendingBytes = 0;
  private fields = new Map<string, string>(); // the current event, not yet closed by a blank line
  private received = 0;
  private events = 0;
  private refusal: StreamBrokenError | null = null;
  private result: StreamFinal | null = null;

  constructor(
    private readonly opener: StreamOpener,
    private readonly reqId: string,
    private readonly limits: Pick<StreamLimits, "maxEvents" | "maxBytes"> = DEFAULT_STREAM_LIMITS,
  ) {}

  /** The deltas `data` completes, each yielded once its event opened. */
  async *feed(data: Uint8Array): AsyncGenerator<string, void, undefined> {
    this.check();
    try {
      this.received += data.length;
      if (this.received > this.limits.maxBytes) throw broken("stream_too_large");
      let start = 0;
      for (let end = data.indexOf(0x0a); end >= 0; end = data.indexOf(0x0a, start)) {
        if (this.result !== null) throw broken("stream_after_final");
        const line = this.line(data.subarray(start, end));
        start = end + 1;
        const delta = await this.take(line);
        if (delta) yield delta;
      }
      if (start < data.length) {
        if (this.result !== null) throw broken("stream_after_final");
        this.pending.push(data.slice(start));
        this.pendingBytes += data.length - start;
        if (this.pendingBytes > MAX_LINE_BYTES) throw broken("stream_event");
      }
    } catch (error) {
      if (error instanceof StreamBrokenError) this.refusal = error;
      throw error;
    }
  }

  /** The transport ended: the final event (its delta not yet yielded), unless the stream is incomplete. */
  end(): StreamFinal {
    this.check();
    try {
      // Cut off before the final event opened: mid-line, mid-event or between events. (Nothing can
      // follow the final event: `feed` refuses any byte after it.)
      if (this.result === null) throw broken("stream_truncated");
      return this.result;
    } catch (error) {
      if (error instanceof StreamBrokenError) this.refusal = error;
      throw error;
    }
  }

  private check(): void {
    if (this.refusal !== null) throw this.refusal;
  }

  /** The line ending at `tail` (without its LF; a CR before it is dropped), ASCII only. */
  private line(tail: Uint8Array): string {
    const length = this.pendingBytes + tail.length;
    if (length > MAX_LINE_BYTES) throw broken("stream_event");
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const piece of this.pending) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    bytes.set(tail, offset);
    this.pending.length = 0;
    this.pendingBytes = 0;
    // Checked byte by byte: a decoder would drop a leading byte order mark.
    for (const byte of bytes) {
      if (byte > 0x7f) throw broken("stream_event");
    }
    const text = fromUtf8(bytes);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  }

  /** One line: a field of the current event, a comment (skipped), or the blank line that closes the event. */
  private async take(line: string): Promise<string | null> {
    if (line.startsWith(":")) return null;
    if (line !== "") {
      const match = FIELD.exec(line);
      const name = match?.[1];
      if (name === undefined || this.fields.has(name)) throw broken("stream_event");
      this.fields.set(name, match?.[2] ?? "");
      return null;
    }
    if (this.fields.size === 0) return null;
    const event = streamEvent(this.fields);
    this.fields = new Map();
    this.events += 1;
    if (this.events > this.limits.maxEvents) throw broken("stream_too_large");
    const plaintext = await this.opener.open(event);
    if (!event.final) return chunkDelta(plaintext);
    const final = finalPayload(plaintext);
    // Already bound by the additional data; the payload must agree with it.
    if (final.req_id !== this.reqId) throw broken("req_id_mismatch");
    this.result = final;
    return null;
  }
}
