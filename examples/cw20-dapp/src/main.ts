// A confidential cw20 token in the browser: balance by signed query, transfers encrypted
// on this page, past transfers decrypted for their sender — and what others cannot read.
import { KeyPair, UnauthorizedError, VeilClient, VeilError, Wallet, type Receipt } from '@veil/client';

const DEV_ACCOUNTS = ['alice', 'bob', 'carol'] as const;
const params = new URLSearchParams(location.search);
const chainId = params.get('chain') ?? 'veil-dev';
const rpcUrl = `${location.origin}/rpc`;
const names = new Map<string, string>(DEV_ACCOUNTS.map((name) => [KeyPair.dev(name).address, name]));

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element as T;
};
const tokenInput = $<HTMLInputElement>('token');
const accountSelect = $<HTMLSelectElement>('account');
tokenInput.value = params.get('token') ?? localStorage.getItem('veil-token') ?? '';
accountSelect.value = params.get('account') ?? 'alice';
$('chain').textContent = chainId;

let client = clientFor(accountSelect.value);
/** Receipts of the token's transactions, by hash, from every block scanned so far. */
const tokenReceipts = new Map<string, Receipt>();
let scannedHeight = 0;
let scanning: Promise<void> | undefined;

function clientFor(name: string): VeilClient {
  return new VeilClient({ url: rpcUrl, chainId, wallet: Wallet.dev(name) });
}

const nameOf = (address: string) => names.get(address) ?? address;
const token = () => tokenInput.value.trim();
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

function touchesToken(receipt: Receipt): boolean {
  return receipt.events.some((event) => event.attributes.some(([key, value]) => key === 'contract_address' && value === token()));
}

function remember(receipt: Receipt) {
  if (touchesToken(receipt)) tokenReceipts.set(receipt.tx_hash, receipt);
}

/** Reads the receipts of every block not scanned yet (a dev chain is short; 8 at a time). */
async function scanBlocks(): Promise<void> {
  scanning ??= (async () => {
    const latest = (await client.rpc.block()).header.height;
    $('height').textContent = String(latest);
    const heights = Array.from({ length: latest - scannedHeight }, (_, i) => scannedHeight + 1 + i);
    for (let i = 0; i < heights.length; i += 8) {
      const batch = await Promise.all(heights.slice(i, i + 8).map((h) => client.rpc.blockReceipts(h)));
      batch.flat().forEach(remember);
    }
    scannedHeight = Math.max(scannedHeight, latest);
  })().finally(() => (scanning = undefined));
  return scanning;
}

async function showBalance() {
  const balance = $('balance');
  if (token() === '') {
    balance.textContent = 'enter the token contract';
    return;
  }
  try {
    const answer = await client.query.compute.queryContract<{ balance: string }>({
      contract_address: token(),
      query: { balance: { address: client.address } },
    });
    balance.textContent = answer.balance;
    balance.className = 'ok';
  } catch (error) {
    balance.textContent = describe(error);
    balance.className = 'error';
  }
}

async function showSymbol() {
  try {
    const info = await client.query.compute.queryContract<{ symbol: string }>({ contract_address: token(), query: { token_info: {} } });
    $('symbol').textContent = info.symbol;
  } catch {
    $('symbol').textContent = '';
  }
}

function cell(row: HTMLTableRowElement, text: string, className = '') {
  const td = row.insertCell();
  td.textContent = text;
  td.className = className;
}

async function showTransfers() {
  await scanBlocks();
  const mine = $<HTMLTableSectionElement>('my-transfers');
  const others = $<HTMLTableSectionElement>('other-transfers');
  const receipts = [...tokenReceipts.values()].sort((a, b) => b.height - a.height || b.index - a.index);
  const myRows: HTMLTableRowElement[] = [];
  const otherRows: HTMLTableRowElement[] = [];
  for (const receipt of receipts) {
    // Read back through the client: it decrypts what this wallet sent, nothing else.
    const tx = await client.query.getTx(receipt.tx_hash);
    if (tx === null) continue;
    const row = document.createElement('tr');
    row.dataset.tx = tx.transactionHash;
    if (tx.decrypted) {
      const message = tx.message as { transfer?: { recipient: string; amount: string } } | null;
      if (message?.transfer === undefined) continue;
      cell(row, String(tx.height));
      cell(row, nameOf(message.transfer.recipient));
      cell(row, message.transfer.amount + (tx.ok ? '' : ' (failed)'));
      cell(row, `${tx.transactionHash.slice(0, 12)}…`);
      myRows.push(row);
    } else {
      cell(row, String(tx.height));
      cell(row, nameOf(tx.sender));
      cell(row, `${tx.msgKind}: encrypted for ${nameOf(tx.sender)} — cannot be read`, 'locked');
      otherRows.push(row);
    }
  }
  mine.replaceChildren(...myRows);
  others.replaceChildren(...otherRows);
  document.body.dataset.transfersShownFor = client.address ?? '';
}

async function refresh() {
  if (token() !== '') localStorage.setItem('veil-token', token());
  document.body.dataset.ready = 'false';
  await Promise.all([showBalance(), showSymbol(), showTransfers().catch((e) => ($('send-status').textContent = describe(e)))]);
  document.body.dataset.ready = 'true';
}

accountSelect.addEventListener('change', () => {
  client = clientFor(accountSelect.value);
  $('address').textContent = client.address ?? '';
  $('send-status').textContent = '';
  $('peek-result').textContent = '';
  void refresh();
});
tokenInput.addEventListener('change', () => {
  tokenReceipts.clear();
  scannedHeight = 0;
  void refresh();
});

$<HTMLFormElement>('send').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = $('send-status');
  const button = $<HTMLButtonElement>('send-button');
  const recipient = KeyPair.dev($<HTMLSelectElement>('recipient').value).address;
  const amount = $<HTMLInputElement>('amount').value;
  button.disabled = true;
  status.className = '';
  status.textContent = 'encrypting, estimating gas, waiting for a block…';
  try {
    const sent = await client.tx.compute.executeContract({
      contract_address: token(),
      msg: { transfer: { recipient, amount } },
    });
    status.textContent = `sent ${amount} to ${nameOf(recipient)} in block ${sent.height} (gas ${sent.gasUsed})`;
    status.className = 'ok';
  } catch (error) {
    status.textContent = `not sent: ${describe(error)}`;
    status.className = 'error';
  } finally {
    button.disabled = false;
  }
  await refresh();
});

$('peek-button').addEventListener('click', async () => {
  const result = $('peek-result');
  const who = KeyPair.dev($<HTMLSelectElement>('peek').value).address;
  try {
    const answer = await client.query.compute.queryContract<{ balance: string }>({
      contract_address: token(),
      query: { balance: { address: who } },
    });
    result.textContent = `balance ${answer.balance}`;
    result.className = 'ok';
  } catch (error) {
    result.textContent = error instanceof UnauthorizedError ? `refused: ${error.contractError ?? error.message}` : describe(error);
    result.className = error instanceof VeilError ? 'error' : '';
  }
});

// New receipts arrive over the node's WebSocket: the table follows the chain.
client.subscribe(
  (event) => {
    if (event.type === 'new_block') $('height').textContent = String(event.header.height);
    if (event.type === 'tx' && touchesToken(event.receipt) && !tokenReceipts.has(event.receipt.tx_hash)) {
      remember(event.receipt);
      if (document.body.dataset.ready === 'true') void showTransfers();
    }
  },
  { onError: (error) => console.warn(error.message) },
);

$('address').textContent = client.address ?? '';
void refresh();
