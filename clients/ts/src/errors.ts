// Typed errors: a dApp switches on the class (and on `kind`, the node's stable error
// kinds of docs/rpc.md), never on message text.

export class VeilError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The node did not answer (not running, wrong URL, network down). */
export class NodeUnreachableError extends VeilError {
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach the node at ${url}: ${cause instanceof Error ? cause.message : String(cause)} (is it running? start one with \`veil dev\`)`, { cause });
  }
}

/** The node answered with an error: `kind` is one of docs/rpc.md's stable kinds. */
export class NodeApiError extends VeilError {
  constructor(readonly status: number, readonly kind: string, message: string) {
    super(message);
  }
}

/** The node answered something this client does not understand. */
export class UnexpectedAnswerError extends VeilError {}

/** Bytes that do not decrypt, or that are encrypted for another key. */
export class DecryptionError extends VeilError {}

/** The transaction was not in a block within the time allowed. */
export class TimeoutError extends VeilError {
  constructor(readonly txHash: string, readonly waitedMs: number) {
    super(`transaction ${txHash} was not included within ${(waitedMs / 1000).toFixed(1)} s`);
  }
}

/** The contract runs other code than the caller expected (messages are encrypted for one code). */
export class CodeHashMismatchError extends VeilError {
  constructor(readonly contract: string, readonly expected: string, readonly actual: string) {
    super(`the contract at ${contract} runs code ${actual}, not the expected ${expected}`);
  }
}

export interface FailureDetails {
  /** Empty when nothing was broadcast (a failed simulation or query). */
  txHash: string;
  /** The public failure class: `out_of_gas`, `contract`, `insufficient_funds`, `unauthorized`, … */
  kind: string;
  /** The node's public reason. */
  message: string;
  gasUsed: bigint;
  gasLimit: bigint;
  /** The contract's own error message, decrypted (only the sender can read it). */
  contractError: string | null;
}

/** A transaction failed in a block, in the simulation before it, or a query failed. */
export class TxFailedError extends VeilError implements FailureDetails {
  readonly txHash: string;
  readonly kind: string;
  readonly gasUsed: bigint;
  readonly gasLimit: bigint;
  readonly contractError: string | null;
  readonly reason: string;

  constructor(details: FailureDetails) {
    super(describeFailure(details));
    this.txHash = details.txHash;
    this.kind = details.kind;
    this.reason = details.message;
    this.gasUsed = details.gasUsed;
    this.gasLimit = details.gasLimit;
    this.contractError = details.contractError;
  }
}

/** The contract itself returned an error (its message decrypted in `contractError`). */
export class ContractError extends TxFailedError {}

/** The transaction ran out of gas. */
export class OutOfGasError extends TxFailedError {}

/** The contract's query policy refused the querier (or the sender is not the admin). */
export class UnauthorizedError extends TxFailedError {}

/** The account cannot pay the fee and the amount it moves. */
export class InsufficientFundsError extends TxFailedError {}

function describeFailure(d: FailureDetails): string {
  if (d.kind === 'out_of_gas') return `out of gas: used ${d.gasUsed} of the gas limit ${d.gasLimit}`;
  if (d.contractError !== null) {
    return d.contractError.startsWith('contract error') ? d.contractError : `contract error: ${d.contractError}`;
  }
  return `transaction failed (${d.kind}): ${d.message}`;
}

/** The error class for a failure of kind `kind`. */
export function failure(details: FailureDetails): TxFailedError {
  switch (details.kind) {
    case 'out_of_gas':
      return new OutOfGasError(details);
    case 'unauthorized':
      return new UnauthorizedError(details);
    case 'insufficient_funds':
      return new InsufficientFundsError(details);
    case 'contract':
      return new ContractError(details);
    default:
      return details.contractError !== null ? new ContractError(details) : new TxFailedError(details);
  }
}
