// The dApp in headless Chromium (Debian's, driven by playwright-core) against a real
// `veil dev`: pick an account, read the balance (a signed query), send tokens, see the
// transfer decrypted in the history — and see that another account reads neither it nor
// the balance. A screenshot is kept under target/dapp/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { RpcClient } from '@veil/client';
import { deployToken } from '../scripts/deploy-token.mjs';

const APP_DIR = resolve(fileURLToPath(new URL('..', import.meta.url)));
const REPO_ROOT = resolve(APP_DIR, '../..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(REPO_ROOT, 'target');
const VEIL = process.env.VEIL_BIN ?? join(TARGET, 'debug', 'veil');
const ARTIFACTS = join(TARGET, 'dapp');

const freePort = () =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });

let home, node, nodeUrl, server, browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  home = mkdtempSync(join(tmpdir(), 'veil-dapp-'));
  const port = await freePort();
  nodeUrl = `http://127.0.0.1:${port}`;
  node = spawn(VEIL, ['dev', '--home', home, '--rpc-addr', `127.0.0.1:${port}`, '--block-time', '200ms'], {
    stdio: ['ignore', 'ignore', openSync(join(home, 'node.log'), 'a')],
  });
  const rpc = new RpcClient(nodeUrl);
  for (const started = Date.now(); ; ) {
    try {
      await rpc.status();
      break;
    } catch {
      if (node.exitCode !== null || Date.now() - started > 60_000) {
        throw new Error(`veil dev did not start:\n${readFileSync(join(home, 'node.log'), 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // The production build, served by Vite's preview server with its proxy to the node.
  process.env.VEIL_NODE = nodeUrl;
  await build({ root: APP_DIR, logLevel: 'warn' });
  server = await preview({ root: APP_DIR, preview: { port: await freePort(), strictPort: true }, logLevel: 'warn' });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.httpServer.close(r) : r()));
  if (node && node.exitCode === null) {
    const exited = new Promise((r) => node.once('exit', r));
    node.kill('SIGINT');
    await exited;
  }
  if (home) rmSync(home, { recursive: true, force: true });
});

test('a confidential cw20 dApp in Chromium', async () => {
  const token = await deployToken({ node: nodeUrl, veil: VEIL });
  const page = await browser.newPage({ viewport: { width: 1000, height: 1300 } });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  const appUrl = server.resolvedUrls.local[0];
  await page.goto(`${appUrl}?token=${token}&account=alice`);

  const ready = () => page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
  const text = (selector) => page.locator(selector).innerText();
  await ready();
  assert.equal(await text('#symbol'), 'XMPL');
  assert.equal(await text('#balance'), '1000000', 'alice reads her balance (signed query)');

  // Alice sends 250 to carol: encrypted in the page, gas by simulation, then a block.
  await page.selectOption('#recipient', 'carol');
  await page.fill('#amount', '250');
  await page.click('#send-button');
  await page.waitForFunction(() => /^sent 250 to carol in block \d+/.test(document.getElementById('send-status').textContent), null, {
    timeout: 60_000,
  });
  await ready();
  assert.equal(await text('#balance'), '999750');
  const mine = page.locator('#my-transfers tr');
  await mine.first().waitFor();
  assert.equal(await mine.count(), 1);
  assert.match(await mine.first().innerText(), /carol\s+250/, 'the transfer, decrypted for its sender');
  await page.screenshot({ path: join(ARTIFACTS, 'cw20-dapp-alice.png'), fullPage: true });

  // Carol: her balance; alice's transfer is on chain, but encrypted for alice.
  await page.selectOption('#account', 'carol');
  await page.waitForFunction(() => document.body.dataset.transfersShownFor?.length > 0 && document.getElementById('balance').textContent === '250', null, {
    timeout: 30_000,
  });
  await ready();
  assert.equal(await page.locator('#my-transfers tr').count(), 0, 'carol sent nothing');
  const others = await text('#other-transfers');
  assert.match(others, /alice\s+execute: encrypted for alice — cannot be read/);
  assert.doesNotMatch(others, /250/, 'the amount stays hidden from carol');
  // …and she cannot read alice's balance either.
  await page.selectOption('#peek', 'alice');
  await page.click('#peek-button');
  await page.waitForFunction(() => document.getElementById('peek-result').textContent !== '');
  assert.match(await text('#peek-result'), /^refused: .*unauthorized/i);
  await page.screenshot({ path: join(ARTIFACTS, 'cw20-dapp.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});
