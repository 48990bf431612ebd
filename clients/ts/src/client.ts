// A SecretJS-style client: `new VeilClient({ url, chainId, wallet })`, then
// `client.tx.compute.executeContract(...)`, `client.query.compute.queryContract(...)`.
// Contract messages are encrypted to the network key on this side; results, the
// contract's events and its errors are decrypted for the sender.
import { randomBytes } from '@noble/hashes/utils.js';
import { encryptInput, OutputKind, txKeyOf, type TxKey } from './envelope.js';
import { equalBytes, fromBase64, fromHex, utf8Bytes, utf8Text } from './encoding.js';
import { DecryptionError, failure, TxFailedError, CodeHashMismatchError, VeilError, InsufficientFundsError } from './errors.js';
import { KeyPair } from './keys.js';
import { resolveQueryPolicy, type PresetName, type QueryPolicy } from './policy.js';
import { RpcClient, type CommittedTx, type Event, type Receipt, type Status } from './rpc.js';
import { Wallet, type Signer } from './signer.js';
import { subscribe, type NodeEvent, type SubscribeOptions, type Subscription } from './subscribe.js';
import {
  decodeTx,
  encodeQueryPermit,
  encodeTx,
  envelopeOf,
  movedBy,
  permitSignBytes,
  requiredFee,
  txSignBytes,
  type Msg,
  type QueryPermit,
  type Tx,
  type TxBody,
} from './tx.js';

export interface VeilClientOptions {
  /** The node's RPC, e.g. `http://127.0.0.1:26657`. */
  url: string;
  /** The chain the client expects (refused if the node serves another). */
  chainId: string;
  /** Signs transactions and queries; without one the client reads anonymously. */
  wallet?: Signer;
  /** How long a query permit signed by this client stays valid (default 1 day, at most 30). */
  permitLifetimeMs?: number;
}

export interface TxOptions {
  /** A number, or `'auto'` (default): simulate first, then `gas used × gasMultiplier`. */
  gasLimit?: number | bigint | 'auto';
  gasMultiplier?: number;
  /** In uveil; default: the minimum for the gas limit. */
  fee?: bigint;
  memo?: string;
  /** How long to wait for a block (default 60 s). */
  timeoutMs?: number;
}

export type Amount = bigint | number | string;

/** What a committed, successful transaction gives back. */
export interface TxResponse {
  transactionHash: string;
  height: number;
  index: number;
  gasUsed: number;
  gasWanted: number;
  fee: bigint;
  /** Set by `storeCode`. */
  codeId: number | null;
  /** Set by `instantiateContract`. */
  contractAddress: string | null;
  /** The contract's `data`, decrypted: JSON when it is JSON, else bytes; null when none. */
  data: unknown;
  /** The whole decrypted result: `{data, attributes, events, messages, executed?}`. */
  result: DecryptedResult | null;
  /** The public events of the receipt (public attributes, transfers). */
  events: Event[];
  receipt: Receipt;
  tx: Tx;
}

/** The decrypted result of a contract call (docs/rpc.md, "receipt"). */
export interface DecryptedResult {
  data?: string | null;
  attributes?: { key: string; value: string }[];
  events?: { type: string; attributes: { key: string; value: string }[] }[];
  messages?: unknown[];
  executed?: unknown[];
  error?: string;
  [field: string]: unknown;
}

export interface SimulateResponse {
  gasUsed: number;
  /** The decrypted result the simulation gave (contract calls). */
  result: DecryptedResult | null;
  receipt: Receipt;
}

/** A transaction read back by hash; `message` and `result` are decrypted when the wallet sent it. */
export interface TxInfo {
  transactionHash: string;
  height: number;
  index: number;
  sender: string;
  msgKind: string;
  ok: boolean;
  tx: Tx;
  receipt: Receipt;
  /** Whether the configured wallet sent it and could decrypt it. */
  decrypted: boolean;
  /** The contract message the sender encrypted (JSON), when decrypted. */
  message: unknown;
  result: DecryptedResult | null;
  /** The failure as a typed error (the contract's message decrypted when possible). */
  error: TxFailedError | null;
}

type Args<T> = T & { sender?: string };
type Callable<A, R> = ((args: A, options?: TxOptions) => Promise<R>) & {
  simulate: (args: A, options?: Pick<TxOptions, 'memo'>) => Promise<SimulateResponse>;
};

export interface StoreCodeArgs {
  wasm_byte_code: Uint8Array;
  /** The default query policy of instances that name none (none: `public`). */
  query_policy?: PresetName | QueryPolicy;
}
export interface InstantiateArgs {
  code_id: number | bigint;
  /** Checked against the node's code hash when given. */
  code_hash?: string;
  init_msg: unknown;
  label: string;
  admin?: string;
  init_funds?: Amount;
  query_policy?: PresetName | QueryPolicy;
}
export interface ExecuteArgs {
  contract_address: string;
  code_hash?: string;
  msg: unknown;
  sent_funds?: Amount;
}
export interface MigrateArgs {
  contract_address: string;
  code_id: number | bigint;
  /** The new code's hash, checked when given. */
  code_hash?: string;
  msg: unknown;
}
export interface SendArgs {
  to_address: string;
  /** uveil. */
  amount: Amount;
}
export interface QueryContractArgs {
  contract_address: string;
  code_hash?: string;
  query: unknown;
}

const DAY_MS = 24 * 3600 * 1000;
const MAX_PERMIT_LIFETIME_MS = 30 * DAY_MS;

function toAmount(value: Amount | undefined): bigint {
  if (value === undefined) return 0n;
  const amount = typeof value === 'string' ? BigInt(value.replace(/uveil$/, '')) : BigInt(value);
  if (amount < 0n) throw new VeilError('an amount cannot be negative');
  return amount;
}

/** A decrypted `data` field: JSON when it is JSON, else the bytes. */
function decodeData(data: unknown): unknown {
  if (typeof data !== 'string') return null;
  const bytes = fromBase64(data);
  try {
    return JSON.parse(utf8Text(bytes));
  } catch {
    return bytes;
  }
}

function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(utf8Text(bytes)) as T;
  } catch (cause) {
    throw new DecryptionError(`${what} decrypted to something that is not JSON`, { cause });
  }
}

export class VeilClient {
  readonly rpc: RpcClient;
  readonly chainId: string;
  readonly wallet: Signer | undefined;
  readonly address: string | undefined;
  readonly tx;
  readonly query;
  readonly #permitLifetimeMs: number;
  readonly #codeHashes = new Map<string, string>();
  readonly #permits = new Map<string, { permit: QueryPermit; expiresAtNanos: bigint }>();
  #status: Promise<Status> | undefined;
  #networkKey: Promise<{ publicKey: Uint8Array; generation: number }> | undefined;
  #anonymous: Wallet | undefined;

  constructor(options: VeilClientOptions) {
    this.rpc = new RpcClient(options.url);
    this.chainId = options.chainId;
    this.wallet = options.wallet;
    this.address = options.wallet?.address;
    this.#permitLifetimeMs = options.permitLifetimeMs ?? DAY_MS;
    if (this.#permitLifetimeMs <= 0 || this.#permitLifetimeMs > MAX_PERMIT_LIFETIME_MS) {
      throw new VeilError("a permit's lifetime must be more than 0 and at most 30 days");
    }
    this.tx = {
      compute: {
        storeCode: this.#callable((a: Args<StoreCodeArgs>) => this.#storeCodeMsg(a)),
        instantiateContract: this.#callable((a: Args<InstantiateArgs>) => this.#instantiateMsg(a)),
        executeContract: this.#callable((a: Args<ExecuteArgs>) => this.#executeMsg(a)),
        migrateContract: this.#callable((a: Args<MigrateArgs>) => this.#migrateMsg(a)),
        setQueryPolicy: this.#callable(async (a: Args<{ contract_address: string; query_policy: PresetName | QueryPolicy }>) => ({
          msg: { type: 'set_query_policy', contract: a.contract_address, queryPolicy: resolveQueryPolicy(a.query_policy) } as Msg,
          txKey: null,
        })),
      },
      bank: {
        send: this.#callable(async (a: Args<SendArgs>) => ({
          msg: { type: 'send', to: a.to_address, amount: toAmount(a.amount) } as Msg,
          txKey: null,
        })),
      },
      /** Signs, submits and waits for any message (`tx.compute` builds them for you). */
      broadcast: (msg: Msg, options?: TxOptions) => this.#broadcast(msg, null, options),
    };
    this.query = {
      status: () => this.#checkedStatus(true),
      getTx: (hash: string) => this.#getTx(hash),
      auth: { account: (address: string) => this.rpc.account(address) },
      bank: {
        /** uveil balance (public). */
        balance: async (address: string) => BigInt((await this.rpc.account(address)).balance),
      },
      compute: {
        queryContract: <T = unknown>(args: QueryContractArgs) => this.#queryContract<T>(args),
        contractInfo: (address: string) => this.rpc.contract(address),
        codeInfo: (codeId: number | bigint) => this.rpc.code(codeId),
        /** The code hash a contract runs (what its messages are encrypted for). */
        codeHashByContractAddress: (address: string) => this.#contractCodeHash(address),
        codeHashByCodeId: async (codeId: number | bigint) => (await this.rpc.code(codeId)).code_hash,
      },
    };
  }

  /** The node's status (cached after the first call, fresh with `query.status()`). */
  async #checkedStatus(fresh = false): Promise<Status> {
    if (fresh || this.#status === undefined) {
      const status = this.rpc.status().then((s) => {
        if (s.chain_id !== this.chainId) {
          throw new VeilError(`the node at ${this.rpc.url} serves chain ${s.chain_id}, not ${this.chainId}`);
        }
        return s;
      });
      this.#status = status;
      status.catch(() => (this.#status = undefined));
    }
    return this.#status;
  }

  async #network(): Promise<{ publicKey: Uint8Array; generation: number }> {
    if (this.#networkKey === undefined) {
      this.#networkKey = this.rpc.networkKey();
      this.#networkKey.catch(() => (this.#networkKey = undefined));
    }
    return this.#networkKey;
  }

  #signer(sender?: string): Signer {
    if (this.wallet === undefined) throw new VeilError('this client has no wallet: transactions need a signer');
    if (sender !== undefined && sender !== this.wallet.address) {
      throw new VeilError(`sender ${sender} is not this client's wallet (${this.wallet.address})`);
    }
    return this.wallet;
  }

  /** Encrypts a contract message for code `codeHash` (hex) from `signer`'s key. */
  async #encrypt(signer: Pick<Signer, 'sharedSecret' | 'encryptionPublicKey'>, codeHash: string, message: unknown) {
    const network = await this.#network();
    return encryptInput(
      (peer) => signer.sharedSecret(peer),
      signer.encryptionPublicKey,
      network.publicKey,
      network.generation,
      fromHex(codeHash),
      utf8Bytes(JSON.stringify(message)),
    );
  }

  async #contractCodeHash(address: string, expected?: string): Promise<string> {
    let actual = this.#codeHashes.get(address);
    if (actual === undefined || (expected !== undefined && expected.toLowerCase() !== actual)) {
      // A migration changes the code; ask again before refusing.
      actual = (await this.rpc.contract(address)).code_hash;
      this.#codeHashes.set(address, actual);
    }
    if (expected !== undefined && expected.toLowerCase() !== actual) {
      throw new CodeHashMismatchError(address, expected.toLowerCase(), actual);
    }
    return actual;
  }

  async #codeIdHash(codeId: number | bigint, expected?: string): Promise<string> {
    const actual = (await this.rpc.code(codeId)).code_hash;
    if (expected !== undefined && expected.toLowerCase() !== actual) {
      throw new CodeHashMismatchError(`code ${codeId}`, expected.toLowerCase(), actual);
    }
    return actual;
  }

  async #storeCodeMsg(a: Args<StoreCodeArgs>) {
    this.#signer(a.sender);
    const msg: Msg = {
      type: 'store_code',
      wasm: a.wasm_byte_code,
      queryPolicy: a.query_policy === undefined ? null : resolveQueryPolicy(a.query_policy),
    };
    return { msg, txKey: null };
  }

  async #instantiateMsg(a: Args<InstantiateArgs>) {
    const signer = this.#signer(a.sender);
    const codeHash = await this.#codeIdHash(a.code_id, a.code_hash);
    const { envelope, txKey } = await this.#encrypt(signer, codeHash, a.init_msg);
    const msg: Msg = {
      type: 'instantiate',
      codeId: BigInt(a.code_id),
      label: a.label,
      admin: a.admin ?? null,
      msg: envelope,
      funds: toAmount(a.init_funds),
      queryPolicy: a.query_policy === undefined ? null : resolveQueryPolicy(a.query_policy),
    };
    return { msg, txKey };
  }

  async #executeMsg(a: Args<ExecuteArgs>) {
    const signer = this.#signer(a.sender);
    const codeHash = await this.#contractCodeHash(a.contract_address, a.code_hash);
    const { envelope, txKey } = await this.#encrypt(signer, codeHash, a.msg);
    const msg: Msg = { type: 'execute', contract: a.contract_address, msg: envelope, funds: toAmount(a.sent_funds) };
    return { msg, txKey };
  }

  async #migrateMsg(a: Args<MigrateArgs>) {
    const signer = this.#signer(a.sender);
    // The message is for the new code: only it can open the envelope.
    const codeHash = await this.#codeIdHash(a.code_id, a.code_hash);
    const { envelope, txKey } = await this.#encrypt(signer, codeHash, a.msg);
    this.#codeHashes.delete(a.contract_address);
    const msg: Msg = { type: 'migrate', contract: a.contract_address, codeId: BigInt(a.code_id), msg: envelope };
    return { msg, txKey };
  }

  #callable<A>(build: (args: A) => Promise<{ msg: Msg; txKey: TxKey | null }>): Callable<A, TxResponse> {
    const call = async (args: A, options?: TxOptions) => {
      const { msg, txKey } = await build(args);
      return this.#broadcast(msg, txKey, options);
    };
    const simulate = async (args: A, options?: Pick<TxOptions, 'memo'>) => {
      const { msg, txKey } = await build(args);
      return this.#simulate(msg, txKey, options?.memo ?? '');
    };
    return Object.assign(call, { simulate });
  }

  async #signBody(signer: Signer, body: TxBody, domain: 'tx' | 'simulate'): Promise<Tx> {
    const signature = await signer.sign({ domain, signBytes: txSignBytes(body, domain), document: body });
    if (signature.length !== 64) throw new VeilError('a signer must answer a 64-byte r || s signature');
    return { body, publicKey: signer.publicKey, signature };
  }

  async #decryptResult(txKey: TxKey | null, encrypted: string | null): Promise<DecryptedResult | null> {
    if (txKey === null || encrypted === null) return null;
    return parseJson<DecryptedResult>(txKey.decryptOutput(0, OutputKind.Data, fromBase64(encrypted)), 'the result');
  }

  async #failure(receipt: Receipt, txKey: TxKey | null, txHash: string): Promise<TxFailedError> {
    let contractError: string | null = null;
    try {
      const result = await this.#decryptResult(txKey, receipt.encrypted_result);
      if (typeof result?.error === 'string') contractError = result.error;
    } catch {
      // The public failure is still worth reporting.
    }
    return failure({
      txHash,
      kind: receipt.error_kind ?? 'unknown',
      message: receipt.error ?? '',
      gasUsed: BigInt(receipt.gas_used),
      gasLimit: BigInt(receipt.gas_limit),
      contractError,
    });
  }

  async #simulate(msg: Msg, txKey: TxKey | null, memo: string): Promise<SimulateResponse> {
    const signer = this.#signer();
    const [status, account] = await Promise.all([this.#checkedStatus(), this.rpc.account(signer.address)]);
    // Signed for simulation (veil/simulate-v1): the node and the enclave never run it for real.
    const probe = await this.#signBody(
      signer,
      { chainId: this.chainId, sequence: BigInt(account.sequence), gasLimit: BigInt(status.params.max_tx_gas), fee: 0n, memo, msg },
      'simulate',
    );
    const receipt = await this.rpc.simulate(encodeTx(probe));
    if (!receipt.ok) throw await this.#failure(receipt, txKey, '');
    return { gasUsed: receipt.gas_used, result: await this.#decryptResult(txKey, receipt.encrypted_result), receipt };
  }

  async #broadcast(msg: Msg, txKey: TxKey | null, options: TxOptions = {}): Promise<TxResponse> {
    const signer = this.#signer();
    const status = await this.#checkedStatus();
    const memo = options.memo ?? '';
    const account = await this.rpc.account(signer.address);
    const maxGas = BigInt(status.params.max_tx_gas);
    let gasLimit: bigint;
    const requested = options.gasLimit ?? 'auto';
    if (requested === 'auto') {
      const simulated = await this.#simulate(msg, txKey, memo);
      const multiplier = options.gasMultiplier ?? 1.3;
      gasLimit = BigInt(Math.ceil(simulated.gasUsed * multiplier));
      if (gasLimit > maxGas) gasLimit = maxGas;
    } else {
      gasLimit = BigInt(requested);
    }
    const fee = options.fee ?? requiredFee(gasLimit, BigInt(status.params.fee_per_million_gas));
    // A simulation runs without a fee, so it cannot see that amount and fee exceed the balance.
    const needed = movedBy(msg) + fee;
    if (BigInt(account.balance) < needed) {
      throw new InsufficientFundsError({
        txHash: '',
        kind: 'insufficient_funds',
        message: `${signer.address} has ${account.balance}uveil, needs ${needed}uveil (${movedBy(msg)}uveil plus the fee ${fee}uveil)`,
        gasUsed: 0n,
        gasLimit,
        contractError: null,
      });
    }
    const tx = await this.#signBody(signer, { chainId: this.chainId, sequence: BigInt(account.sequence), gasLimit, fee, memo, msg }, 'tx');
    const hash = await this.rpc.submit(encodeTx(tx));
    const committed = await this.rpc.waitForTx(hash, options.timeoutMs ?? 60_000);
    const receipt = committed.receipt;
    if (!receipt.ok) throw await this.#failure(receipt, txKey, hash);
    const result = await this.#decryptResult(txKey, receipt.encrypted_result);
    if (msg.type === 'instantiate' && receipt.contract_address !== null) {
      this.#codeHashes.delete(receipt.contract_address);
    }
    return {
      transactionHash: hash,
      height: committed.height,
      index: committed.index,
      gasUsed: receipt.gas_used,
      gasWanted: receipt.gas_limit,
      fee: BigInt(receipt.fee),
      codeId: receipt.code_id,
      contractAddress: receipt.contract_address,
      data: decodeData(result?.data),
      result,
      events: receipt.events,
      receipt,
      tx,
    };
  }

  /** A permit for `contract`, signed once and reused until close to its expiry. */
  async #permitFor(signer: Signer, contract: string): Promise<QueryPermit> {
    const status = await this.#checkedStatus(true);
    const cached = this.#permits.get(contract);
    const margin = BigInt(Math.min(this.#permitLifetimeMs / 10, 3600_000)) * 1_000_000n;
    if (cached !== undefined && cached.expiresAtNanos - margin > status.latest_block_time_nanos) return cached.permit;
    const body = {
      chainId: this.chainId,
      contracts: [contract],
      expiresAtNanos: status.latest_block_time_nanos + BigInt(this.#permitLifetimeMs) * 1_000_000n,
    };
    const signature = await signer.sign({ domain: 'query_permit', signBytes: permitSignBytes(body), document: body });
    const permit = { body, publicKey: signer.publicKey, signature };
    this.#permits.set(contract, { permit, expiresAtNanos: body.expiresAtNanos });
    return permit;
  }

  async #queryContract<T>(args: QueryContractArgs): Promise<T> {
    const codeHash = await this.#contractCodeHash(args.contract_address, args.code_hash);
    // Anonymous queries still need a key to read the answer: a fresh one per client.
    this.#anonymous ??= new Wallet(KeyPair.fromSecretKey(randomSecretKey()));
    const encryptor = this.wallet ?? this.#anonymous;
    const { envelope, txKey } = await this.#encrypt(encryptor, codeHash, args.query);
    const permit = this.wallet === undefined ? undefined : await this.#permitFor(this.wallet, args.contract_address);
    const encryptedPermit = permit === undefined ? undefined : txKey.encryptOutput(0, OutputKind.QueryPermit, encodeQueryPermit(permit));
    const answer = await this.rpc.queryContract(args.contract_address, envelope, encryptedPermit);
    const body = parseJson<{ data?: string; error?: string; height?: number }>(
      txKey.decryptOutput(0, OutputKind.Data, fromBase64(answer.encrypted_result)),
      'the query answer',
    );
    if (!answer.ok || body.error !== undefined) {
      const error = body.error ?? 'unknown error';
      throw failure({
        txHash: '',
        kind: answer.error_kind ?? 'contract',
        message: error,
        gasUsed: BigInt(answer.gas_used),
        gasLimit: 0n,
        contractError: error,
      });
    }
    if (typeof body.data !== 'string') throw new VeilError('the query answered no data');
    return decodeData(body.data) as T;
  }

  async #getTx(hash: string): Promise<TxInfo | null> {
    const committed: CommittedTx | 'pending' | undefined = await this.rpc.tx(hash.toLowerCase());
    if (committed === undefined || committed === 'pending') return null;
    const tx = decodeTx(fromBase64(committed.tx_bytes));
    const receipt = committed.receipt;
    const envelope = envelopeOf(tx.body.msg);
    let txKey: TxKey | null = null;
    let message: unknown = null;
    if (envelope !== null && this.wallet !== undefined && equalBytes(envelope.subarray(5, 37), this.wallet.encryptionPublicKey)) {
      const wallet = this.wallet;
      txKey = await txKeyOf(envelope, (peer) => wallet.sharedSecret(peer), wallet.encryptionPublicKey, (await this.#network()).publicKey);
      message = parseJson(txKey.openInput(envelope).message, 'the message');
    }
    const result = receipt.ok ? await this.#decryptResult(txKey, receipt.encrypted_result) : null;
    return {
      transactionHash: committed.tx_hash,
      height: committed.height,
      index: committed.index,
      sender: receipt.sender,
      msgKind: receipt.msg_kind,
      ok: receipt.ok,
      tx,
      receipt,
      decrypted: txKey !== null,
      message,
      result,
      error: receipt.ok ? null : await this.#failure(receipt, txKey, committed.tx_hash),
    };
  }

  /** The node's events over its WebSocket (new blocks, receipts); `close()` ends it. */
  subscribe(onEvent: (event: NodeEvent) => void, options?: SubscribeOptions): Subscription {
    return subscribe(this.rpc.url, onEvent, options);
  }
}

function randomSecretKey(): Uint8Array {
  for (;;) {
    const candidate = randomBytes(32);
    try {
      KeyPair.fromSecretKey(candidate);
      return candidate;
    } catch {
      // Out of the curve's range (probability ~2^-128): draw again.
    }
  }
}

