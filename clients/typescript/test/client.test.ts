// The client against a fake gateway in-process (a fetch function): enrollment, renewal, a sealed
// completion both ways, and the typed errors. Pure WebCrypto and fetch types: runnable in a browser.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SecureAIClient } from "../src/client.js";
import { fromBase64, fromUtf8, randomBytes, toBase64, utf8 } from "../src/bytes.js";
import { BlockedError, DeviceLimitError, ForbiddenError, NetworkError, QuotaExceededError, ResponseRejectedError, UnavailableError, BadRequestError } from "../src/errors.js";
import { decryptMessage, encryptMessage, parseHeader } from "../src/esdk/message.js";
import { MemoryKeyStore } from "../src/key-store.js";
import { importResponseKey, wrapResponseDataKey } from "../src/response-envelope.js";
import { loadVectors } from "./load-vectors.js";

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

/** A gateway that checks the signature with the device secret it issued and opens the envelope with the vector key. */
function fakeGateway(options: { verdict?: unknown; status?: number; statusBody?: unknown; headers?: Record<string, string>; wrongReqId?: boolean } = {}) {
  const seen: Seen[] = [];
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
  return { seen, fetch: handler };
}

function client(gateway: { fetch: typeof fetch }, now = NOW, keyStore = new MemoryKeyStore()): SecureAIClient {
  return new SecureAIClient({ baseUrl: BASE, fetch: gateway.fetch, now: () => now * 1000, keyStore });
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
});
