// Interop: the official x402 client (@x402/fetch + @x402/evm + a viem
// account) pays agentnode's paid execution route, with the request sealed
// in JavaScript by an independent HPKE implementation (@hpke/core and
// @hpke/chacha20poly1305) and the answer checked here, without agentnode's
// Go client:
//
//   1. open a session (POST /verifiable/encrypt/create_keypair) and check
//      the simulated TEE's quote in full: layout, Ed25519 signature, and the
//      report_data binding SHA-512("agentnet/session/v1" || LP(identity) ||
//      LP(session key) || LP(client key) || LP(nonce)) to this session;
//   2. seal {wasm, args} to the session key (HPKE base mode, DHKEM(X25519),
//      HKDF-SHA256, ChaCha20-Poly1305, info "agentnet/exec/v1", aad
//      session_id || request_id) and POST it with the paying fetch, which
//      answers the 402 by signing an EIP-3009 authorization and resends the
//      same body (same request id);
//   3. open the sealed result, recompute the commitment (output, arguments,
//      module, and the payment reference it binds) and verify the identity
//      key's signature over it.
//
// The sim quote proves no hardware isolation; checking it shows only that
// the session key is the one the node's attester bound. Prints one JSON
// line; exits non-zero on any failure. Run by cmd/agentnode's
// TestInteropOfficialClientPaysBridge with dev.json's values
// (AGENTNODE_DEV_JSON) and WASM (a module path) and ARGS (JSON array).
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { devFromEnv, payingFetch, settlement } from './lib/x402client.mjs';

const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const lp = (b) => Buffer.concat([u32(b.length), Buffer.from(b)]);
const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const sha512 = (...parts) => createHash('sha512').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const ed25519Key = (raw) => createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(raw)]), format: 'der', type: 'spki' });
const check = (ok, what) => { if (!ok) throw new Error(what); };

// checkSimQuote verifies a simulated TEE quote (enclave/attest/sim):
// "AGNTSIM1" || measurement(48) || report_data(64) || issued_at(8) ||
// debug(1) || key(32) || Ed25519 signature(64) over
// "agentnet/sim-quote/v1" || the body.
function checkSimQuote(quote, wantReportData) {
  check(quote.length === 8 + 48 + 64 + 8 + 1 + 32 + 64, `sim quote: ${quote.length} bytes`);
  check(Buffer.from(quote.subarray(0, 8)).toString() === 'AGNTSIM1', 'sim quote: bad magic');
  const body = quote.subarray(0, 161);
  const key = quote.subarray(129, 161);
  const sig = quote.subarray(161);
  check(verify(null, Buffer.concat([enc.encode('agentnet/sim-quote/v1'), body]), ed25519Key(key), sig), 'sim quote: bad signature');
  check(Buffer.from(quote.subarray(56, 120)).equals(wantReportData), 'sim quote: report_data does not bind this session');
}

// identityKey returns the raw Ed25519 key of a libp2p-marshalled identity
// public key (protobuf: type Ed25519 = 1, 32-byte data).
function identityKey(marshalled) {
  check(marshalled.length === 36 && hex(marshalled.subarray(0, 4)) === '08011220', 'identity key: not a libp2p Ed25519 key');
  return marshalled.subarray(4);
}

const dev = await devFromEnv();
const wasm = await readFile(process.env.WASM);
const args = JSON.parse(process.env.ARGS ?? '[]');
const base = dev.bridge_url;
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

let out;
try {
  // 1. An attested session.
  const clientKeys = await suite.kem.generateKeyPair();
  const clientPub = new Uint8Array(await suite.kem.serializePublicKey(clientKeys.publicKey));
  const nonce = randomBytes(32);
  const sres = await fetch(`${base}/verifiable/encrypt/create_keypair`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pubkey: hex(clientPub), nonce: hex(nonce), suite: 'x25519' }),
  });
  check(sres.ok, `create_keypair: ${sres.status} ${await sres.clone().text()}`);
  const session = await sres.json();
  check(session.platform === 'sim', `platform ${session.platform}`);
  const identity = unhex(session.identity_pubkey);
  const sessionPub = unhex(session.session_pubkey);
  checkSimQuote(unhex(session.quote), sha512(enc.encode('agentnet/session/v1'), lp(identity), lp(sessionPub), lp(clientPub), lp(nonce)));

  // 2. The sealed request, paid by the official client.
  const sid = unhex(session.session_id);
  const rid = randomBytes(16);
  const aad = Buffer.concat([sid, rid]);
  const payload = enc.encode(JSON.stringify({ wasm: Buffer.from(wasm).toString('base64'), args }));
  const sealed = await suite.seal({ recipientPublicKey: await suite.kem.deserializePublicKey(sessionPub), info: enc.encode('agentnet/exec/v1') }, payload, aad);
  const body = JSON.stringify({ session_id: session.session_id, request_id: hex(rid), encrypted_request: hex(Buffer.concat([Buffer.from(sealed.enc), Buffer.from(sealed.ct)])) });
  const url = `${base}/x402_execute/verifiable/wasm`;
  const unpaid = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const { fetch: pay, payer } = payingFetch(dev, { maxAmount: process.env.MAX_AMOUNT ?? '10000' });
  const paid = await pay(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await paid.text();
  check(paid.ok, `paid request: ${paid.status} ${text}`);
  const res = JSON.parse(text);

  // 3. Open the result and check its commitment and signature.
  check(res.session_id === session.session_id && res.request_id === hex(rid), 'answer for another request');
  const sealedResult = unhex(res.encrypted_result);
  const plain = await suite.open({ recipientKey: clientKeys.privateKey, enc: sealedResult.subarray(0, 32), info: enc.encode('agentnet/result/v1') }, sealedResult.subarray(32), aad);
  const result = JSON.parse(new TextDecoder().decode(plain));
  const output = Buffer.from(result.output ?? '', 'base64');
  const salt = unhex(result.salt);
  check(Buffer.from(unhex(result.module_sha256)).equals(sha256(wasm)), 'the node ran another module');
  const p = res.payment ?? {};
  const argsHash = sha256(salt, u32(args.length), ...args.map((a) => lp(enc.encode(a))), lp(new Uint8Array()));
  const fuel = Buffer.alloc(8);
  fuel.writeBigUInt64BE(BigInt(result.fuel));
  const commitment = sha256(enc.encode('agentnet/commitment/v1'), lp(sid), lp(rid), lp(unhex(result.module_sha256)), lp(argsHash), lp(sha256(salt, output)),
    u32(result.exit_code), fuel, lp(enc.encode((p.network ?? '').toLowerCase())), lp(enc.encode((p.payer ?? '').toLowerCase())), lp(enc.encode((p.nonce ?? '').toLowerCase())));
  check(hex(commitment) === res.result_commitment, 'commitment does not match the result and payment');
  check(verify(null, Buffer.concat([enc.encode('agentnet/result-signature/v1'), commitment]), ed25519Key(identityKey(identity)), unhex(res.signature)),
    'the identity key did not sign the commitment');
  out = {
    unpaidStatus: unpaid.status,
    hasPaymentRequired: unpaid.headers.has('PAYMENT-REQUIRED'),
    status: paid.status,
    output: output.toString(),
    exitCode: result.exit_code,
    payment: res.payment,
    settlement: settlement(paid),
    payer,
  };
} catch (err) {
  out = { error: String(err?.stack ?? err) };
}
console.log(JSON.stringify(out));
process.exit(out.status === 200 && out.settlement?.success ? 0 : 1);
