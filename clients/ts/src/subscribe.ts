// The node's WebSocket events (docs/rpc.md, "WebSocket"): browsers have a global
// WebSocket; Node.js 20 does not, so there the `ws` package is loaded.
import { UnexpectedAnswerError } from './errors.js';
import type { Receipt } from './rpc.js';

export type NodeEvent =
  | { type: 'new_block'; hash: string; header: { height: number; time_nanos: number; chain_id: string }; num_txs: number }
  | { type: 'tx'; receipt: Receipt }
  | { type: 'lagged'; missed: number };

export interface Subscription {
  /** Resolves once the socket is open. */
  readonly opened: Promise<void>;
  /** Resolves when the socket closes (after `close()` or when the node goes away). */
  readonly closed: Promise<void>;
  close(): void;
}

export interface SubscribeOptions {
  /** Which events: blocks, transactions, or both (default). */
  events?: ('blocks' | 'txs')[];
  onError?: (error: Error) => void;
}

interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  close(): void;
}

async function openSocket(url: string): Promise<SocketLike> {
  const Native = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (typeof Native === 'function') return new Native(url);
  const { WebSocket } = await import('ws');
  return new WebSocket(url) as unknown as SocketLike;
}

/** Subscribes to `rpcUrl`'s events; `onEvent` is called for each, in order. */
export function subscribe(rpcUrl: string, onEvent: (event: NodeEvent) => void, options: SubscribeOptions = {}): Subscription {
  const url = new URL(`${rpcUrl.replace(/\/+$/, '')}/subscribe`, globalThis.location?.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (options.events !== undefined) url.searchParams.set('events', options.events.join(','));
  let socket: SocketLike | undefined;
  let closeRequested = false;
  let resolveOpened!: () => void;
  let rejectOpened!: (error: Error) => void;
  let resolveClosed!: () => void;
  const opened = new Promise<void>((resolve, reject) => {
    resolveOpened = resolve;
    rejectOpened = reject;
  });
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  opened.catch(() => undefined);
  const report = (error: Error) => (options.onError ? options.onError(error) : undefined);
  openSocket(url.toString()).then(
    (ws) => {
      socket = ws;
      if (closeRequested) ws.close();
      ws.onopen = () => resolveOpened();
      ws.onerror = () => {
        const error = new UnexpectedAnswerError(`WebSocket error on ${url}`);
        rejectOpened(error);
        report(error);
      };
      ws.onclose = () => {
        rejectOpened(new UnexpectedAnswerError(`WebSocket to ${url} closed before it opened`));
        resolveClosed();
      };
      ws.onmessage = (message) => {
        let event: NodeEvent;
        try {
          event = JSON.parse(typeof message.data === 'string' ? message.data : String(message.data)) as NodeEvent;
        } catch (cause) {
          report(new UnexpectedAnswerError('the node sent an event that is not JSON', { cause }));
          return;
        }
        onEvent(event);
      };
    },
    (error: unknown) => {
      const wrapped = error instanceof Error ? error : new Error(String(error));
      rejectOpened(wrapped);
      report(wrapped);
      resolveClosed();
    },
  );
  return {
    opened,
    closed,
    close() {
      closeRequested = true;
      socket?.close();
    },
  };
}
