import assert from 'node:assert/strict';
import { test } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  accountAddress,
  decodeTx,
  encodeTx,
  encodeTxBody,
  failure,
  fromHex,
  isAddress,
  KeyPair,
  OutOfGasError,
  PostcardReader,
  PostcardWriter,
  QUERY_POLICY_PRESETS,
  requiredFee,
  toHex,
  txHash,
  txSignBytes,
  UnauthorizedError,
  Wallet,
  type TxBody,
} from '../src/index.js';

test('postcard varints, as Rust postcard writes them', () => {
  const hexOf = (v: bigint) => toHex(new PostcardWriter().u128(v).finish());
  assert.equal(hexOf(0n), '00');
  assert.equal(hexOf(127n), '7f');
  assert.equal(hexOf(128n), '8001');
  assert.equal(hexOf(300n), 'ac02');
  assert.equal(hexOf((1n << 128n) - 1n), 'ff'.repeat(18) + '03');
  assert.throws(() => new PostcardWriter().u64(1n << 64n), RangeError);
  assert.throws(() => new PostcardWriter().u128(-1n), RangeError);
  const r = new PostcardReader(fromHex('ac02'));
  assert.equal(r.u64(), 300n);
  r.end();
  assert.throws(() => new PostcardReader(fromHex('80')).u64(), /end of input/);
});

const body = (msg: TxBody['msg']): TxBody => ({ chainId: 'veil-dev', sequence: 7n, gasLimit: 200_000n, fee: 200n, memo: 'hi', msg });

test('transactions round-trip and sign over the right domain', () => {
  const key = KeyPair.dev('alice');
  const messages: TxBody['msg'][] = [
    { type: 'send', to: KeyPair.dev('bob').address, amount: 10n ** 30n },
    { type: 'store_code', wasm: new Uint8Array([0, 97, 115, 109]), queryPolicy: QUERY_POLICY_PRESETS.cw20 },
    { type: 'instantiate', codeId: 3n, label: 'x', admin: null, msg: new Uint8Array(117), funds: 5n, queryPolicy: null },
    { type: 'execute', contract: 'veil1abc', msg: new Uint8Array([1, 2]), funds: 0n },
    { type: 'migrate', contract: 'veil1abc', codeId: 9n, msg: new Uint8Array([3]) },
    { type: 'set_query_policy', contract: 'veil1abc', queryPolicy: { default: { querier_in_answer: 'owner' }, queries: { b: 'admin', a: 'deny' }, raw: { namespaces: ['n'] } } },
    { type: 'revoke_node', registrationKey: new Uint8Array(32).fill(9), reason: 'gone' },
  ];
  for (const msg of messages) {
    const b = body(msg);
    const signature = key.signDigest(sha256(txSignBytes(b, 'tx')));
    const bytes = encodeTx({ body: b, publicKey: key.publicKey, signature });
    const decoded = decodeTx(bytes);
    if (msg.type === 'set_query_policy') {
      // Map keys come back in byte order.
      assert.deepEqual(Object.keys(decoded.body.msg.type === 'set_query_policy' ? decoded.body.msg.queryPolicy.queries ?? {} : {}), ['a', 'b']);
    } else {
      assert.deepEqual(decoded.body, b);
    }
    assert.equal(txHash(bytes), toHex(sha256(bytes)));
    assert.ok(secp256k1.verify(signature, sha256(txSignBytes(b, 'tx')), key.publicKey, { prehash: false }));
    assert.ok(!secp256k1.verify(signature, sha256(txSignBytes(b, 'simulate')), key.publicKey, { prehash: false }));
    assert.throws(() => decodeTx(new Uint8Array([...bytes, 0])), /trailing/);
    assert.throws(() => decodeTx(bytes.subarray(0, bytes.length - 1)), /end of input/);
  }
  // The body's layout: chain id, sequence, gas, fee, memo, then the message's variant.
  assert.equal(toHex(encodeTxBody(body({ type: 'send', to: 'a', amount: 1n }))), `08${toHex(new TextEncoder().encode('veil-dev'))}07c09a0cc8010268690001610` + '1');
});

test('signatures are low-S and deterministic', async () => {
  const wallet = Wallet.dev('bob');
  const digestOf = (i: number) => sha256(new Uint8Array([i]));
  for (let i = 0; i < 20; i++) {
    const request = { domain: 'tx' as const, signBytes: new Uint8Array([i]), document: body({ type: 'send', to: 'a', amount: 1n }) };
    const signature = await wallet.sign(request);
    assert.deepEqual(signature, await wallet.sign(request));
    const s = BigInt(`0x${toHex(signature.subarray(32))}`);
    assert.ok(s <= secp256k1.Point.CURVE().n / 2n, 'low S');
    assert.ok(secp256k1.verify(signature, digestOf(i), wallet.publicKey, { prehash: false }));
  }
});

test('addresses and keys', () => {
  const key = KeyPair.dev('alice');
  assert.equal(accountAddress(key.publicKey), key.address);
  assert.ok(isAddress(key.address));
  assert.ok(!isAddress('cosmos1r5v5srda7xfth3hn2s26txvrcrntldjumt8mhl'));
  assert.ok(!isAddress(`${key.address.slice(0, -1)}x`));
  assert.throws(() => KeyPair.fromMnemonic('abandon abandon'), /not a valid BIP-39/);
  assert.throws(() => KeyPair.fromSecretKey(new Uint8Array(32)), /not a valid secp256k1/);
  assert.equal(JSON.stringify(key), JSON.stringify({ address: key.address }), 'no secret in JSON');
  const { wallet, mnemonic } = Wallet.generate();
  assert.equal(mnemonic.split(' ').length, 24);
  assert.equal(Wallet.fromMnemonic(`  ${mnemonic.replaceAll(' ', '\n ')} `).address, wallet.address);
});

test('fees and typed failures', () => {
  assert.equal(requiredFee(1_000_000n, 1000n), 1000n);
  assert.equal(requiredFee(1n, 1000n), 1n);
  assert.equal(requiredFee(0n, 1000n), 0n);
  const details = { txHash: '', message: 'm', gasUsed: 5n, gasLimit: 4n, contractError: null };
  assert.ok(failure({ ...details, kind: 'out_of_gas' }) instanceof OutOfGasError);
  assert.ok(failure({ ...details, kind: 'unauthorized' }) instanceof UnauthorizedError);
  assert.match(failure({ ...details, kind: 'out_of_gas' }).message, /used 5 of the gas limit 4/);
});
