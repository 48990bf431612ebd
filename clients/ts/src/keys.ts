// Wallet keys (docs/protocol.md, "Wallet keys"): a BIP-39 mnemonic, the secp256k1 key at
// the Cosmos path m/44'/118'/0'/0/0, its bech32 `veil1…` address, and the X25519 key that
// encrypts contract messages, derived from the signing key with HKDF.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import { HDKey } from '@scure/bip32';
import { entropyToMnemonic, generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { utf8Bytes } from './encoding.js';
import { VeilError } from './errors.js';

export const ADDRESS_PREFIX = 'veil';
export const COSMOS_HD_PATH = "m/44'/118'/0'/0/0";
/** HKDF salt of the wallet's X25519 secret. */
export const WALLET_X25519_SALT = 'veil/wallet-x25519-v1';

/** `bech32("veil", RIPEMD-160(SHA-256(compressed public key)))`. */
export function accountAddress(compressedPublicKey: Uint8Array): string {
  if (compressedPublicKey.length !== 33) throw new VeilError('an account key is a 33-byte compressed secp256k1 key');
  return bech32.encode(ADDRESS_PREFIX, bech32.toWords(ripemd160(sha256(compressedPublicKey))));
}

/** The wallet's X25519 secret: `HKDF(ikm = secp256k1 secret, salt = "veil/wallet-x25519-v1", info = "")`. */
export function walletX25519Secret(secp256k1Secret: Uint8Array): Uint8Array {
  return hkdf(sha256, secp256k1Secret, utf8Bytes(WALLET_X25519_SALT), new Uint8Array(0), 32);
}

/** Whether `address` is a well-formed `veil1…` address (20-byte account or 32-byte contract). */
export function isAddress(address: string): boolean {
  try {
    const decoded = bech32.decode(address as `${string}1${string}`);
    const length = bech32.fromWords(decoded.words).length;
    return decoded.prefix === ADDRESS_PREFIX && (length === 20 || length === 32);
  } catch {
    return false;
  }
}

/** A new 24-word mnemonic from the platform's secure random source. */
export function generateWalletMnemonic(): string {
  return generateMnemonic(wordlist, 256);
}

/** The public development account `name` (alice, bob, carol, …): entropy SHA-256("veil/dev-account/" || name). */
export function devMnemonic(name: string): string {
  return entropyToMnemonic(sha256(utf8Bytes(`veil/dev-account/${name}`)), wordlist);
}

/** A secp256k1 key and the X25519 key derived from it. Holds secrets: keep it out of logs. */
export class KeyPair {
  readonly publicKey: Uint8Array;
  readonly address: string;
  readonly encryptionPublicKey: Uint8Array;
  readonly #secret: Uint8Array;
  readonly #encryptionSecret: Uint8Array;

  private constructor(secret: Uint8Array) {
    if (secret.length !== 32 || !secp256k1.utils.isValidSecretKey(secret)) {
      throw new VeilError('not a valid secp256k1 secret key');
    }
    this.#secret = Uint8Array.from(secret);
    this.publicKey = secp256k1.getPublicKey(this.#secret, true);
    this.address = accountAddress(this.publicKey);
    this.#encryptionSecret = walletX25519Secret(this.#secret);
    this.encryptionPublicKey = x25519.getPublicKey(this.#encryptionSecret);
  }

  /** From a BIP-39 mnemonic (English; 12 to 24 words), at the Cosmos path. */
  static fromMnemonic(mnemonic: string): KeyPair {
    const words = mnemonic.trim().split(/\s+/).join(' ');
    if (!validateMnemonic(words, wordlist)) throw new VeilError('not a valid BIP-39 mnemonic (English word list)');
    const key = HDKey.fromMasterSeed(mnemonicToSeedSync(words, '')).derive(COSMOS_HD_PATH);
    if (key.privateKey === null) throw new VeilError('BIP-32 derivation gave no secret key');
    return new KeyPair(key.privateKey);
  }

  /** From the 32 secret-key bytes (big-endian scalar). */
  static fromSecretKey(secret: Uint8Array): KeyPair {
    return new KeyPair(secret);
  }

  /** The public development account `name` (its keys are public: dev chains only). */
  static dev(name: string): KeyPair {
    return KeyPair.fromMnemonic(devMnemonic(name));
  }

  /** ECDSA secp256k1 over a 32-byte digest: 64 bytes `r || s`, low-S (RFC 6979 nonces). */
  signDigest(digest: Uint8Array): Uint8Array {
    if (digest.length !== 32) throw new VeilError('a digest is 32 bytes');
    return secp256k1.sign(digest, this.#secret, { prehash: false, lowS: true, format: 'compact' });
  }

  /** X25519 of the wallet's encryption secret with `peerPublic`, refusing low-order keys. */
  sharedSecret(peerPublic: Uint8Array): Uint8Array {
    try {
      return x25519.getSharedSecret(this.#encryptionSecret, peerPublic);
    } catch (cause) {
      throw new VeilError('the network key is a low-order or invalid X25519 key', { cause });
    }
  }

  /** The 32 secret-key bytes (export, tests). */
  secretKey(): Uint8Array {
    return Uint8Array.from(this.#secret);
  }

  /** The X25519 secret (tests against docs/protocol.md's vectors). */
  encryptionSecret(): Uint8Array {
    return Uint8Array.from(this.#encryptionSecret);
  }

  toJSON(): { address: string } {
    return { address: this.address };
  }
}
