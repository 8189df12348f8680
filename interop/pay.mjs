// Pays one x402-protected URL with the official client and prints
// {status, body, settlement} as JSON. The dev node's values come from
// dev.json (AGENTNODE_DEV_JSON=path) or upper-case environment variables.
//
//   AGENTNODE_DEV_JSON=.data/dev.json node pay.mjs URL [METHOD] [JSON_BODY]
//
// The bridge interop test builds on this: seal the body with @hpke/core,
// then pay the bridge's execution route.
import { devFromEnv, payingFetch, settlement } from './lib/x402client.mjs';

const [url, method = 'GET', body] = process.argv.slice(2);
if (!url) {
  console.error('usage: node pay.mjs URL [METHOD] [JSON_BODY]');
  process.exit(2);
}
const dev = await devFromEnv();
const { fetch: pay } = payingFetch(dev, { maxAmount: process.env.MAX_AMOUNT });
const res = await pay(url, {
  method,
  headers: body ? { 'content-type': 'application/json' } : {},
  body,
});
const out = { status: res.status, body: await res.text(), settlement: settlement(res) };
console.log(JSON.stringify(out));
process.exit(res.ok ? 0 : 1);
