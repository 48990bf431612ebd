// Transactions and query permits (docs/protocol.md, "Transactions", "Signed queries"):
// postcard encodings, the bytes a signature covers, and the transaction hash.
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, PostcardReader, PostcardWriter, toHex, utf8Bytes } from './encoding.js';
import { VeilError } from './errors.js';
import { readQueryPolicy, writeQueryPolicy, type QueryPolicy } from './policy.js';

/** What a transaction does. Contract `msg` fields are envelopes (encrypted). */
export type Msg =
  | { type: 'send'; to: string; amount: bigint }
  | { type: 'store_code'; wasm: Uint8Array; queryPolicy: QueryPolicy | null }
  | {
      type: 'instantiate';
      codeId: bigint;
      label: string;
      admin: string | null;
      msg: Uint8Array;
      funds: bigint;
      queryPolicy: QueryPolicy | null;
    }
  | { type: 'execute'; contract: string; msg: Uint8Array; funds: bigint }
  | { type: 'migrate'; contract: string; codeId: bigint; msg: Uint8Array }
  | { type: 'set_query_policy'; contract: string; queryPolicy: QueryPolicy }
  | { type: 'register_node'; registrationKey: Uint8Array; attestation: Uint8Array }
  | { type: 'revoke_node'; registrationKey: Uint8Array; reason: string };

/** The signed part of a transaction. */
export interface TxBody {
  chainId: string;
  /** The signer's account sequence (each value is accepted once, in order). */
  sequence: bigint;
  gasLimit: bigint;
  /** In uveil; the whole fee is charged whatever the transaction uses. */
  fee: bigint;
  memo: string;
  msg: Msg;
}

export interface Tx {
  body: TxBody;
  /** 33-byte compressed secp256k1 key. */
  publicKey: Uint8Array;
  /** 64-byte ECDSA `r || s`, low-S. */
  signature: Uint8Array;
}

export interface PermitBody {
  chainId: string;
  contracts: string[];
  expiresAtNanos: bigint;
}

export interface QueryPermit {
  body: PermitBody;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** What a signature is for; each has its own domain prefix, so none passes for another. */
export type SignDomain = 'tx' | 'simulate' | 'query_permit';
export const SIGN_DOMAINS: Record<SignDomain, Uint8Array> = {
  tx: utf8Bytes('veil/tx-v1'),
  simulate: utf8Bytes('veil/simulate-v1'),
  query_permit: utf8Bytes('veil/query-permit-v1'),
};

const MSG_VARIANTS = {
  send: 0,
  store_code: 1,
  instantiate: 2,
  execute: 3,
  migrate: 4,
  set_query_policy: 5,
  register_node: 6,
  set_attestation_policy: 7,
  revoke_node: 8,
} as const;

function writeMsg(w: PostcardWriter, msg: Msg): void {
  w.variant(MSG_VARIANTS[msg.type]);
  switch (msg.type) {
    case 'send':
      w.string(msg.to).u128(msg.amount);
      break;
    case 'store_code':
      w.bytes(msg.wasm).option(msg.queryPolicy, (p) => writeQueryPolicy(w, p));
      break;
    case 'instantiate':
      w.u64(msg.codeId)
        .string(msg.label)
        .option(msg.admin, (a) => w.string(a))
        .bytes(msg.msg)
        .u128(msg.funds)
        .option(msg.queryPolicy, (p) => writeQueryPolicy(w, p));
      break;
    case 'execute':
      w.string(msg.contract).bytes(msg.msg).u128(msg.funds);
      break;
    case 'migrate':
      w.string(msg.contract).u64(msg.codeId).bytes(msg.msg);
      break;
    case 'set_query_policy':
      w.string(msg.contract);
      writeQueryPolicy(w, msg.queryPolicy);
      break;
    case 'register_node':
      w.fixed(msg.registrationKey, 32).bytes(msg.attestation);
      break;
    case 'revoke_node':
      w.fixed(msg.registrationKey, 32).string(msg.reason);
      break;
  }
}

function readMsg(r: PostcardReader): Msg {
  const index = r.variant();
  switch (index) {
    case 0:
      return { type: 'send', to: r.string(), amount: r.u128() };
    case 1:
      return { type: 'store_code', wasm: r.bytes(), queryPolicy: r.option(() => readQueryPolicy(r)) };
    case 2:
      return {
        type: 'instantiate',
        codeId: r.u64(),
        label: r.string(),
        admin: r.option(() => r.string()),
        msg: r.bytes(),
        funds: r.u128(),
        queryPolicy: r.option(() => readQueryPolicy(r)),
      };
    case 3:
      return { type: 'execute', contract: r.string(), msg: r.bytes(), funds: r.u128() };
    case 4:
      return { type: 'migrate', contract: r.string(), codeId: r.u64(), msg: r.bytes() };
    case 5:
      return { type: 'set_query_policy', contract: r.string(), queryPolicy: readQueryPolicy(r) };
    case 6:
      return { type: 'register_node', registrationKey: r.fixed(32), attestation: r.bytes() };
    case 8:
      return { type: 'revoke_node', registrationKey: r.fixed(32), reason: r.string() };
    default:
      throw new VeilError(`this client does not decode messages of variant ${index} (set_attestation_policy is read from the node's JSON)`);
  }
}

function writeTxBody(w: PostcardWriter, body: TxBody): void {
  w.string(body.chainId).u64(body.sequence).u64(body.gasLimit).u128(body.fee).string(body.memo);
  writeMsg(w, body.msg);
}

export function encodeTxBody(body: TxBody): Uint8Array {
  const w = new PostcardWriter();
  writeTxBody(w, body);
  return w.finish();
}

/** `domain || postcard(body)`: a wallet signs SHA-256 of these bytes. */
export function txSignBytes(body: TxBody, domain: 'tx' | 'simulate'): Uint8Array {
  return concatBytes(SIGN_DOMAINS[domain], encodeTxBody(body));
}

/** The transaction's wire bytes (what `POST /txs` takes). */
export function encodeTx(tx: Tx): Uint8Array {
  const w = new PostcardWriter();
  writeTxBody(w, tx.body);
  w.bytes(tx.publicKey).bytes(tx.signature);
  return w.finish();
}

export function decodeTx(bytes: Uint8Array): Tx {
  const r = new PostcardReader(bytes);
  const body: TxBody = {
    chainId: r.string(),
    sequence: r.u64(),
    gasLimit: r.u64(),
    fee: r.u128(),
    memo: r.string(),
    msg: readMsg(r),
  };
  const tx = { body, publicKey: r.bytes(), signature: r.bytes() };
  r.end();
  return tx;
}

/** Lowercase hex SHA-256 of the transaction bytes. */
export function txHash(txBytes: Uint8Array): string {
  return toHex(sha256(txBytes));
}

export function encodePermitBody(body: PermitBody): Uint8Array {
  return writePermitBody(new PostcardWriter(), body).finish();
}

function writePermitBody(w: PostcardWriter, body: PermitBody): PostcardWriter {
  return w
    .string(body.chainId)
    .seq(body.contracts, (c) => w.string(c))
    .u64(body.expiresAtNanos);
}

export function permitSignBytes(body: PermitBody): Uint8Array {
  return concatBytes(SIGN_DOMAINS.query_permit, writePermitBody(new PostcardWriter(), body).finish());
}

export function encodeQueryPermit(permit: QueryPermit): Uint8Array {
  return writePermitBody(new PostcardWriter(), permit.body).bytes(permit.publicKey).bytes(permit.signature).finish();
}

/** The contract message (envelope) a transaction carries, if any. */
export function envelopeOf(msg: Msg): Uint8Array | null {
  return msg.type === 'instantiate' || msg.type === 'execute' || msg.type === 'migrate' ? msg.msg : null;
}

/** The uveil a message moves out of the signer's account besides the fee. */
export function movedBy(msg: Msg): bigint {
  if (msg.type === 'send') return msg.amount;
  if (msg.type === 'instantiate' || msg.type === 'execute') return msg.funds;
  return 0n;
}

/** `ceil(gas_limit × fee_per_million_gas / 10^6)`. */
export function requiredFee(gasLimit: bigint, feePerMillionGas: bigint): bigint {
  return (gasLimit * feePerMillionGas + 999_999n) / 1_000_000n;
}
