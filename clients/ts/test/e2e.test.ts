// End to end against a real `veil dev`: cw20-base deployed and used through the client,
// every answer decrypted here and checked; what another account cannot read, checked too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ContractError,
  decodeTx,
  encodeTx,
  fromBase64,
  InsufficientFundsError,
  OutOfGasError,
  toHex,
  UnauthorizedError,
  VeilClient,
  VeilError,
  Wallet,
  CodeHashMismatchError,
  type NodeEvent,
  type SignRequest,
  type Signer,
  KeyPair,
  QUERY_POLICY_PRESETS,
} from '../src/index.js';
import { cw20Wasm, DevNode } from './devnode.js';

const CHAIN_ID = 'veil-dev';
let node: DevNode;
let wasm: Uint8Array;
const alice = Wallet.dev('alice');
const bob = Wallet.dev('bob');
const carol = Wallet.dev('carol');

before(async () => {
  wasm = cw20Wasm();
  node = await DevNode.start();
});

after(async () => {
  await node?.stop();
});

test('a confidential cw20 token, end to end', async () => {
  const asAlice = new VeilClient({ url: node.url, chainId: CHAIN_ID, wallet: alice });
  const asBob = new VeilClient({ url: node.url, chainId: CHAIN_ID, wallet: bob });
  const asCarol = new VeilClient({ url: node.url, chainId: CHAIN_ID, wallet: carol });
  const anonymous = new VeilClient({ url: node.url, chainId: CHAIN_ID });

  const status = await anonymous.query.status();
  assert.equal(status.chain_id, CHAIN_ID);
  assert.ok(status.latest_block_time_nanos > 1_700_000_000_000_000_000n, 'exact block time');

  // Events over the WebSocket while we work.
  const events: NodeEvent[] = [];
  const subscription = asAlice.subscribe((e) => events.push(e), { events: ['txs'] });
  await subscription.opened;

  const stored = await asAlice.tx.compute.storeCode({ wasm_byte_code: wasm, query_policy: 'cw20' });
  assert.ok(stored.codeId !== null && stored.codeId > 0, 'a code id');
  assert.ok(stored.gasWanted >= stored.gasUsed && stored.gasUsed > 0);
  const codeHash = await asAlice.query.compute.codeHashByCodeId(stored.codeId);
  // The policy this client encoded is the one the node decoded.
  assert.deepEqual((await anonymous.query.compute.codeInfo(stored.codeId)).default_query_policy, QUERY_POLICY_PRESETS.cw20);

  const initMsg = {
    name: 'Veil Token',
    symbol: 'VEIL',
    decimals: 6,
    initial_balances: [
      { address: alice.address, amount: '1000000' },
      { address: bob.address, amount: '500' },
    ],
    mint: null,
    marketing: null,
  };
  const simulated = await asAlice.tx.compute.instantiateContract.simulate({
    code_id: stored.codeId,
    init_msg: initMsg,
    label: 'veil-token',
    admin: alice.address,
  });
  assert.ok(simulated.gasUsed > 0);
  const instantiated = await asAlice.tx.compute.instantiateContract(
    { code_id: stored.codeId, code_hash: codeHash, init_msg: initMsg, label: 'veil-token', admin: alice.address },
    { memo: 'ts e2e' },
  );
  const token = instantiated.contractAddress!;
  assert.match(token, /^veil1/);
  assert.equal(instantiated.tx.body.memo, 'ts e2e');

  // Gas by simulation: the limit is the simulated gas × 1.3, and the fee covers it.
  const transferMsg = { transfer: { recipient: carol.address, amount: '1234' } };
  const probe = await asAlice.tx.compute.executeContract.simulate({ contract_address: token, msg: transferMsg });
  const sent = await asAlice.tx.compute.executeContract({ contract_address: token, code_hash: codeHash, msg: transferMsg });
  assert.equal(sent.gasWanted, Math.ceil(probe.gasUsed * 1.3));
  assert.equal(sent.fee, BigInt(Math.ceil((sent.gasWanted * status.params.fee_per_million_gas) / 1e6)));
  const attributes = Object.fromEntries((sent.result?.attributes ?? []).map((a) => [a.key, a.value]));
  assert.deepEqual(attributes, { action: 'transfer', from: alice.address, to: carol.address, amount: '1234' });

  // The bytes the node stored are the bytes this client encoded.
  const stored_tx = await asAlice.rpc.tx(sent.transactionHash);
  assert.ok(stored_tx !== undefined && stored_tx !== 'pending');
  assert.equal(toHex(fromBase64(stored_tx.tx_bytes)), toHex(encodeTx(sent.tx)));
  assert.deepEqual(decodeTx(fromBase64(stored_tx.tx_bytes)), sent.tx);

  // Signed queries: each account reads its own balance, nobody else's.
  assert.deepEqual(await asCarol.query.compute.queryContract({ contract_address: token, query: { balance: { address: carol.address } } }), {
    balance: '1234',
  });
  assert.deepEqual(await asAlice.query.compute.queryContract({ contract_address: token, query: { balance: { address: alice.address } } }), {
    balance: String(1_000_000 - 1234),
  });
  await assert.rejects(
    asBob.query.compute.queryContract({ contract_address: token, query: { balance: { address: carol.address } } }),
    (e: unknown) => e instanceof UnauthorizedError && e.kind === 'unauthorized' && e.txHash === '',
  );
  await assert.rejects(
    anonymous.query.compute.queryContract({ contract_address: token, query: { balance: { address: carol.address } } }),
    UnauthorizedError,
  );
  // What the token describes is public, also to anonymous queries.
  const info = await anonymous.query.compute.queryContract<{ symbol: string; total_supply: string }>({
    contract_address: token,
    query: { token_info: {} },
  });
  assert.equal(info.symbol, 'VEIL');
  assert.equal(info.total_supply, '1000500');

  // A past transaction, by hash: its sender reads message and result; others read neither.
  const mine = await asAlice.query.getTx(sent.transactionHash);
  assert.ok(mine !== null && mine.decrypted);
  assert.deepEqual(mine.message, transferMsg);
  assert.deepEqual(mine.result?.attributes, sent.result?.attributes);
  assert.equal(mine.sender, alice.address);
  const theirs = await asCarol.query.getTx(sent.transactionHash);
  assert.ok(theirs !== null && !theirs.decrypted);
  assert.equal(theirs.message, null);
  assert.equal(theirs.result, null);
  assert.equal(await asCarol.query.getTx('00'.repeat(32)), null);

  // The contract's own error, decrypted, as a typed error (the simulation catches it first).
  await assert.rejects(
    asBob.tx.compute.executeContract({ contract_address: token, msg: { transfer: { recipient: carol.address, amount: '501' } } }),
    (e: unknown) => e instanceof ContractError && e.txHash === '' && /Cannot Sub|Overflow|insufficient/i.test(e.contractError ?? ''),
  );
  // …and in a block, with an explicit gas limit (no simulation): fee paid, error decrypted.
  const failed = await asBob.tx.compute
    .executeContract(
      { contract_address: token, msg: { transfer: { recipient: carol.address, amount: '501' } } },
      { gasLimit: 2_000_000 },
    )
    .then(
      () => assert.fail('the transfer must fail'),
      (e: unknown) => e,
    );
  assert.ok(failed instanceof ContractError && failed.txHash.length === 64, String(failed));
  const failedTx = await asBob.query.getTx(failed.txHash);
  assert.ok(failedTx?.error instanceof ContractError);
  assert.equal(failedTx.error.contractError, failed.contractError);

  await assert.rejects(
    asAlice.tx.compute.executeContract({ contract_address: token, msg: transferMsg }, { gasLimit: 30_000 }),
    OutOfGasError,
  );
  await assert.rejects(
    asAlice.tx.compute.executeContract({ contract_address: token, code_hash: '00'.repeat(32), msg: transferMsg }),
    CodeHashMismatchError,
  );
  const poor = Wallet.generate().wallet;
  await assert.rejects(
    new VeilClient({ url: node.url, chainId: CHAIN_ID, wallet: poor }).tx.bank.send({ to_address: bob.address, amount: 5n }),
    InsufficientFundsError,
  );
  await assert.rejects(new VeilClient({ url: node.url, chainId: 'other-chain' }).query.status(), VeilError);

  // Bank send: public balances.
  const bobBefore = await asAlice.query.bank.balance(bob.address);
  await asAlice.tx.bank.send({ to_address: bob.address, amount: '700uveil' });
  assert.equal(await asAlice.query.bank.balance(bob.address), bobBefore + 700n);

  // Migration by the admin to the same code (a new instance of the code would do too).
  const migrated = await asAlice.tx.compute.migrateContract({ contract_address: token, code_id: stored.codeId, msg: {} });
  assert.ok(migrated.height > 0);
  await assert.rejects(
    asBob.tx.compute.migrateContract({ contract_address: token, code_id: stored.codeId, msg: {} }),
    (e: unknown) => e instanceof UnauthorizedError,
  );

  // A signer of one's own (what a browser wallet would implement) sees what it signs.
  const requests: SignRequest['domain'][] = [];
  const key = KeyPair.dev('carol');
  const recording: Signer = {
    address: key.address,
    publicKey: key.publicKey,
    encryptionPublicKey: key.encryptionPublicKey,
    async sign(request) {
      requests.push(request.domain);
      if (request.domain !== 'query_permit') assert.equal(request.document.chainId, CHAIN_ID);
      const { sha256 } = await import('@noble/hashes/sha2.js');
      return key.signDigest(sha256(request.signBytes));
    },
    async sharedSecret(peer) {
      return key.sharedSecret(peer);
    },
  };
  const viaSigner = new VeilClient({ url: node.url, chainId: CHAIN_ID, wallet: recording });
  await viaSigner.tx.compute.executeContract({ contract_address: token, msg: { transfer: { recipient: bob.address, amount: '4' } } });
  assert.deepEqual(await viaSigner.query.compute.queryContract({ contract_address: token, query: { balance: { address: carol.address } } }), {
    balance: '1230',
  });
  await viaSigner.query.compute.queryContract({ contract_address: token, query: { balance: { address: carol.address } } });
  assert.deepEqual(requests, ['simulate', 'tx', 'query_permit'], 'one permit per contract, reused');

  // The subscription saw our transactions' receipts.
  await new Promise((r) => setTimeout(r, 500));
  subscription.close();
  await subscription.closed;
  const seen = new Set(events.flatMap((e) => (e.type === 'tx' ? [e.receipt.tx_hash] : [])));
  assert.ok(seen.has(sent.transactionHash), 'the transfer came over the WebSocket');
  assert.ok(seen.has(instantiated.transactionHash));
});
