// Streamed answers: every value of docs/vectors/stream-vectors.json rebuilt, every stream there read
// (intact ones to their deltas, the others refused with the stated reason after the stated deltas),
// under any split of the body; then the SSE parser's strictness and bounds. Pure WebCrypto.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { fromHex, toBase64Url, toHex, utf8 } from "../src/bytes.js";
import { ResponseRejectedError, StreamBrokenError } from "../src/errors.js";
import {
  chunkAad,
  chunkNonce,
  DEFAULT_STREAM_LIMITS,
  MAX_EVENT_CIPHERTEXT_BYTES,
  MAX_LINE_BYTES,
  STREAM_CONTENT_TYPE,
  STREAM_DIRECTION_LABEL,
  STREAM_SALT_PREFIX,
  StreamJudge,
  StreamOpener,
  streamKeyMaterial,
  streamSalt,
  type StreamLimits,
} from "../src/stream.js";
import type { StreamFinal } from "../src/types.js";
import { loadStreamVectors } from "./load-vectors.js";
import { sseEvent, TestStreamSealer } from "./stream-sealer.js";

interface EventVector {
  seq: number;
  event: string;
  plaintext: string;
  plaintext_hex: string;
  nonce_hex: string;
  aad_hex: string;
  ciphertext_hex: string;
  data: string;
  sse: string;
}

interface StreamVector {
  name: string;
  req_id: string;
  salt_hex: string;
  info_hex: string;
  key_hex: string;
  base_nonce_hex: string;
  events: EventVector[];
  body: string;
  expected_deltas: string[];
  expected_text: string;
  body_with_keep_alives: string;
}

interface RejectionVector {
  name: string;
  req_id: string;
  body: string;
  expected_error: string;
  expected_deltas_before_error: string[];
}

const vectors = loadStreamVectors() as {
  wire_format: { salt_prefix: string; direction_label: string; content_type: string };
  resp_key_hex: string;
  streams: StreamVector[];
  rejections: RejectionVector[];
};
const RESP_KEY = fromHex(vectors.resp_key_hex);
const ALLOWED = vectors.streams[0]!;
const BLOCKED = vectors.streams[1]!;
const REQ_ID = ALLOWED.req_id;
const BODY = ALLOWED.body;

interface Read {
  deltas: string[];
  error: string | null;
  final: StreamFinal | null;
}

/** The pieces of `bytes` cut at `cuts` (sorted offsets). */
function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const at of [...cuts, bytes.length]) {
    pieces.push(bytes.slice(start, at));
    start = at;
  }
  return pieces;
}

function bytesOf(body: string | Uint8Array): Uint8Array {
  return typeof body === "string" ? utf8(body) : body;
}

/** What a client makes of `pieces`: the deltas it yields, then its refusal's reason (or the final event). */
async function read(pieces: readonly Uint8Array[], options: { reqId?: string; respKey?: Uint8Array<ArrayBuffer>; limits?: Partial<StreamLimits> } = {}): Promise<Read> {
  const reqId = options.reqId ?? REQ_ID;
  const judge = new StreamJudge(await StreamOpener.create(options.respKey ?? RESP_KEY, reqId), reqId, { ...DEFAULT_STREAM_LIMITS, ...options.limits });
  const deltas: string[] = [];
  try {
    for (const piece of pieces) {
      for await (const delta of judge.feed(piece)) deltas.push(delta);
    }
    const final = judge.end();
    if (final.delta !== "") deltas.push(final.delta);
    return { deltas, error: null, final };
  } catch (error) {
    assert.ok(error instanceof StreamBrokenError, String(error));
    assert.ok(error instanceof ResponseRejectedError);
    return { deltas, error: error.reason, final: null };
  }
}

const whole = (body: string | Uint8Array, options?: Parameters<typeof read>[1]) => read([bytesOf(body)], options);
const byteByByte = (body: string | Uint8Array, options?: Parameters<typeof read>[1]) => {
  const bytes = bytesOf(body);
  return read(cut(bytes, Array.from({ length: bytes.length - 1 }, (_, index) => index + 1)), options);
};

/** A small deterministic generator (xorshift32), so that a failing split can be replayed. */
function splits(length: number, count: number, seed: number): number[][] {
  let state = seed;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => [...new Set(Array.from({ length: 1 + Math.floor(random() * 6) }, () => 1 + Math.floor(random() * (length - 1))))].sort((a, b) => a - b));
}

describe("stream vectors", () => {
  it("states the format's constants as the client uses them", () => {
    assert.equal(vectors.wire_format.salt_prefix, STREAM_SALT_PREFIX);
    assert.equal(vectors.wire_format.direction_label, STREAM_DIRECTION_LABEL);
    assert.equal(vectors.wire_format.content_type, STREAM_CONTENT_TYPE);
  });

  for (const vector of vectors.streams) {
    it(`${vector.name}: derives the salt, info, key and base nonce, and each event's nonce, AAD, ciphertext, data and SSE text`, async () => {
      assert.equal(toHex(streamSalt(vector.req_id)), vector.salt_hex);
      assert.equal(toHex(utf8(STREAM_DIRECTION_LABEL)), vector.info_hex);
      const { key, baseNonce } = await streamKeyMaterial(RESP_KEY, vector.req_id);
      assert.equal(toHex(key), vector.key_hex);
      assert.equal(toHex(baseNonce), vector.base_nonce_hex);
      const sealer = await TestStreamSealer.create(RESP_KEY, vector.req_id);
      for (const [seq, event] of vector.events.entries()) {
        const final = seq === vector.events.length - 1;
        assert.deepEqual([event.seq, event.event], [seq, final ? "final" : "chunk"]);
        assert.equal(toHex(utf8(event.plaintext)), event.plaintext_hex);
        assert.equal(toHex(chunkNonce(baseNonce, seq)), event.nonce_hex);
        assert.equal(toHex(chunkAad(vector.req_id, seq, final)), event.aad_hex);
        const ciphertext = await sealer.encrypt(fromHex(event.plaintext_hex), seq, final);
        assert.equal(toHex(ciphertext), event.ciphertext_hex);
        assert.equal(toBase64Url(ciphertext), event.data);
        assert.equal(sseEvent(seq, event.event, ciphertext), event.sse);
      }
      assert.equal(vector.events.map((event) => event.sse).join(""), vector.body);
    });

    it(`${vector.name}: opens to its deltas and final event, whole, a byte at a time and under random splits`, async () => {
      const expected = vector.events.at(-1)!.plaintext;
      const check = (result: Read) => {
        assert.deepEqual(result.deltas, vector.expected_deltas);
        assert.equal(result.error, null);
        assert.deepEqual(result.final, JSON.parse(expected));
      };
      check(await whole(vector.body, { reqId: vector.req_id }));
      check(await byteByByte(vector.body, { reqId: vector.req_id }));
      // The gateway's keep-alive comments, before every event, change nothing.
      check(await byteByByte(vector.body_with_keep_alives, { reqId: vector.req_id }));
      const bytes = utf8(vector.body);
      for (const cuts of splits(bytes.length, 40, 0x5eed + vector.name.length)) {
        check(await read(cut(bytes, cuts), { reqId: vector.req_id }));
      }
      assert.equal(vector.expected_deltas.join(""), vector.expected_text);
      const final = JSON.parse(expected) as StreamFinal;
      assert.deepEqual([final.verdict.decision, final.finish_reason], vector.name === "blocked_mid_stream" ? ["block", "content_filter"] : ["allow", "stop"]);
    });
  }

  it("opens an intact stream only for its own request and key", async () => {
    assert.deepEqual(await whole(BODY, { reqId: BLOCKED.req_id }), { deltas: [], error: "stream_tampered", final: null });
    assert.deepEqual(await whole(BODY, { respKey: new Uint8Array(32) }), { deltas: [], error: "stream_tampered", final: null });
  });

  it("opens events one by one with StreamOpener, and nothing after the final one", async () => {
    const opener = await StreamOpener.create(RESP_KEY, REQ_ID);
    const sealer = await TestStreamSealer.create(RESP_KEY, REQ_ID);
    const [first, , , , last] = ALLOWED.events.map((event) => ({ seq: event.seq, final: event.event === "final", ciphertext: fromHex(event.ciphertext_hex) }));
    await assert.rejects(opener.open(last!), { reason: "stream_order" });
    assert.equal(toHex(await opener.open(first!)), ALLOWED.events[0]!.plaintext_hex);
    assert.throws(() => {
      opener.finish();
    }, { reason: "stream_truncated" });
    await assert.rejects(opener.open({ seq: 1, final: false, ciphertext: await sealer.encrypt("{}", 1, true) }), { reason: "stream_tampered" });
    await opener.open({ seq: 1, final: true, ciphertext: await sealer.encrypt("{}", 1, true) });
    assert.equal(opener.finished, true);
    opener.finish();
    await assert.rejects(opener.open({ seq: 2, final: false, ciphertext: await sealer.encrypt("{}", 2, false) }), { reason: "stream_after_final" });
  });

  it("names every reason the protocol gives", () => {
    const reasons = new Set(vectors.rejections.map((vector) => vector.expected_error));
    assert.deepEqual([...reasons].sort(), ["req_id_mismatch", "stream_after_final", "stream_order", "stream_tampered", "stream_truncated"]);
  });

  for (const vector of vectors.rejections) {
    it(`refuses ${vector.name} (${vector.expected_error}) after exactly its deltas, whole and a byte at a time`, async () => {
      const expected = { deltas: vector.expected_deltas_before_error, error: vector.expected_error, final: null };
      assert.deepEqual(await whole(vector.body, { reqId: vector.req_id }), expected);
      assert.deepEqual(await byteByByte(vector.body, { reqId: vector.req_id }), expected);
    });
  }
});

/** The allowed stream's events as line lists, to take apart. */
function events(body = BODY): string[][] {
  return body
    .split("\n\n")
    .filter((event) => event !== "")
    .map((event) => event.split("\n"));
}

function join(parts: readonly (readonly string[])[], end = "\n"): string {
  return parts.map((lines) => lines.map((line) => line + end).join("") + end).join("");
}

describe("the SSE reader", () => {
  it("accepts CRLF line ends, comments anywhere in the stream, extra blank lines and fields in any order", async () => {
    const parts = events();
    const reordered = parts.map(([id, kind, data]) => [":keep-alive", data ?? "", id ?? "", ": note", kind ?? ""]);
    for (const body of [join(parts, "\r\n"), `: hello\n\n\n${join(reordered)}`, join(parts).replace("\n\nid: 2", "\n\n\n\n: ping\n\nid: 2")]) {
      const result = await whole(body);
      assert.deepEqual([result.deltas, result.error], [ALLOWED.expected_deltas, null]);
    }
    const [id, kind, data] = parts[0] ?? [];
    const unspaced = [[id?.replace(": ", ":") ?? "", kind?.replace(": ", ":") ?? "", data?.replace(": ", ":") ?? ""], ...parts.slice(1)];
    assert.equal((await whole(join(unspaced))).error, null);
  });

  it("refuses a malformed event as stream_event, before opening it", async () => {
    const [first = [], ...rest] = events();
    const [id = "", kind = "", data = ""] = first;
    const malformed: string[][] = [
      [id, kind, data, "retry: 5"],
      [id, kind, data, data],
      [id, kind, data, id],
      [id, data],
      [kind, data],
      [id, kind],
      [id, "event: other", data],
      [id, "event:  chunk", data],
      ["id: 00", kind, data],
      ["id: -0", kind, data],
      ["id: 4294967296", kind, data],
      ["id:  0", kind, data],
      ["id", kind, data],
      [id, kind, `${data}=`],
      [id, kind, `${data.slice(0, -1)}+`],
      [id, kind, `${data.slice(0, 10)} ${data.slice(10)}`],
      [id, kind, "data: AAAAAAAAAAAAAAAAAAAA"],
      [id, kind, "data: A"],
      [id, kind, "Data: AAAA"],
      [id, kind, `${data.slice(0, 10)}\r${data.slice(10)}`],
      [id, `${kind}\r\r`, data],
    ];
    for (const lines of malformed) {
      assert.deepEqual(await whole(join([lines, ...rest])), { deltas: [], error: "stream_event", final: null }, lines.join(" | "));
    }
  });

  it("refuses any byte outside ASCII, a byte order mark, and a UTF-8 character split across reads", async () => {
    const bytes = utf8(BODY);
    const at = BODY.indexOf("event:");
    for (const inserted of [utf8("é"), Uint8Array.of(0xef, 0xbb, 0xbf), Uint8Array.of(0x80)]) {
      const body = new Uint8Array([...bytes.subarray(0, at), ...inserted, ...bytes.subarray(at)]);
      const expected = { deltas: [], error: "stream_event", final: null };
      assert.deepEqual(await whole(body), expected);
      assert.deepEqual(await read(cut(body, [at + 1])), expected);
      assert.deepEqual(await byteByByte(body), expected);
    }
  });

  it("bounds a line: the largest event passes the parser, one byte more is refused, and so is an endless line", async () => {
    const sealer = await TestStreamSealer.create(RESP_KEY, REQ_ID);
    // A chunk of exactly the largest ciphertext: parsed and opened, its payload then over the delta limit.
    const largest = await sealer.encrypt(JSON.stringify({ delta: "a".repeat(MAX_EVENT_CIPHERTEXT_BYTES - 12) }), 0, false);
    assert.equal(largest.length, MAX_EVENT_CIPHERTEXT_BYTES + 16);
    assert.ok(`data: ${toBase64Url(largest)}`.length <= MAX_LINE_BYTES);
    assert.equal((await whole(sseEvent(0, "chunk", largest))).error, "malformed_payload");
    const over = await sealer.encrypt(JSON.stringify({ delta: "a".repeat(MAX_EVENT_CIPHERTEXT_BYTES - 11) }), 0, false);
    assert.equal((await whole(sseEvent(0, "chunk", over))).error, "stream_event");
    // A line that never ends is refused once it passes the bound, whatever the reads.
    const endless = utf8(`data: ${"A".repeat(MAX_LINE_BYTES)}`);
    assert.deepEqual(await read(cut(endless, [100, 70_000, 300_000])), { deltas: [], error: "stream_event", final: null });
    assert.equal((await whole(`:${"x".repeat(MAX_LINE_BYTES)}\n\n${BODY}`)).error, "stream_event");
  });

  it("refuses a body over the event or byte limits as stream_too_large", async () => {
    assert.deepEqual(await whole(BODY, { limits: { maxEvents: 3 } }), { deltas: ALLOWED.expected_deltas.slice(0, 3), error: "stream_too_large", final: null });
    assert.equal((await whole(BODY, { limits: { maxEvents: 5 } })).error, null);
    assert.equal((await byteByByte(BODY, { limits: { maxBytes: utf8(BODY).length - 1 } })).error, "stream_too_large");
    assert.equal((await whole(BODY, { limits: { maxBytes: utf8(BODY).length } })).error, null);
  });

  it("refuses a body that ends early or goes on after the final event", async () => {
    for (const body of ["", ": keep-alive\n\n", "\n\n", BODY.slice(0, -1), BODY.slice(0, -2), `${BODY.slice(0, BODY.lastIndexOf("id:"))}id: 4\n`]) {
      assert.equal((await whole(body)).error, "stream_truncated", JSON.stringify(body.slice(-30)));
    }
    for (const tail of ["\n", ": keep-alive\n", ":", " "]) {
      assert.deepEqual(await whole(BODY + tail), { deltas: ALLOWED.expected_deltas, error: "stream_after_final", final: null });
    }
  });

  it("refuses an event whose plaintext is not the documented JSON as malformed_payload", async () => {
    const cases: [string, string][] = [
      ['{"delta":"x","extra":1}', "chunk"],
      ['{"delta":5}', "chunk"],
      ["[]", "chunk"],
      ["not json", "chunk"],
      [`{"delta":"","req_id":"${REQ_ID}"}`, "final"],
      [`{"delta":"","req_id":"${REQ_ID}","verdict":{"decision":"maybe"}}`, "final"],
      [`{"delta":"","req_id":"${REQ_ID}","verdict":{"decision":"allow"},"usage":{"total_tokens":-1}}`, "final"],
      [`{"delta":"","req_id":"${REQ_ID}","verdict":{"decision":"allow"},"text":"x"}`, "final"],
    ];
    for (const [plaintext, kind] of cases) {
      const sealer = await TestStreamSealer.create(RESP_KEY, REQ_ID);
      const body = await sealer.seal(plaintext, kind === "final");
      assert.deepEqual(await whole(body), { deltas: [], error: "malformed_payload", final: null }, plaintext);
    }
    const sealer = await TestStreamSealer.create(RESP_KEY, REQ_ID);
    const minimal = await sealer.seal(`{"delta":"ok","req_id":"${REQ_ID}","verdict":{"decision":"allow"}}`, true);
    assert.deepEqual(await whole(minimal), { deltas: ["ok"], error: null, final: { delta: "ok", req_id: REQ_ID, verdict: { decision: "allow" }, usage: null, finish_reason: null } });
  });

  it("keeps refusing once it refused, and releases the final event's delta only when the body ended", async () => {
    const judge = new StreamJudge(await StreamOpener.create(RESP_KEY, REQ_ID), REQ_ID);
    const [first = "", second = ""] = vectors.rejections.find((vector) => vector.name === "tampered")!.body.split(/(?<=\n\n)/);
    assert.deepEqual(await collect(judge.feed(utf8(first))), [ALLOWED.expected_deltas[0]]);
    await assert.rejects(collect(judge.feed(utf8(second))), { reason: "stream_tampered" });
    await assert.rejects(collect(judge.feed(utf8(BODY))), { reason: "stream_tampered" });
    assert.throws(() => judge.end(), { reason: "stream_tampered" });

    const sealer = await TestStreamSealer.create(RESP_KEY, REQ_ID);
    const finalWithText = await sealer.seal(`{"delta":"last","req_id":"${REQ_ID}","verdict":{"decision":"allow"}}`, true);
    const held = new StreamJudge(await StreamOpener.create(RESP_KEY, REQ_ID), REQ_ID);
    assert.deepEqual(await collect(held.feed(utf8(finalWithText))), []);
    assert.equal(held.end().delta, "last");
  });
});

async function collect(deltas: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const delta of deltas) out.push(delta);
  return out;
}
