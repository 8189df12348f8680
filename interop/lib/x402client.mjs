// Paying client built only from the official x402 packages: @x402/fetch's
// wrapFetchWithPayment, @x402/evm's exact scheme and a viem account. The
// interop tests use it against agentnode: the facilitator test pays an
// @x402/express server that uses our facilitator, and the bridge test pays
// agentnode's own paid routes (it needs only the values of dev.json).
import { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } from '@x402/fetch';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { privateKeyToAccount } from 'viem/accounts';

// devChain describes the embedded chain to viem.
export function devChain(dev) {
  return {
    id: Number(dev.chain_id),
    name: 'agentnode dev chain',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [dev.rpc_url] } },
  };
}

// payingFetch returns a fetch that answers 402s by paying with
// dev.payer_key, allowing the dev token (outside the SDK's default USDC
// list) up to maxAmount atomic units per payment.
export function payingFetch(dev, { maxAmount } = {}) {
  const account = privateKeyToAccount(dev.payer_key);
  const client = new x402Client();
  client.register(dev.network, new ExactEvmScheme(account, { rpcUrl: dev.rpc_url }));
  client.setSpendControls({
    allowedAssets: [{ network: dev.network, asset: dev.token, ...(maxAmount ? { maxAmountPerPayment: String(maxAmount) } : {}) }],
  });
  return { fetch: wrapFetchWithPayment(fetch, client), payer: account.address };
}

// settlement decodes the PAYMENT-RESPONSE (or X-PAYMENT-RESPONSE) header.
export function settlement(response) {
  const h = response.headers.get('PAYMENT-RESPONSE') ?? response.headers.get('X-PAYMENT-RESPONSE');
  return h ? decodePaymentResponseHeader(h) : null;
}

// devFromEnv reads dev.json's fields from AGENTNODE_DEV_JSON (a path) or
// from the environment variables of the same names in upper case.
export async function devFromEnv() {
  if (process.env.AGENTNODE_DEV_JSON) {
    const { readFile } = await import('node:fs/promises');
    return JSON.parse(await readFile(process.env.AGENTNODE_DEV_JSON, 'utf8'));
  }
  const keys = ['rpc_url', 'chain_id', 'network', 'token', 'token_name', 'token_version', 'pay_to', 'payer_key', 'bridge_url'];
  return Object.fromEntries(keys.map((k) => [k, process.env[k.toUpperCase()]]));
}
