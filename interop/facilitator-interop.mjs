// Interop: the official @x402/express middleware, configured with
// agentnode's facilitator URL (FACILITATOR_URL), protects a route priced
// PRICE atomic units of the dev token; the official paying client pays it on
// the embedded chain. Prints one JSON line with the outcome; exits non-zero
// on any failure. Run by x402/facilitator's TestInteropOfficialExpress.
import express from 'express';
import { paymentMiddleware, x402ResourceServer } from '@x402/express';
import { HTTPFacilitatorClient } from '@x402/core/server';
import { ExactEvmScheme } from '@x402/evm/exact/server';
import { devFromEnv, payingFetch, settlement } from './lib/x402client.mjs';

const dev = await devFromEnv();
const price = process.env.PRICE ?? '10000';
const facilitator = new HTTPFacilitatorClient({ url: process.env.FACILITATOR_URL, timeoutMs: 30000 });
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
          maxTimeoutSeconds: 300,
        },
        description: 'interop test resource',
        mimeType: 'application/json',
      },
    },
    server,
  ),
);
app.get('/paid', (_req, res) => res.json({ paid: 'content' }));

const listener = app.listen(0, '127.0.0.1');
await new Promise((resolve, reject) => listener.once('listening', resolve).once('error', reject));
const url = `http://127.0.0.1:${listener.address().port}/paid`;

let out;
try {
  const unpaid = await fetch(url);
  const { fetch: pay, payer } = payingFetch(dev, { maxAmount: price });
  const paid = await pay(url);
  out = {
    unpaidStatus: unpaid.status,
    hasPaymentRequired: unpaid.headers.has('PAYMENT-REQUIRED'),
    status: paid.status,
    body: await paid.text(),
    settlement: settlement(paid),
    payer,
  };
} catch (err) {
  out = { error: String(err?.stack ?? err) };
} finally {
  listener.close();
}
console.log(JSON.stringify(out));
process.exit(out.status === 200 && out.settlement?.success ? 0 : 1);
