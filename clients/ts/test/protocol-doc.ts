// Reads the test vectors of docs/protocol.md, as the Rust tests do: the TS client is
// checked against the same document, so neither can drift from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PROTOCOL_MD = readFileSync(fileURLToPath(new URL('../../../../docs/protocol.md', import.meta.url)), 'utf8');

/** The `name: value` lines of the fenced block ```` ```fence ````, quotes removed from strings. */
export function vectorBlock(fence: string): Map<string, string> {
  const lines = PROTOCOL_MD.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === '```' + fence);
  if (start < 0) throw new Error(`docs/protocol.md has no \`\`\`${fence} block`);
  const out = new Map<string, string>();
  for (const raw of lines.slice(start + 1)) {
    const line = raw.trim();
    if (line === '```') return out;
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`vector line without \`name: value\`: ${line}`);
    let value = line.slice(colon + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(line.slice(0, colon).trim(), value);
  }
  throw new Error(`unterminated ${fence} block`);
}

/** A `name: hexvalue` line in a plain ```text block of the document (the permit vectors). */
export function textVector(name: string): string {
  const match = new RegExp(`^${name}: ([0-9a-f]+)$`, 'm').exec(PROTOCOL_MD);
  if (match?.[1] === undefined) throw new Error(`docs/protocol.md has no ${name} line`);
  return match[1];
}

export function need(block: Map<string, string>, name: string): string {
  const value = block.get(name);
  if (value === undefined) throw new Error(`vector ${name} missing from docs/protocol.md`);
  return value;
}
