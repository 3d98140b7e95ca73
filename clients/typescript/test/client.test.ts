// The client against a fake gateway in-process (a fetch function): enrollment, renewal, a sealed
// completion both ways, a streamed one, and the typed errors. Pure WebCrypto and fetch types:
// runnable in a browser.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ChatStream } from "../src/chat-stream.js";
import { SecureAIClient, type SecureAIClientOptions } from "../src/client.js";
import { fromBase64, fromUtf8, randomBytes, toBase64, utf8 } from "../src/bytes.js";
import { BlockedError, DeviceLimitError, ForbiddenError, NetworkError, QuotaExceededError, ResponseRejectedError, StreamBrokenError, UnavailableError, BadRequestError } from "../src/errors.js";
import { decryptMessage, encryptMessage, parseHeader } from "../src/esdk/message.js";
import { MemoryKeyStore } from "../src/key-store.js";
import { importResponseKey, wrapResponseDataKey } from "../src/response-envelope.js";
import { loadVectors } from "./load-vectors.js";
import { TestStreamSealer } from "./stream-sealer.js";

const vectors = loadVectors();
const BASE = "https://gw.example.com/prod";
const DEVICE = "dev-abcdefghijklmnopqrstuvwxyz";
const NOW = 1_767_225_600;

interface Seen {
  path: string;
  headers: Headers;
  body: Uint8Array;
}

function credentials(version: number, issuedAt: number): Record<string, unknown> {
  return {
    app_id: "demo-app",
    device_id: DEVICE,
    key_id: `${DEVICE}.${version}`,
    secret: toBase64(new Uint8Array(32).fill(version)),
    issued_at: issuedAt,
    renew_after: issuedAt + 3600,
    expires_at: issuedAt + 7200,
    signature_tag: "secure-ai-v1",
  };
}

function json(status: number, document: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(document), { status, headers: { "content-type": "application/json", ...headers } });
}

/** How the fake gateway answers the streaming route. */
interface StreamAnswer {
  /** The SSE body, sealed for this request (default: "Hi " and "there", then an allow verdict). */
  body?: (sealer: TestStreamSealer) => Promise<string>;
  status?: number;
  headers?: Record<string, string>;
  /** Bytes per read of the body (default 7: events and lines split across reads). */
  chunkBytes?: number;
  /** Never end the body after it was sent (a stalled stream). */
  stall?: boolean;
}

const ALLOW = { decision: "allow", findings: [] };
const USAGE = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

/** A body handed out `chunkBytes` at a time; `cancelled` says whether the client cancelled it. */
function sseResponse(body: string, answer: StreamAnswer, state: { cancelled: boolean }): Response {
  const bytes = utf8(body);
  const size = answer.chunkBytes ?? 7;
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset < bytes.length) {
        controller.enqueue(bytes.slice(offset, offset + size));
        offset += size;
      } else if (answer.stall !== true) {
        controller.close();
      } else {
        return new Promise<void>(() => undefined); // nothing more, ever
      }
      return undefined;
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return new Response(stream, { status: answer.status ?? 200, headers: { "content-type": "text/event-stream", "cache-control": "no-store", ...answer.headers } });
}

/** A gateway that checks the signature with the device secret it issued and opens the envelope with the vector key. */
function fakeGateway(options: { verdict?: unknown; status?: number; statusBody?: unknown; headers?: Record<string, string>; wrongReqId?: boolean; stream?: StreamAnswer } = {}) {
  const seen: Seen[] = [];
  const sent: { request?: Record<string, unknown>; route?: string | undefined; cancelled: boolean } = { cancelled: false };
  let version = 1;
  const handler = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(init?.headers);
    const body = init?.body instanceof Uint8Array ? init.body : new Uint8Array(0);
    seen.push({ path: url.pathname, headers, body });
    if (options.status !== undefined) return json(options.status, options.statusBody ?? { error: "refused", message: "no" }, options.headers ?? {});
    if (url.pathname === "/prod/v1/keys/public") {
      return json(200, { key_arn: vectors.rsa.key_arn, key_spec: "RSA_2048", encryption_algorithm: "RSAES_OAEP_SHA_256", public_key_pem: vectors.rsa.public_key_pem, envelope_version: "1" });
    }
    if (url.pathname === "/prod/v1/devices") {
      assert.equal(headers.get("authorization"), "Bearer id-token");
      assert.deepEqual(JSON.parse(fromUtf8(body)), { app_id: "demo-app" });
      return json(201, credentials(version, NOW - 10));
    }
    const input_ = headers.get("signature-input") ?? "";
    const keyId = /keyid="([^"]+)"/.exec(input_)?.[1];
    const nonce = /nonce="([^"]+)"/.exec(input_)?.[1] ?? "";
    assert.equal(keyId, `${DEVICE}.${version}`);
    if (url.pathname === "/prod/v1/devices/renew") {
      version += 1;
      return json(200, credentials(version, NOW));
    }
    // Open the request envelope as the gateway would (KMS's part done with the private key).
    const header = parseHeader(body);
    const privateKey = await crypto.subtle.importKey("jwk", { ...vectors.rsa.private_jwk, alg: "RSA-OAEP-256" }, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
    const unwrapped = new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, header.dataKey.ciphertext));
    const plaintext = await decryptMessage(body, header, unwrapped.slice(48), { client_id: DEVICE, req_id: nonce });
    const document = JSON.parse(fromUtf8(plaintext)) as { resp_key: string; request: { model: string } };
    sent.request = document.request;
    sent.route = header.storedContext["route"];
    if (url.pathname === "/prod/v1/chat/completions/stream") {
      const answer = options.stream ?? {};
      if (answer.status !== undefined && answer.status >= 400) return json(answer.status, { error: "too_many_requests", message: "model rate limited" }, answer.headers ?? {});
      const sealer = await TestStreamSealer.create(fromBase64(document.resp_key), options.wrongReqId === true ? "another-request-nonce-01" : nonce);
      const sse = await (answer.body ?? ((s) => s.stream(["Hi ", "there"], { verdict: ALLOW, usage: USAGE })))(sealer);
      return sseResponse(sse, answer, sent);
    }
    const reqId = options.wrongReqId === true ? "another-request-nonce-01" : nonce;
    const answer = {
      req_id: nonce,
      completion: { id: "c1", object: "chat.completion", created: NOW, model: document.request.model, choices: [{ index: 0, message: { role: "assistant", content: "Hi there" }, finish_reason: "stop" }] },
      verdict: options.verdict ?? { decision: "allow", findings: [] },
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    };
    const respKey = await importResponseKey(fromBase64(document.resp_key));
    const dataKey = randomBytes(32);
    const edk = await wrapResponseDataKey(respKey, reqId, dataKey, randomBytes(12));
    const sealed = await encryptMessage({
      plaintext: utf8(JSON.stringify(answer)),
      dataKey,
      messageId: randomBytes(32),
      storedContext: { dir: "response", req_id: reqId },
      requiredContext: {},
      encryptedDataKey: { providerId: "secure-ai", ...edk },
    });
    return new Response(sealed, { status: 200, headers: { "content-type": "application/vnd.secure-ai.envelope" } });
  };
  return { seen, sent, fetch: handler };
}

function client(gateway: { fetch: typeof fetch }, now = NOW, keyStore = new MemoryKeyStore(), options: Partial<SecureAIClientOptions> = {}): SecureAIClient {
  return new SecureAIClient({ baseUrl: BASE, fetch: gateway.fetch, now: () => now * 1000, keyStore, ...options });
}

const MESSAGES = [{ role: "user", content: "Hello" }] as const;

async function streamed(options: Parameters<typeof fakeGateway>[0], clientOptions: Partial<SecureAIClientOptions> = {}) {
  const gateway = fakeGateway(options);
  const secure = client(gateway, NOW, new MemoryKeyStore(), clientOptions);
  await secure.enroll({ appId: "demo-app", idToken: "id-token" });
  return { gateway, secure, open: () => secure.chat.completions.create({ model: "m", messages: MESSAGES, stream: true }) };
}

async function drain(stream: ChatStream): Promise<string[]> {
  const deltas: string[] = [];
  for await (const delta of stream) deltas.push(delta);
  return deltas;
}

describe("SecureAIClient", () => {
  it("enrolls, stores a non-extractable key, and completes a chat sealed both ways", async () => {
    const gateway = fakeGateway();
    const store = new MemoryKeyStore();
    const secure = client(gateway, NOW, store);
    const enrolled = await secure.enroll({ appId: "demo-app", idToken: "id-token" });
    assert.equal(enrolled.key_id, `${DEVICE}.1`);
    assert.equal("secret" in enrolled, false);
    assert.equal((await store.load())?.key.extractable, false);
    const result = await secure.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }], max_tokens: 20 });
    assert.equal(result.choices[0]?.message.content, "Hi there");
    assert.equal(result.verdict.decision, "allow");
    assert.equal(result.usage.total_tokens, 5);
    const sent = gateway.seen.at(-1);
    assert.equal(sent!.headers.get("content-type"), "application/vnd.secure-ai.envelope");
    assert.match(sent!.headers.get("signature") ?? "", /^sig=:[A-Za-z0-9+/]{43}=:$/);
  });

  it("renews before a request once renew_after has passed", async () => {
    const gateway = fakeGateway();
    const store = new MemoryKeyStore();
    await client(gateway, NOW, store).enroll({ appId: "demo-app", idToken: "id-token" });
    await client(gateway, NOW + 3600, store).chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    assert.deepEqual(gateway.seen.map((request) => request.path).slice(1).sort(), ["/prod/v1/chat/completions", "/prod/v1/devices/renew", "/prod/v1/keys/public"]);
    assert.equal((await store.load())?.credentials.key_id, `${DEVICE}.2`);
    assert.equal(gateway.seen.filter((request) => request.path === "/prod/v1/devices/renew").length, 1);
  });

  it("throws BlockedError with the verdict's categories", async () => {
    const gateway = fakeGateway({ verdict: { decision: "block", findings: [{ type: "secret", detector: "d", span: [0, 1], confidence: 1, action: "block" }, { type: "email", detector: "d", span: [0, 1], confidence: 1, action: "redact" }] } });
    const secure = client(gateway);
    await secure.enroll({ appId: "demo-app", idToken: "id-token" });
    await assert.rejects(secure.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }), (error: unknown) => error instanceof BlockedError && error.categories.join() === "email,secret");
  });

  it("refuses an answer sealed for another request", async () => {
    const gateway = fakeGateway({ wrongReqId: true });
    const secure = client(gateway);
    await secure.enroll({ appId: "demo-app", idToken: "id-token" });
    await assert.rejects(secure.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }), (error: unknown) => error instanceof ResponseRejectedError && error.reason === "context_mismatch");
  });

  it("maps statuses to typed errors", async () => {
    const cases: [number, unknown, Record<string, string>, (error: unknown) => boolean][] = [
      [409, { error: "conflict", message: "m" }, {}, (error) => error instanceof DeviceLimitError && error.limit === null],
      [409, { error: "device_limit", message: "m", limit: 3 }, {}, (error) => error instanceof DeviceLimitError && error.limit === 3],
      [429, { error: "quota_exceeded", message: "m" }, { "retry-after": "42" }, (error) => error instanceof QuotaExceededError && error.retryAfterSeconds === 42],
      [403, { error: "forbidden", message: "m" }, {}, (error) => error instanceof ForbiddenError],
      [400, { error: "bad_request", message: "m" }, {}, (error) => error instanceof BadRequestError],
      [503, { error: "service_unavailable", message: "m" }, { "x-amzn-requestid": "abc-123" }, (error) => error instanceof UnavailableError && error.requestId === "abc-123"],
    ];
    for (const [status, body, headers, check] of cases) {
      const secure = client(fakeGateway({ status, statusBody: body, headers }));
      await assert.rejects(secure.enroll({ appId: "demo-app", idToken: "id-token" }), check);
    }
  });

  it("turns a failed fetch into NetworkError, an UnavailableError", async () => {
    const secure = new SecureAIClient({ baseUrl: BASE, fetch: (() => Promise.reject(new TypeError("down"))) });
    await assert.rejects(secure.enroll({ appId: "demo-app", idToken: "t" }), (error: unknown) => error instanceof NetworkError && error instanceof UnavailableError);
  });
  it("streams a chat for a device key: sealed for the streaming route, deltas in order, then the verdict", async () => {
    const { gateway, open } = await streamed({});
    const stream = await open();
    assert.ok(stream instanceof ChatStream);
    assert.equal(stream.finished, false);
    assert.equal(stream.final === null, true);
    assert.throws(() => stream.verdict, /has not finished/);
    assert.deepEqual(await drain(stream), ["Hi ", "there"]);
    assert.equal(stream.text, "Hi there");
    assert.equal(stream.finished, true);
    assert.equal(stream.verdict.decision, "allow");
    assert.deepEqual(stream.usage, USAGE);
    assert.equal(stream.finishReason, "stop");
    assert.equal(stream.final?.req_id, stream.reqId);
    const request = gateway.seen.at(-1)!;
    assert.equal(request.path, "/prod/v1/chat/completions/stream");
    assert.equal(request.headers.get("accept"), "text/event-stream");
    assert.match(request.headers.get("signature-input") ?? "", new RegExp(`nonce="${stream.reqId}"`));
    assert.equal(gateway.sent.route, "/v1/chat/completions/stream");
    assert.equal(gateway.sent.request?.["stream"], true);
  });

  it("throws BlockedError at the end of a blocked stream, after the deltas released before it", async () => {
    const verdict = { decision: "block", findings: [{ type: "aws_access_key", detector: "secrets", span: [12, 32], confidence: 1, action: "block" }] };
    const { open } = await streamed({ stream: { body: (sealer) => sealer.stream(["Your key is "], { verdict, finish_reason: "content_filter" }) } });
    const stream = await open();
    const deltas: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const delta of stream) deltas.push(delta);
      })(),
      (error: unknown) => error instanceof BlockedError && error.categories.join() === "aws_access_key" && error.reqId === stream.reqId,
    );
    assert.deepEqual(deltas, ["Your key is "]);
    assert.equal(stream.verdict.decision, "block");
    assert.equal(stream.finishReason, "content_filter");
    assert.equal(stream.text, "Your key is ");
  });

  it("throws StreamBrokenError for a tampered event, after the deltas before it, and has no verdict", async () => {
    const body = async (sealer: TestStreamSealer) => {
      const events = (await sealer.stream(["one ", "two ", "three"], { verdict: ALLOW })).split(/(?<=\n\n)/);
      const second = events[1] ?? "";
      const at = second.indexOf("data: ") + 10;
      events[1] = second.slice(0, at) + (second[at] === "A" ? "B" : "A") + second.slice(at + 1);
      return events.join("");
    };
    const { gateway, open } = await streamed({ stream: { body } });
    const stream = await open();
    const deltas: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const delta of stream) deltas.push(delta);
      })(),
      (error: unknown) => error instanceof StreamBrokenError && error instanceof ResponseRejectedError && error.reason === "stream_tampered",
    );
    assert.deepEqual(deltas, ["one "]);
    assert.equal(stream.finished, false);
    assert.throws(() => stream.usage);
    assert.equal(gateway.sent.cancelled, true);
  });

  it("refuses a stream sealed for another request, and one that ends without its final event", async () => {
    const foreign = await streamed({ wrongReqId: true });
    await assert.rejects(drain(await foreign.open()), { reason: "stream_tampered" });
    const cut = await streamed({ stream: { body: async (sealer) => (await sealer.stream(["a", "b"], { verdict: ALLOW })).split(/(?<=\n\n)/).slice(0, 2).join("") } });
    const stream = await cut.open();
    const deltas: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const delta of stream) deltas.push(delta);
      })(),
      { reason: "stream_truncated" },
    );
    assert.deepEqual(deltas, ["a", "b"]);
  });

  it("throws the buffered call's errors before the first byte, and refuses a 200 that is no event stream", async () => {
    const limited = await streamed({ stream: { status: 429, headers: { "retry-after": "7" } } });
    await assert.rejects(limited.open(), (error: unknown) => error instanceof QuotaExceededError && error.retryAfterSeconds === 7);
    const plain = await streamed({ stream: { headers: { "content-type": "application/json" } } });
    await assert.rejects(plain.open(), { reason: "not_an_event_stream" });
    assert.equal(plain.gateway.sent.cancelled, true);
    const created = await streamed({ stream: { status: 201 } });
    await assert.rejects(created.open(), { reason: "unexpected_status" });
  });

  it("releases the body when the loop stops early or the stream is closed", async () => {
    const { gateway, open } = await streamed({});
    const stream = await open();
    for await (const delta of stream) {
      assert.equal(delta, "Hi ");
      break;
    }
    assert.equal(gateway.sent.cancelled, true);
    assert.equal(stream.finished, false);
    const again = await streamed({ stream: { stall: true } });
    const stalled = await again.open();
    const iterator = stalled[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { done: false, value: "Hi " });
    assert.deepEqual(await iterator.next(), { done: false, value: "there" });
    const waiting = iterator.next(); // the body has stalled: this read waits
    await stalled.close();
    assert.equal(again.gateway.sent.cancelled, true);
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
    assert.equal(stalled.finished, false);
  });

  it("gives up on a stalled stream with NetworkError(stream_timeout), per read and for the whole body", async () => {
    const perRead = await streamed({ stream: { stall: true } }, { timeoutMs: 50 });
    await assert.rejects(drain(await perRead.open()), (error: unknown) => error instanceof NetworkError && error.kind === "stream_timeout");
    assert.equal(perRead.gateway.sent.cancelled, true);
    const whole = await streamed({ stream: { stall: true } }, { streamLimits: { timeoutMs: 30 } });
    await assert.rejects(drain(await whole.open()), (error: unknown) => error instanceof NetworkError && error.kind === "stream_timeout");
    // A body that keeps coming (one byte per read, never waiting) is cut at the deadline all the same.
    const slow = await streamed({ stream: { chunkBytes: 1 } }, { streamLimits: { timeoutMs: 1 } });
    const stream = await slow.open();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(drain(stream), (error: unknown) => error instanceof NetworkError && error.kind === "stream_timeout");
    assert.throws(() => new SecureAIClient({ baseUrl: BASE, streamLimits: { maxEvents: 0 } }), RangeError);
  });

  it("bounds a streamed answer by the client's limits", async () => {
    const { open } = await streamed({}, { streamLimits: { maxEvents: 2 } });
    await assert.rejects(drain(await open()), { reason: "stream_too_large" });
  });
});
