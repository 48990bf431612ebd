// The signer a client acts with. `Wallet` holds a key in memory; a browser wallet can
// implement `Signer` instead, holding the key itself.
//
// What a wallet has to do for Veil (no existing wallet does it yet):
// 1. Sign with its secp256k1 account key (the Cosmos key at m/44'/118'/0'/0/0): ECDSA over
//    SHA-256 of `request.signBytes`, answered as 64 bytes `r || s` with low S. The sign bytes
//    are a domain — `veil/tx-v1` (a transaction to run), `veil/simulate-v1` (a gas
//    estimate, never run), `veil/query-permit-v1` (a permit for signed queries) — followed
//    by the postcard encoding of the transaction body or permit body (docs/protocol.md).
//    `request.document` is the decoded body, so the wallet can show the chain id, sequence,
//    gas, fee, memo and message kind (contract messages are envelopes: the wallet should
//    show the JSON it encrypted, or decrypt the envelope itself with its own key).
// 2. Compute X25519 with its encryption key (HKDF of the account key, docs/protocol.md
//    "Wallet keys") and a public key the client passes: the network's IO key, to encrypt
//    messages and decrypt results. That shared secret lets the dApp read results and
//    messages of this account's transactions, so a wallet should ask before giving it.
import { KeyPair, generateWalletMnemonic } from './keys.js';
import type { PermitBody, SignDomain, TxBody } from './tx.js';
import { sha256 } from '@noble/hashes/sha2.js';

export type SignRequest =
  | { domain: 'tx' | 'simulate'; signBytes: Uint8Array; document: TxBody }
  | { domain: 'query_permit'; signBytes: Uint8Array; document: PermitBody };

export interface Signer {
  /** The `veil1…` account address. */
  readonly address: string;
  /** The 33-byte compressed secp256k1 public key. */
  readonly publicKey: Uint8Array;
  /** The X25519 public key contract messages are encrypted from. */
  readonly encryptionPublicKey: Uint8Array;
  /** ECDSA secp256k1 of SHA-256(`signBytes`): 64 bytes `r || s`, low-S. */
  sign(request: SignRequest): Promise<Uint8Array>;
  /** X25519(encryption secret, `peerPublic`) (the peer is the network key). */
  sharedSecret(peerPublic: Uint8Array): Promise<Uint8Array>;
}

/** A key held in memory (a mnemonic, a raw secret, or a public dev account). */
export class Wallet implements Signer {
  readonly address: string;
  readonly publicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
  readonly #key: KeyPair;

  constructor(key: KeyPair) {
    this.#key = key;
    this.address = key.address;
    this.publicKey = key.publicKey;
    this.encryptionPublicKey = key.encryptionPublicKey;
  }

  static fromMnemonic(mnemonic: string): Wallet {
    return new Wallet(KeyPair.fromMnemonic(mnemonic));
  }

  /** A new random key; returns its mnemonic too (write it down: it is the only copy). */
  static generate(): { wallet: Wallet; mnemonic: string } {
    const mnemonic = generateWalletMnemonic();
    return { wallet: Wallet.fromMnemonic(mnemonic), mnemonic };
  }

  /** The public dev account `name` of `veil dev` (alice, bob, carol): never for real funds. */
  static dev(name: string): Wallet {
    return new Wallet(KeyPair.dev(name));
  }

  async sign(request: SignRequest): Promise<Uint8Array> {
    return this.#key.signDigest(sha256(request.signBytes));
  }

  async sharedSecret(peerPublic: Uint8Array): Promise<Uint8Array> {
    return this.#key.sharedSecret(peerPublic);
  }

  toJSON(): { address: string } {
    return { address: this.address };
  }
}

export type { SignDomain };
