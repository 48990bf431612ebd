// A real `veil dev` process for the end-to-end tests, on a free loopback port, in a fresh
// home. The binary is $VEIL_BIN, else the workspace's debug build.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/index.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));

export function veilBinary(): string {
  return process.env.VEIL_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO_ROOT, 'target'), 'debug', 'veil');
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** cw20-base 2.0.0 built from source by `veil contract build` (cached under target/). */
export function cw20Wasm(): Uint8Array {
  const path = execFileSync(veilBinary(), ['contract', 'build', '--crate', 'cw20-base@2.0.0', '--quiet'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
  return new Uint8Array(readFileSync(path));
}

export class DevNode {
  readonly url: string;
  private constructor(
    readonly home: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly log: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(): Promise<DevNode> {
    const home = mkdtempSync(join(tmpdir(), 'veil-ts-'));
    const port = await freePort();
    const log = join(home, 'node.log');
    const child = spawn(veilBinary(), ['dev', '--home', home, '--rpc-addr', `127.0.0.1:${port}`, '--block-time', '200ms'], {
      stdio: ['ignore', 'ignore', openSync(log, 'a')],
    });
    const node = new DevNode(home, port, child, log);
    const rpc = new RpcClient(node.url);
    const started = Date.now();
    for (;;) {
      try {
        await rpc.status();
        return node;
      } catch {
        if (child.exitCode !== null) throw new Error(`veil dev exited with ${child.exitCode}:\n${node.logText()}`);
        if (Date.now() - started > 60_000) throw new Error(`veil dev did not answer within 60 s:\n${node.logText()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  logText(): string {
    try {
      return readFileSync(this.log, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGINT (the node finishes its block), then removes the home. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.home, { recursive: true, force: true });
  }
}
