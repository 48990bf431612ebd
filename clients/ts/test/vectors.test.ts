import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  accountAddress,
  devMnemonic,
  encodePermitBody,
  encodeQueryPermit,
  encryptInput,
  fromHex,
  KeyPair,
  OutputKind,
  permitSignBytes,
  toHex,
  TxKey,
  txKeyOf,
  utf8Bytes,
  utf8Text,
  Wallet,
  type PermitBody,
} from '../src/index.js';
import { need, PROTOCOL_MD, textVector, vectorBlock } from './protocol-doc.js';

const ABANDON_24 = `${'abandon '.repeat(23)}art`;

test('wallet vectors of docs/protocol.md', () => {
  const v = vectorBlock('veil-wallet-vectors');
  const abandon = KeyPair.fromMnemonic(ABANDON_24);
  const alice = KeyPair.dev('alice');
  const computed = new Map<string, string>([
    ['abandon_secret_key', toHex(abandon.secretKey())],
    ['abandon_public_key', toHex(abandon.publicKey)],
    ['abandon_address', abandon.address],
    ['abandon_x25519_secret', toHex(abandon.encryptionSecret())],
    ['abandon_x25519_public', toHex(abandon.encryptionPublicKey)],
    ['alice_mnemonic', devMnemonic('alice')],
    ['alice_address', alice.address],
    ['alice_x25519_public', toHex(alice.encryptionPublicKey)],
    ['bob_address', KeyPair.dev('bob').address],
    ['carol_address', KeyPair.dev('carol').address],
  ]);
  assert.deepEqual([...computed.keys()], [...v.keys()], 'the same vectors, in the same order');
  for (const [name, value] of v) assert.equal(computed.get(name), value, name);
});

test('envelope and output vectors of docs/protocol.md', async () => {
  const v = vectorBlock('veil-test-vectors');
  const userSecret = fromHex(need(v, 'user_secret'));
  const ioPublic = fromHex(need(v, 'io_public'));
  const generation = Number(need(v, 'generation'));
  const nonce = fromHex(need(v, 'nonce'));
  const codeHash = sha256(utf8Bytes('code'));
  assert.equal(toHex(codeHash), need(v, 'code_hash'));

  const userPublic = x25519.getPublicKey(userSecret);
  assert.equal(toHex(userPublic), need(v, 'user_public'));
  const shared = (peer: Uint8Array) => x25519.getSharedSecret(userSecret, peer);
  assert.equal(toHex(shared(ioPublic)), need(v, 'shared_secret'));
  // The network's side of the exchange gives the same secret.
  assert.equal(toHex(x25519.getSharedSecret(fromHex(need(v, 'io_secret')), userPublic)), need(v, 'shared_secret'));

  const message = utf8Bytes(need(v, 'message'));
  const { envelope, txKey } = await encryptInput(shared, userPublic, ioPublic, generation, codeHash, message, nonce);
  assert.equal(toHex(txKey.bytes()), need(v, 'tx_key'));
  assert.equal(toHex(envelope), need(v, 'envelope'));

  // A wallet recomputes the key of a past envelope from the nonce alone, and opens it.
  const again = await txKeyOf(envelope, shared, userPublic, ioPublic);
  assert.equal(toHex(again.bytes()), need(v, 'tx_key'));
  const opened = again.openInput(envelope);
  assert.equal(toHex(opened.codeHash), need(v, 'code_hash'));
  assert.equal(utf8Text(opened.message), need(v, 'message'));

  const kind = Number(need(v, 'output_kind'));
  assert.equal(kind, OutputKind.Data);
  const index = Number(need(v, 'output_index'));
  const output = txKey.encryptOutput(index, OutputKind.Data, utf8Bytes(need(v, 'output_plaintext')));
  assert.equal(toHex(output), need(v, 'output_ciphertext'));
  assert.equal(utf8Text(txKey.decryptOutput(index, OutputKind.Data, output)), need(v, 'output_plaintext'));
  // Kind and index are bound: the same bytes are no attribute, nor output 1.
  assert.throws(() => txKey.decryptOutput(index, OutputKind.AttributeValue, output), /does not decrypt/);
  assert.throws(() => txKey.decryptOutput(index + 1, OutputKind.Data, output), /does not decrypt/);
  // Any modified byte of the envelope fails to open.
  const tampered = Uint8Array.from(envelope);
  tampered[10] = tampered[10]! ^ 1;
  assert.throws(() => txKey.openInput(tampered), /does not decrypt/);
});

test('low-order network keys are refused', async () => {
  const wallet = Wallet.dev('alice');
  await assert.rejects(
    encryptInput((p) => wallet.sharedSecret(p), wallet.encryptionPublicKey, new Uint8Array(32), 0, new Uint8Array(32), new Uint8Array(0)),
    /low-order/,
  );
});

test('simulation key vector and permit vectors of docs/protocol.md', () => {
  const key = KeyPair.fromSecretKey(new Uint8Array(32).fill(1));
  const simulation = /secret key 32 × `0x01` has\s+public key `([0-9a-f]+)` and\s+address `(veil1[0-9a-z]+)`/.exec(
    PROTOCOL_MD,
  );
  assert.ok(simulation, 'the simulation test vector is in docs/protocol.md');
  assert.equal(toHex(key.publicKey), simulation[1]);
  assert.equal(accountAddress(key.publicKey), simulation[2]);

  const body: PermitBody = { chainId: 'veil-dev', contracts: [key.address], expiresAtNanos: 1800000000000000000n };
  assert.equal(toHex(permitSignBytes(body)), textVector('permit_sign_bytes'));
  assert.equal(toHex(sha256(permitSignBytes(body))), textVector('permit_digest'));
  const signature = key.signDigest(sha256(permitSignBytes(body)));
  assert.equal(toHex(signature), textVector('permit_signature'));
  assert.equal(toHex(encodeQueryPermit({ body, publicKey: key.publicKey, signature })), textVector('permit_bytes'));
  assert.ok(toHex(encodeQueryPermit({ body, publicKey: key.publicKey, signature })).startsWith(toHex(encodePermitBody(body))));
});

test('sign domains are the documented bytes', () => {
  const doc = PROTOCOL_MD;
  assert.match(doc, new RegExp(`veil/simulate-v1.*\\n?.*${toHex(utf8Bytes('veil/simulate-v1'))}`));
  assert.match(doc, new RegExp(toHex(utf8Bytes('veil/tx-v1'))));
});
