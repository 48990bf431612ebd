// The node's HTTP JSON API (docs/rpc.md) with `fetch`; everything it serves is public or
// ciphertext. Shapes are the node's JSON, field names as it sends them.
import { fromHex, toBase64 } from './encoding.js';
import { NodeApiError, NodeUnreachableError, TimeoutError, UnexpectedAnswerError } from './errors.js';

export interface Params {
  fee_per_million_gas: number;
  max_tx_gas: number;
  max_block_txs: number;
  max_block_bytes: number;
  max_block_gas: number;
}

export interface Status {
  chain_id: string;
  height: number;
  latest_block_hash: string;
  /** Exact (the JSON number exceeds 2^53: read from the answer's text). */
  latest_block_time_nanos: bigint;
  app_hash: string;
  network_key: string;
  key_generation: number;
  mempool_size: number;
  params: Params;
  node_version: string;
  genesis_hash: string;
  simulated_attestation_allowed: boolean;
  attestation_warning: string | null;
}

export interface Event {
  kind: string;
  attributes: [string, string][];
}

export interface Receipt {
  tx_hash: string;
  height: number;
  index: number;
  sender: string;
  msg_kind: string;
  ok: boolean;
  error_kind: string | null;
  error: string | null;
  gas_limit: number;
  gas_used: number;
  /** uveil, decimal. */
  fee: string;
  /** base64; decrypts only with the sender's key. */
  encrypted_result: string | null;
  events: Event[];
  code_id: number | null;
  contract_address: string | null;
}

export interface CommittedTx {
  status: 'committed';
  tx_hash: string;
  height: number;
  index: number;
  tx_bytes: string;
  receipt: Receipt;
}

export interface Account {
  address: string;
  balance: string;
  sequence: number;
  public_key: string | null;
}

export interface CodeInfo {
  code_id: number;
  code_hash: string;
  creator: string;
  size: number;
  default_query_policy: unknown;
}

export interface ContractInfo {
  address: string;
  code_id: number;
  code_hash: string;
  init_code_hash: string;
  creator: string;
  admin: string | null;
  label: string;
  state_root: string | null;
  query_policy: unknown;
}

export interface BlockInfo {
  hash: string;
  header: {
    chain_id: string;
    height: number;
    time_nanos: number;
    prev_block_hash: string;
    txs_hash: string;
    app_hash: string;
  };
  tx_hashes: string[];
  certificate: unknown;
}

export interface QueryAnswer {
  ok: boolean;
  height: number;
  gas_used: number;
  error_kind: string | null;
  encrypted_result: string;
}

export interface NetworkKey {
  publicKey: Uint8Array;
  generation: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client of one node's RPC. */
export class RpcClient {
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  private async request(path: string, init?: RequestInit): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, init);
    } catch (cause) {
      throw new NodeUnreachableError(this.url, cause);
    }
    const text = await response.text();
    if (!response.ok) {
      let kind = 'http';
      let message = `the node answered HTTP ${response.status}`;
      try {
        const body = JSON.parse(text) as { error?: { kind?: string; message?: string } };
        kind = body.error?.kind ?? kind;
        message = body.error?.message ?? message;
      } catch {
        // Not JSON: keep the HTTP status as the reason.
      }
      throw new NodeApiError(response.status, kind, message);
    }
    return text;
  }

  private static parse<T>(text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new UnexpectedAnswerError('the node answered something that is not JSON', { cause });
    }
  }

  async get<T>(path: string): Promise<T> {
    return RpcClient.parse<T>(await this.request(path));
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const text = await this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return RpcClient.parse<T>(text);
  }

  async status(): Promise<Status> {
    const text = await this.request('/status');
    const status = RpcClient.parse<Omit<Status, 'latest_block_time_nanos'>>(text);
    const time = /"latest_block_time_nanos"\s*:\s*(\d+)/.exec(text)?.[1];
    if (time === undefined) throw new UnexpectedAnswerError('/status has no latest_block_time_nanos');
    return { ...status, latest_block_time_nanos: BigInt(time) };
  }

  async networkKey(): Promise<NetworkKey> {
    const key = await this.get<{ public_key: string; generation: number }>('/network_key');
    return { publicKey: fromHex(key.public_key), generation: key.generation };
  }

  account(address: string): Promise<Account> {
    return this.get(`/accounts/${encodeURIComponent(address)}`);
  }

  code(codeId: number | bigint): Promise<CodeInfo> {
    return this.get(`/codes/${codeId}`);
  }

  contract(address: string): Promise<ContractInfo> {
    return this.get(`/contracts/${encodeURIComponent(address)}`);
  }

  block(height?: number): Promise<BlockInfo> {
    return this.get(height === undefined ? '/blocks/latest' : `/blocks/${height}`);
  }

  blockReceipts(height: number): Promise<Receipt[]> {
    return this.get(`/blocks/${height}/receipts`);
  }

  /** Submits transaction bytes; answers the transaction hash (hex). */
  async submit(txBytes: Uint8Array): Promise<string> {
    return (await this.post<{ tx_hash: string }>('/txs', { tx: toBase64(txBytes) })).tx_hash;
  }

  /** Runs a transaction signed for simulation on a copy of the state. */
  simulate(txBytes: Uint8Array): Promise<Receipt> {
    return this.post('/simulate', { tx: toBase64(txBytes) });
  }

  /** A transaction by hash: committed, pending (`null` receipt), or unknown (`undefined`). */
  async tx(hash: string): Promise<CommittedTx | 'pending' | undefined> {
    try {
      const answer = await this.get<CommittedTx | { status: 'pending' }>(`/txs/${hash}`);
      return answer.status === 'pending' ? 'pending' : answer;
    } catch (error) {
      if (error instanceof NodeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Polls until the transaction is in a block. */
  async waitForTx(hash: string, timeoutMs = 60_000, pollMs = 100): Promise<CommittedTx> {
    const started = Date.now();
    for (;;) {
      const answer = await this.tx(hash);
      if (answer !== undefined && answer !== 'pending') return answer;
      const waited = Date.now() - started;
      if (waited >= timeoutMs) throw new TimeoutError(hash, waited);
      await sleep(pollMs);
    }
  }

  queryContract(address: string, envelope: Uint8Array, encryptedPermit?: Uint8Array): Promise<QueryAnswer> {
    const body: { msg: string; permit?: string } = { msg: toBase64(envelope) };
    if (encryptedPermit !== undefined) body.permit = toBase64(encryptedPermit);
    return this.post(`/contracts/${encodeURIComponent(address)}/query`, body);
  }
}

