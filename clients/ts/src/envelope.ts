// The transaction envelope and encrypted outputs (docs/protocol.md, "Transaction envelope",
// "Encrypted outputs"): X25519 with the network key, HKDF-SHA256, AES-256-GCM-SIV.
import { gcmsiv } from '@noble/ciphers/aes.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, u32be, utf8Bytes } from './encoding.js';
import { DecryptionError, VeilError } from './errors.js';

export const ENVELOPE_VERSION = 1;
/** version (1) || generation (4) || user X25519 public key (32) || nonce (32). */
export const ENVELOPE_HEADER_LEN = 69;
/** Header, code hash and the 16-byte tag: an envelope of the empty message. */
export const MIN_ENVELOPE_LEN = ENVELOPE_HEADER_LEN + 32 + 16;
const TX_KEY_INFO = utf8Bytes('veil/tx-v1');
const OUTPUT_AAD = utf8Bytes('veil/out-v1');

/** The kind byte of an encrypted output's IV. */
export const OutputKind = {
  Data: 1,
  AttributeKey: 2,
  AttributeValue: 3,
  Error: 4,
  SubMessage: 5,
  Event: 6,
  QueryResult: 7,
  QueryPermit: 8,
} as const;
export type OutputKind = (typeof OutputKind)[keyof typeof OutputKind];

/** X25519 of the wallet's secret with a public key; a wallet or signer provides it. */
export type SharedSecretFn = (peerPublic: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** The parts of an envelope's header. */
export interface EnvelopeHeader {
  version: number;
  generation: number;
  userPublicKey: Uint8Array;
  nonce: Uint8Array;
}

export function parseEnvelopeHeader(envelope: Uint8Array): EnvelopeHeader {
  if (envelope.length === 0) throw new DecryptionError('the envelope is empty');
  const version = envelope[0]!;
  if (version !== ENVELOPE_VERSION) throw new DecryptionError(`unsupported envelope version ${version}`);
  if (envelope.length < MIN_ENVELOPE_LEN) throw new DecryptionError('the envelope is truncated');
  return {
    version,
    generation: new DataView(envelope.buffer, envelope.byteOffset + 1, 4).getUint32(0, false),
    userPublicKey: envelope.slice(5, 37),
    nonce: envelope.slice(37, 69),
  };
}

function outputIv(kind: OutputKind, index: number): Uint8Array {
  const iv = new Uint8Array(12);
  iv[0] = kind;
  iv.set(u32be(index), 8);
  return iv;
}

/** One transaction's key: encrypts its message and decrypts what the enclave answered. */
export class TxKey {
  readonly #key: Uint8Array;

  private constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** `tx_key = HKDF(ikm = shared, salt = nonce, info = "veil/tx-v1" || generation u32 BE)`. */
  static fromSharedSecret(shared: Uint8Array, generation: number, nonce: Uint8Array): TxKey {
    if (shared.every((b) => b === 0)) throw new VeilError('all-zero X25519 result: low-order network key');
    if (nonce.length !== 32) throw new VeilError('an envelope nonce is 32 bytes');
    return new TxKey(hkdf(sha256, shared, nonce, concatBytes(TX_KEY_INFO, u32be(generation)), 32));
  }

  /** Recomputes the key of a past (or new) envelope from the wallet's secret and the network key. */
  static async forClient(sharedSecret: SharedSecretFn, networkKey: Uint8Array, generation: number, nonce: Uint8Array): Promise<TxKey> {
    return TxKey.fromSharedSecret(await sharedSecret(networkKey), generation, nonce);
  }

  /** The raw 32 key bytes (tests against the protocol's vectors). */
  bytes(): Uint8Array {
    return Uint8Array.from(this.#key);
  }

  encryptOutput(index: number, kind: OutputKind, plaintext: Uint8Array): Uint8Array {
    return gcmsiv(this.#key, outputIv(kind, index), OUTPUT_AAD).encrypt(plaintext);
  }

  decryptOutput(index: number, kind: OutputKind, ciphertext: Uint8Array): Uint8Array {
    try {
      return gcmsiv(this.#key, outputIv(kind, index), OUTPUT_AAD).decrypt(ciphertext);
    } catch (cause) {
      throw new DecryptionError('the output does not decrypt under this transaction key', { cause });
    }
  }

  /** Opens an envelope encrypted under this key: the code hash it is bound to and the message. */
  openInput(envelope: Uint8Array): { codeHash: Uint8Array; message: Uint8Array } {
    parseEnvelopeHeader(envelope);
    try {
      const plain = gcmsiv(this.#key, new Uint8Array(12), envelope.subarray(0, ENVELOPE_HEADER_LEN)).decrypt(
        envelope.subarray(ENVELOPE_HEADER_LEN),
      );
      return { codeHash: plain.slice(0, 32), message: plain.slice(32) };
    } catch (cause) {
      throw new DecryptionError('the envelope does not decrypt under this transaction key', { cause });
    }
  }
}

/** What [[encryptInput]] gives: the envelope to send, and its key for the answer. */
export interface Encrypted {
  envelope: Uint8Array;
  txKey: TxKey;
}

/**
 * Encrypts `message` for contract code `codeHash` to the network key:
 * `version || generation || user_public || nonce || AEAD(tx_key, 0^12, header, code_hash || message)`.
 */
export async function encryptInput(
  sharedSecret: SharedSecretFn,
  userPublicKey: Uint8Array,
  networkKey: Uint8Array,
  generation: number,
  codeHash: Uint8Array,
  message: Uint8Array,
  nonce: Uint8Array = randomBytes(32),
): Promise<Encrypted> {
  if (codeHash.length !== 32) throw new VeilError('a code hash is 32 bytes');
  if (userPublicKey.length !== 32) throw new VeilError('an X25519 public key is 32 bytes');
  const txKey = await TxKey.forClient(sharedSecret, networkKey, generation, nonce);
  const header = concatBytes(Uint8Array.of(ENVELOPE_VERSION), u32be(generation), userPublicKey, nonce);
  const ciphertext = gcmsiv(txKey.bytes(), new Uint8Array(12), header).encrypt(concatBytes(codeHash, message));
  return { envelope: concatBytes(header, ciphertext), txKey };
}

/** The key of a past envelope sent by the wallet whose encryption key is `userPublicKey`. */
export async function txKeyOf(
  envelope: Uint8Array,
  sharedSecret: SharedSecretFn,
  userPublicKey: Uint8Array,
  networkKey: Uint8Array,
): Promise<TxKey> {
  const header = parseEnvelopeHeader(envelope);
  if (!equalBytes(header.userPublicKey, userPublicKey)) {
    throw new DecryptionError('this envelope is encrypted for another key: only its sender can decrypt it');
  }
  return TxKey.forClient(sharedSecret, networkKey, header.generation, header.nonce);
}
