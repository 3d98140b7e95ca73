// The browser demo (served by `make run` at http://127.0.0.1:8787/): sign in to the local Cognito
// (moto), enroll this browser, chat. Plain ES module over the client's browser build; no framework.
// For every answer it shows the verdict, what was redacted or blocked (finding types, never the
// finding itself), and what actually left the page: the request body as sent, captured by wrapping
// fetch — its size, its first bytes in hex, and whether the prompt's text occurs in it.
import { BlockedError, IndexedDbKeyStore, RefusedError, SecureAIClient, SecureAIError, toHex, utf8 } from "./secure-ai-client.min.js";

const ENVELOPE = "application/vnd.secure-ai.envelope";
const $ = (id) => document.getElementById(id);

/** The last request body sent as an envelope, as it went on the wire. */
let lastSent = null;

function recordingFetch(input, init) {
  const headers = new Headers(init?.headers);
  if (headers.get("content-type") === ENVELOPE && init?.body instanceof Uint8Array) {
    lastSent = { body: init.body.slice(), url: String(input) };
  }
  return fetch(input, init);
}

function setStatus(text, state = "ok") {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = state;
}

function indexOf(haystack, needle) {
  outer: for (let start = 0; start + needle.length <= haystack.length; start += 1) {
    for (let index = 0; index < needle.length; index += 1) {
      if (haystack[start + index] !== needle[index]) continue outer;
    }
    return start;
  }
  return -1;
}

/** Cognito's InitiateAuth JSON API (USER_PASSWORD_AUTH) at moto's endpoint; moto answers CORS itself. */
async function signIn(config, username, password) {
  const response = await fetch(config.cognito_endpoint + "/", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.user_pool_client_id,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  const answer = await response.json().catch(() => ({}));
  const token = answer?.AuthenticationResult?.IdToken;
  if (!response.ok || typeof token !== "string") {
    throw new Error(`sign-in refused (${response.status} ${answer?.__type ?? "error"})`);
  }
  return token;
}

async function showDevice(keyStore) {
  const record = await keyStore.load();
  $("device").hidden = record === null;
  $("send").disabled = record === null;
  $("forget").disabled = record === null;
  if (record === null) return null;
  const { credentials, key } = record;
  $("device-id").textContent = credentials.device_id;
  $("key-id").textContent = credentials.key_id;
  $("key-extractable").textContent = String(key.extractable);
  $("renew-after").textContent = new Date(credentials.renew_after * 1000).toLocaleString();
  return record;
}

function addEntry(prompt) {
  const entry = $("entry").content.firstElementChild.cloneNode(true);
  entry.querySelector(".prompt").textContent = prompt;
  entry.querySelector(".outcome").textContent = "sending…";
  entry.dataset.outcome = "pending";
  $("transcript").prepend(entry);
  return entry;
}

function showProof(entry, prompt) {
  const proof = entry.querySelector(".proof");
  if (lastSent === null) {
    proof.hidden = true;
    return;
  }
  const { body } = lastSent;
  const found = indexOf(body, utf8(prompt)) >= 0;
  const head = body.subarray(0, 32);
  proof.dataset.bytes = String(body.length);
  proof.dataset.hex = toHex(head);
  proof.dataset.promptInBody = String(found);
  entry.querySelector(".proof-summary").textContent =
    `${body.length} bytes of ${ENVELOPE} (an AWS Encryption SDK message: version 0x02, suite 0x0478, ` +
    `sealed to the gateway's RSA key); the prompt's text ${found ? "DOES" : "does not"} occur in it. First ${head.length} bytes:`;
  entry.querySelector(".proof-hex").textContent = toHex(head).replace(/(..)/g, "$1 ").trim() + " …";
}

function findingTypes(verdict) {
  return [...new Set((verdict.findings ?? []).map((finding) => finding.type))].sort();
}

async function ask(client, prompt) {
  const entry = addEntry(prompt);
  lastSent = null;
  try {
    const completion = await client.chat.completions.create({
      model: "default",
      messages: [{ role: "user", content: prompt }],
      max_tokens: 200,
    });
    const verdict = completion.verdict;
    const types = findingTypes(verdict);
    entry.dataset.outcome = "answered";
    entry.dataset.verdict = verdict.decision;
    entry.dataset.findings = types.join(",");
    entry.querySelector(".outcome").textContent = `verdict: ${verdict.decision}`;
    entry.querySelector(".answer").textContent = completion.choices[0]?.message?.content ?? "";
    entry.querySelector(".findings").textContent =
      types.length === 0 ? "nothing redacted" : `redacted: ${types.join(", ")} (replaced in the answer above)`;
  } catch (error) {
    if (error instanceof BlockedError) {
      entry.dataset.outcome = "blocked";
      entry.dataset.verdict = "block";
      entry.dataset.findings = error.categories.join(",");
      entry.querySelector(".outcome").textContent = "verdict: block — the answer was withheld";
      entry.querySelector(".findings").textContent = `blocked for: ${error.categories.join(", ")}`;
    } else if (error instanceof RefusedError) {
      entry.dataset.outcome = "refused";
      entry.dataset.status = String(error.status);
      entry.querySelector(".outcome").textContent =
        `refused: ${error.status} ${error.code ?? ""} — this device's key is no longer accepted (revoked or expired); enroll again`;
    } else {
      entry.dataset.outcome = "error";
      entry.querySelector(".outcome").textContent = `failed: ${error instanceof SecureAIError ? error.message : String(error)}`;
    }
  }
  showProof(entry, prompt);
}

async function main() {
  let config;
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(await response.text());
    config = await response.json();
  } catch (error) {
    setStatus(`no configuration: ${error instanceof Error ? error.message : String(error)}`, "error");
    return;
  }
  $("username").value = config.username;
  $("password").value = config.password;
  // One store per local stack (the user pool client id is fresh each time): a key from a stack
  // that has stopped is never offered to a new one.
  const keyStore = new IndexedDbKeyStore(`secure-ai-demo:${config.user_pool_client_id}`);
  const client = new SecureAIClient({
    baseUrl: config.api_url,
    keyStore,
    rsaPublicKeyPem: config.rsa_public_key_pem,
    rsaKeyArn: config.rsa_key_arn,
    fetch: recordingFetch,
  });
  const enrolled = await showDevice(keyStore);
  setStatus(enrolled ? "enrolled: ready to chat" : "signed out: sign in to enroll this browser", "ready");

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in").disabled = true;
    try {
      setStatus("signing in…", "busy");
      const idToken = await signIn(config, $("username").value, $("password").value);
      setStatus("enrolling…", "busy");
      await client.enroll({ appId: config.app_id, idToken });
      await showDevice(keyStore);
      setStatus("enrolled: ready to chat", "enrolled");
    } catch (error) {
      setStatus(error instanceof Error ? error.message : String(error), "error");
    } finally {
      $("sign-in").disabled = false;
    }
  });
  $("forget").addEventListener("click", async () => {
    await client.forget();
    await showDevice(keyStore);
    setStatus("signed out: sign in to enroll this browser", "ready");
  });
  for (const example of document.querySelectorAll("[data-example]")) {
    example.addEventListener("click", () => {
      $("prompt").value = example.dataset.example;
    });
  }
  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("send").disabled = true;
    try {
      await ask(client, $("prompt").value);
    } finally {
      $("send").disabled = false;
    }
  });
}

main();
