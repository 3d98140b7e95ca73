// The package itself (dist/src, as Node ≥ 20 runs it) end to end against a running local stack:
//   SECURE_AI_DEMO_URL=http://127.0.0.1:8787/ SECURE_AI_REVOKE='[".venv/bin/secure-ai","devices","revoke","--local"]' \
//   SECURE_AI_REVOKE_CWD=<dir holding .secure-ai/local.json> node --test e2e/node-client.e2e.mjs
// The stack's settings come from the demo server's /config.json. Enroll with an ID token from the
// stack's Cognito (moto), chat, validate, renew; a body changed after signing → 401; revocation →
// RefusedError; a fourth device → DeviceLimitError(409); the model's 429 → QuotaExceededError, for a
// buffered and for a streamed call; a streamed answer (several events) equal to the buffered one;
// a stream blocked mid-way → BlockedError after released text that holds no secret.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { before, beforeEach, describe, it } from "node:test";

import { BlockedError, ChatStream, DeviceLimitError, MemoryKeyStore, QuotaExceededError, RefusedError, SecureAIClient, UnauthorizedError } from "../dist/src/index.js";

const demoUrl = process.env.SECURE_AI_DEMO_URL;
const revoke = JSON.parse(process.env.SECURE_AI_REVOKE ?? "null");
const keyCacheSeconds = Number(process.env.SECURE_AI_KEY_CACHE_SECONDS ?? "60");
const QUESTION = [{ role: "user", content: "Hello from the Node end-to-end suite" }];
// The stub model echoes the prompt: an answer of well over 1024 characters, so several events.
const LONG_QUESTION = [{ role: "user", content: "Tell me about streaming. ".repeat(100) }];
// The stub's fake AWS key ([demo:block]), as tests/e2e/test_streaming.py assembles it.
const FAKE_ACCESS_KEY_ID = "AKIA" + "STUBDEMOKEY7Q4XP";
let config;

function runRevoke(...args) {
  const [command, ...base] = revoke;
  execFileSync(command, [...base, ...args], { cwd: process.env.SECURE_AI_REVOKE_CWD ?? process.cwd(), stdio: ["ignore", "ignore", "inherit"], timeout: 30_000 });
}

async function signIn() {
  const response = await fetch(`${config.cognito_endpoint}/`, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth" },
    body: JSON.stringify({ AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.user_pool_client_id, AuthParameters: { USERNAME: config.username, PASSWORD: config.password } }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).AuthenticationResult.IdToken;
}

function newClient(options = {}) {
  return new SecureAIClient({ baseUrl: config.api_url, keyStore: new MemoryKeyStore(), rsaPublicKeyPem: config.rsa_public_key_pem, rsaKeyArn: config.rsa_key_arn, ...options });
}

async function enrolled(options = {}) {
  const client = newClient(options);
  const credentials = await client.enroll({ appId: config.app_id, idToken: await signIn() });
  return { client, credentials };
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

describe("@secure-ai/client against the local stack", () => {
  before(async () => {
    assert.ok(demoUrl, "SECURE_AI_DEMO_URL is not set");
    assert.ok(Array.isArray(revoke), "SECURE_AI_REVOKE is not set");
    config = await (await fetch(new URL("config.json", demoUrl))).json();
  });
  // The demo user may hold 3 devices: each test starts with none.
  beforeEach(() => runRevoke("--app", config.app_id));

  it("enrolls, chats, validates both ways, renews and chats with the next key", async () => {
    const { client, credentials } = await enrolled();
    assert.match(credentials.device_id, /^dev-/);
    assert.equal(credentials.key_id, `${credentials.device_id}.1`);
    const completion = await client.chat.completions.create({ model: "default", messages: QUESTION, max_tokens: 200 });
    assert.equal(completion.verdict.decision, "allow");
    assert.match(completion.choices[0].message.content, /Hello from the Node end-to-end suite/);
    assert.ok(completion.usage.total_tokens > 0);
    for (const encrypted of [false, true]) {
      const verdict = await client.validate({ text: "Write to jane.doe@example.com for details.", encrypted });
      assert.equal(verdict.decision, "redact");
    }
    const renewed = await client.renew();
    assert.equal(renewed.key_id, `${credentials.device_id}.2`);
    const again = await client.chat.completions.create({ model: "default", messages: QUESTION });
    assert.equal(again.verdict.decision, "allow");
  });

  it("throws BlockedError for an answer carrying credentials, naming only the finding types", async () => {
    const { client } = await enrolled();
    await assert.rejects(client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "[demo:block] Show me the settings." }] }), (error) => {
      assert.ok(error instanceof BlockedError);
      assert.deepEqual(error.categories, ["aws_access_key", "aws_secret_key"]);
      assert.ok(!JSON.stringify(error.verdict).includes("STUBDEMOKEY"));
      return true;
    });
  });

  it("gets a 401 for a body changed after it was signed", async () => {
    const tampering = (input, init) => {
      const body = init.body.slice();
      body[body.length - 1] ^= 1;
      return fetch(input, { ...init, body });
    };
    const keyStore = new MemoryKeyStore();
    await enrolled({ keyStore });
    const tampered = newClient({ fetch: tampering, keyStore });
    await assert.rejects(tampered.chat.completions.create({ model: "default", messages: QUESTION }), UnauthorizedError);
  });

  it("is refused once the device is revoked and the authorizer's key cache has passed", async () => {
    const { client, credentials } = await enrolled();
    await client.chat.completions.create({ model: "default", messages: QUESTION });
    runRevoke(credentials.device_id);
    await sleep(keyCacheSeconds + 0.5);
    await assert.rejects(client.chat.completions.create({ model: "default", messages: QUESTION }), RefusedError);
  });

  it("gets DeviceLimitError (409) naming the limit for a fourth device", async () => {
    for (let index = 0; index < 3; index += 1) await enrolled();
    await assert.rejects(enrolled(), (error) => error instanceof DeviceLimitError && error.status === 409 && error.limit === 3);
  });

  it("streams an answer in several events whose text is the buffered answer's, verdict allow", async () => {
    const { client } = await enrolled();
    const stream = await client.chat.completions.create({ model: "default", messages: LONG_QUESTION, stream: true });
    assert.ok(stream instanceof ChatStream);
    const deltas = [];
    for await (const delta of stream) deltas.push(delta);
    const buffered = await client.chat.completions.create({ model: "default", messages: LONG_QUESTION });
    assert.ok(deltas.length >= 3, `${deltas.length} deltas`);
    assert.equal(deltas.join(""), buffered.choices[0].message.content);
    assert.equal(stream.text, deltas.join(""));
    assert.ok(stream.finished);
    assert.equal(stream.verdict.decision, "allow");
    assert.equal(stream.finishReason, "stop");
    assert.ok(stream.usage.total_tokens > 0);
  });

  it("ends a stream blocked mid-way with BlockedError, after released text that holds no secret", async () => {
    const { client } = await enrolled();
    const stream = await client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "Show me the deployment credentials [demo:block]" }], stream: true });
    const deltas = [];
    await assert.rejects(
      (async () => {
        for await (const delta of stream) deltas.push(delta);
      })(),
      (error) => {
        assert.ok(error instanceof BlockedError, String(error));
        assert.equal(error.reqId, stream.reqId);
        assert.ok(error.categories.length > 0);
        return true;
      },
    );
    assert.equal(stream.verdict.decision, "block");
    assert.equal(stream.finishReason, "content_filter");
    assert.equal(stream.text, deltas.join(""));
    const everything = stream.text + JSON.stringify(stream.final);
    assert.ok(!everything.includes(FAKE_ACCESS_KEY_ID) && !everything.includes(FAKE_ACCESS_KEY_ID.slice(0, 8)) && !everything.includes("NotARealKey"));
  });

  it("gets QuotaExceededError (429) with the retry-after when the model is rate limited", async () => {
    const { client } = await enrolled();
    await assert.rejects(client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "[demo:ratelimit] hi" }] }), (error) => {
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.equal(error.status, 429);
      assert.equal(typeof error.retryAfterSeconds, "number");
      return true;
    });
  });

  it("gets the same QuotaExceededError (429) from a streamed call, before any stream", async () => {
    const { client } = await enrolled();
    await assert.rejects(client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "[demo:ratelimit] hi" }], stream: true }), (error) => {
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.equal(error.status, 429);
      return true;
    });
  });
});
