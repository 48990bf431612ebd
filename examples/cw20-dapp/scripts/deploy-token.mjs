// Deploys the example token on a dev chain: cw20-base 2.0.0 built from source by
// `veil contract build`, uploaded and instantiated by alice with the `cw20` query policy
// (each account reads only its own balance). Prints the token's address.
//   VEIL_NODE (default http://127.0.0.1:26657), VEIL_BIN (default: `veil` on PATH)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KeyPair, VeilClient, Wallet } from '@veil/client';

export async function deployToken({ node = 'http://127.0.0.1:26657', veil = 'veil', chainId = 'veil-dev', log = () => {} } = {}) {
  const wasmPath = execFileSync(veil, ['contract', 'build', '--crate', 'cw20-base@2.0.0', '--quiet'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop();
  const client = new VeilClient({ url: node, chainId, wallet: Wallet.dev('alice') });
  const stored = await client.tx.compute.storeCode({ wasm_byte_code: new Uint8Array(readFileSync(wasmPath)), query_policy: 'cw20' });
  log(`stored cw20-base as code ${stored.codeId}`);
  const instantiated = await client.tx.compute.instantiateContract({
    code_id: stored.codeId,
    label: `veil-example-token-${Date.now()}`,
    admin: client.address,
    init_msg: {
      name: 'Example Token',
      symbol: 'XMPL',
      decimals: 6,
      initial_balances: [
        { address: KeyPair.dev('alice').address, amount: '1000000' },
        { address: KeyPair.dev('bob').address, amount: '5000' },
      ],
      mint: null,
      marketing: null,
    },
  });
  return instantiated.contractAddress;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const token = await deployToken({
    node: process.env.VEIL_NODE,
    veil: process.env.VEIL_BIN,
    log: (line) => console.error(line),
  });
  console.log(token);
}
