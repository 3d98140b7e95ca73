// Every value of docs/vectors/client-vectors.json rebuilt by the TypeScript client. Pure WebCrypto.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { fromBase64, fromHex, toBase64, toHex, utf8 } from "../src/bytes.js";
import { canonicalQuery } from "../src/canonical-query.js";
import { contentDigest } from "../src/content-digest.js";
import { serializeContext } from "../src/esdk/context.js";
import { decryptMessage, deriveKeys, headerTag, parseHeader, serializeHeaderBody } from "../src/esdk/message.js";
import { importRsaPublicKey, kmsRsaWrappedPlaintext, sealRequest } from "../src/request-envelope.js";
import { importResponseKey, openResponse, wrapResponseDataKey } from "../src/response-envelope.js";
import { importSigningSecret, signRequest } from "../src/signing.js";
import { loadVectors } from "./load-vectors.js";

const vectors = loadVectors();
const rsa = vectors.rsa;
const request = vectors.request_envelope;
const response = vectors.response_envelope;
const signing = vectors.signing;
const required = { client_id: request.inputs.client_id, req_id: request.inputs.req_id };
const stored = { purpose: "request", route: request.inputs.route, version: "1" };

describe("signing vectors", () => {
  it("builds the canonical query", () => {
    assert.equal(canonicalQuery(vectors.canonical_query.pairs), vectors.canonical_query.expected);
  });

  it("builds Content-Digest, the signature base, Signature-Input and Signature", async () => {
    const body = fromBase64(request.expected.message_b64);
    assert.equal(await contentDigest(body), signing.expected.content_digest);
    const key = await importSigningSecret(fromBase64(signing.inputs.secret_b64));
    assert.equal(key.extractable, false);
    const signed = await signRequest({ method: signing.inputs.method, url: signing.inputs.url, contentType: signing.inputs.content_type, body }, key, {
      created: signing.inputs.created,
      expires: signing.inputs.expires,
      nonce: signing.inputs.nonce,
      keyId: signing.inputs.key_id,
      label: signing.inputs.label,
    });
    assert.equal(signed.signatureBase, signing.expected.signature_base);
    assert.equal(signed.signatureInput, signing.expected.signature_input);
    assert.equal(signed.signature, signing.expected.signature);
  });
});

describe("request envelope vectors", () => {
  it("serialises the contexts", () => {
    assert.equal(toHex(serializeContext({ ...required, ...stored })), request.expected.full_context_hex);
    assert.equal(toHex(serializeContext(stored)), request.expected.stored_context_hex);
    assert.equal(toHex(serializeContext(required)), request.expected.required_context_hex);
  });

  it("wraps SHA-384(context) || data key, and the recorded EDK decrypts to it", async () => {
    const wrapped = await kmsRsaWrappedPlaintext({ ...required, ...stored }, fromHex(request.inputs.data_key_hex));
    assert.equal(toHex(wrapped), request.expected.edk_plaintext_hex);
    const privateKey = await crypto.subtle.importKey("jwk", { ...rsa.private_jwk, alg: "RSA-OAEP-256" }, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
    const plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, fromHex(request.expected.edk_ciphertext_hex)));
    assert.equal(toHex(plaintext), request.expected.edk_plaintext_hex);
  });

  it("derives the content key's commitment and the header tag with the required context", async () => {
    const keys = await deriveKeys(fromHex(request.inputs.data_key_hex), fromHex(request.inputs.message_id_hex));
    assert.equal(toHex(keys.commitment), request.expected.commitment_key_hex);
    assert.equal(keys.contentKey.extractable, false);
    const body = serializeHeaderBody({
      messageId: fromHex(request.inputs.message_id_hex),
      storedContext: stored,
      dataKey: { providerId: "aws-kms-rsa", providerInfo: utf8(rsa.key_arn), ciphertext: fromHex(request.expected.edk_ciphertext_hex) },
      frameLength: request.inputs.frame_length,
      commitment: keys.commitment,
    });
    assert.equal(toHex(body), request.expected.header_body_hex);
    assert.equal(toHex(await headerTag(keys.contentKey, body, required)), request.expected.header_auth_tag_hex);
  });

  it("builds the whole request message byte for byte around the recorded EDK", async () => {
    const message = await sealRequest(
      { publicKey: await importRsaPublicKey(rsa.public_key_pem), keyArn: rsa.key_arn },
      {
        plaintext: fromBase64(request.inputs.plaintext_b64),
        clientId: request.inputs.client_id,
        reqId: request.inputs.req_id,
        route: request.inputs.route,
        dataKey: fromHex(request.inputs.data_key_hex),
        messageId: fromHex(request.inputs.message_id_hex),
        wrappedDataKey: fromHex(request.expected.edk_ciphertext_hex),
        frameLength: request.inputs.frame_length,
      },
    );
    assert.equal(toBase64(message), request.expected.message_b64);
  });

  it("decrypts the vector message with the data key only under the right required context", async () => {
    const message = fromBase64(request.expected.message_b64);
    const header = parseHeader(message);
    const plaintext = await decryptMessage(message, header, fromHex(request.inputs.data_key_hex), required);
    assert.equal(toBase64(plaintext), request.inputs.plaintext_b64);
    await assert.rejects(decryptMessage(message, header, fromHex(request.inputs.data_key_hex), { ...required, req_id: "other" }));
  });
});

describe("response envelope vectors", () => {
  it("wraps the data key under resp_key as the raw AES keyring does", async () => {
    const respKey = await importResponseKey(fromBase64(response.inputs.resp_key_b64));
    const edk = await wrapResponseDataKey(respKey, response.inputs.req_id, fromHex(response.inputs.data_key_hex), fromHex(response.inputs.wrapping_iv_hex));
    assert.equal(toHex(edk.providerInfo), response.expected.provider_info_hex);
    assert.equal(toHex(edk.ciphertext), response.expected.edk_ciphertext_hex);
  });

  it("opens the vector answer and reads the text and verdict", async () => {
    const respKey = await importResponseKey(fromBase64(response.inputs.resp_key_b64));
    const plaintext = await openResponse(fromBase64(response.expected.message_b64), respKey, response.inputs.req_id);
    assert.equal(toBase64(plaintext), response.inputs.payload_b64);
    const payload = JSON.parse(new TextDecoder().decode(plaintext)) as { completion: { choices: { message: { content: string } }[] }; verdict: { decision: string } };
    assert.equal(payload.completion.choices[0]?.message.content, response.expected.text);
    assert.equal(payload.verdict.decision, response.expected.decision);
  });

  it("refuses the vector answer for another request, under another key, or tampered", async () => {
    const message = fromBase64(response.expected.message_b64);
    const respKey = await importResponseKey(fromBase64(response.inputs.resp_key_b64));
    await assert.rejects(openResponse(message, respKey, "another-request-nonce-0001"), { reason: "context_mismatch" });
    await assert.rejects(openResponse(message, await importResponseKey(new Uint8Array(32)), response.inputs.req_id), { reason: "decrypt_failed" });
    for (const offset of [5, 200, message.length - 20, message.length - 1]) {
      const tampered = message.slice();
      tampered[offset] = (tampered[offset] ?? 0) ^ 1;
      await assert.rejects(openResponse(tampered, respKey, response.inputs.req_id));
    }
    await assert.rejects(openResponse(message.subarray(0, message.length - 1), respKey, response.inputs.req_id));
  });
});
