// Reference measurement: the official TypeScript x402 stack on this
// machine — an @x402/express server protecting a trivial JSON route, paid by
// CLIENTS concurrent official clients (@x402/fetch + @x402/evm + viem) —
// settling either through the facilitator at FACILITATOR_URL (agentnode
// dev's own /facilitator), or, with GAS_KEY_FILE, through the official
// TypeScript facilitator (@x402/core's x402Facilitator with @x402/evm's
// exact scheme and a viem wallet with a nonce manager) served over HTTP in
// this process, as notes §14 measured it. It prints {clients, requests,
// facilitator, reqPerSec, p50Ms, p99Ms}. docs/x402.md compares
// BenchmarkPaidExec with it.
//
//   AGENTNODE_DEV_JSON=.data/dev.json FACILITATOR_URL=http://127.0.0.1:3000/facilitator \
//     CLIENTS=4 REQUESTS=400 node bench-ts.mjs
//   AGENTNODE_DEV_JSON=.data/dev.json GAS_KEY_FILE=.data/gas.key CLIENTS=4 node bench-ts.mjs
import express from 'express';
import { paymentMiddleware, x402ResourceServer } from '@x402/express';
import { HTTPFacilitatorClient } from '@x402/core/server';
import { ExactEvmScheme } from '@x402/evm/exact/server';
import { x402Facilitator } from '@x402/core/facilitator';
import { ExactEvmScheme as ExactEvmFacilitator } from '@x402/evm/exact/facilitator';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { createWalletClient, http, nonceManager, publicActions } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { readFile } from 'node:fs/promises';
import { devChain, devFromEnv, payingFetch } from './lib/x402client.mjs';

const dev = await devFromEnv();

// startTSFacilitator serves the official TypeScript facilitator over HTTP.
async function startTSFacilitator(keyFile) {
  const key = (await readFile(keyFile, 'utf8')).trim();
  const account = privateKeyToAccount(key.startsWith('0x') ? key : `0x${key}`, { nonceManager });
  const wallet = createWalletClient({ account, chain: devChain(dev), transport: http(dev.rpc_url), pollingInterval: Number(process.env.POLL_MS ?? 100) }).extend(publicActions);
  const f = new x402Facilitator().register(dev.network, new ExactEvmFacilitator(toFacilitatorEvmSigner(Object.assign(wallet, { address: account.address }))));
  const app = express();
  app.use(express.json());
  app.post('/verify', async (req, res) => res.json(await f.verify(req.body.paymentPayload, req.body.paymentRequirements)));
  app.post('/settle', async (req, res) => res.json(await f.settle(req.body.paymentPayload, req.body.paymentRequirements)));
  app.get('/supported', (_req, res) => res.json(f.getSupported()));
  const l = app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => l.once('listening', resolve).once('error', reject));
  return { url: `http://127.0.0.1:${l.address().port}`, close: () => l.close() };
}

const tsFacilitator = process.env.GAS_KEY_FILE ? await startTSFacilitator(process.env.GAS_KEY_FILE) : null;
const clients = Number(process.env.CLIENTS ?? 4);
const requests = Number(process.env.REQUESTS ?? 400);
const price = process.env.PRICE ?? '100';
const facilitatorURL = tsFacilitator?.url ?? process.env.FACILITATOR_URL;
const facilitator = new HTTPFacilitatorClient({ url: facilitatorURL, timeoutMs: 60000 });
const server = new x402ResourceServer(facilitator).register(dev.network, new ExactEvmScheme());
const app = express();
app.use(
  paymentMiddleware(
    {
      'GET /paid': {
        accepts: {
          scheme: 'exact',
          network: dev.network,
          payTo: dev.pay_to,
          price: { amount: price, asset: dev.token, extra: { name: dev.token_name, version: dev.token_version } },
          maxTimeoutSeconds: Number(process.env.MAX_TIMEOUT ?? 3600),
        },
        description: 'reference route',
        mimeType: 'application/json',
      },
    },
    server,
  ),
);
app.get('/paid', (_req, res) => res.json({ ok: true }));
const listener = app.listen(0, '127.0.0.1');
await new Promise((resolve, reject) => listener.once('listening', resolve).once('error', reject));
const url = `http://127.0.0.1:${listener.address().port}/paid`;

const { fetch: pay } = payingFetch(dev, { maxAmount: price });
const warm = await pay(url);
if (!warm.ok) throw new Error(`warm-up: ${warm.status} ${await warm.text()}`);

const latencies = [];
let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (next++ < requests) {
      const t0 = performance.now();
      const r = await pay(url);
      await r.text();
      if (!r.ok) throw new Error(`paid request: ${r.status}`);
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - start) / 1000;
listener.close();
tsFacilitator?.close();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))];
console.log(JSON.stringify({ clients, requests, facilitator: tsFacilitator ? 'typescript' : facilitatorURL, reqPerSec: requests / seconds, p50Ms: pct(50), p99Ms: pct(99) }));
process.exit(0);
