// Byte helpers and the postcard wire format (https://postcard.jamesmunns.com): what the
// node, the enclave and the Rust client encode transactions and permits with.
import { base64, hex, utf8 } from '@scure/base';

export const toHex = (bytes: Uint8Array): string => hex.encode(bytes);
export const fromHex = (text: string): Uint8Array => hex.decode(text.toLowerCase());
export const toBase64 = (bytes: Uint8Array): string => base64.encode(bytes);
export const fromBase64 = (text: string): Uint8Array => base64.decode(text);
export const utf8Bytes = (text: string): Uint8Array => utf8.decode(text);
export const utf8Text = (bytes: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;

/** Writes postcard: varint integers, length-prefixed strings and bytes, enum variant indexes. */
export class PostcardWriter {
  private readonly chunks: number[] = [];

  /** An unsigned integer as a LEB128 varint (postcard's u16..u128). */
  varint(value: bigint | number, max: bigint = U128_MAX): this {
    let v = BigInt(value);
    if (v < 0n || v > max) throw new RangeError(`integer ${v} out of range`);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (v !== 0n);
    return this;
  }

  u32(value: number): this {
    return this.varint(value, 0xffffffffn);
  }

  u64(value: bigint | number): this {
    return this.varint(value, U64_MAX);
  }

  u128(value: bigint | number): this {
    return this.varint(value, U128_MAX);
  }

  /** Bytes of a fixed length (`[u8; N]`): no length prefix. */
  fixed(bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.length}`);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  /** A `Vec<u8>`: varint length, then the bytes. */
  bytes(bytes: Uint8Array): this {
    this.varint(bytes.length);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  string(text: string): this {
    return this.bytes(utf8Bytes(text));
  }

  bool(value: boolean): this {
    this.chunks.push(value ? 1 : 0);
    return this;
  }

  option<T>(value: T | null | undefined, write: (value: T) => void): this {
    if (value === null || value === undefined) {
      this.chunks.push(0);
    } else {
      this.chunks.push(1);
      write(value);
    }
    return this;
  }

  seq<T>(items: readonly T[], write: (item: T) => void): this {
    this.varint(items.length);
    for (const item of items) write(item);
    return this;
  }

  variant(index: number): this {
    return this.u32(index);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** Reads postcard written by [[PostcardWriter]] (and by Rust's `postcard`). */
export class PostcardReader {
  private offset = 0;
  constructor(private readonly input: Uint8Array) {}

  varint(max: bigint = U128_MAX): bigint {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.input[this.offset++];
      if (byte === undefined) throw new RangeError('postcard: unexpected end of input');
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
      if (shift > 133n) throw new RangeError('postcard: varint too long');
    }
    if (value > max) throw new RangeError('postcard: integer out of range');
    return value;
  }

  u32(): number {
    return Number(this.varint(0xffffffffn));
  }

  u64(): bigint {
    return this.varint(U64_MAX);
  }

  u128(): bigint {
    return this.varint(U128_MAX);
  }

  private take(length: number): Uint8Array {
    if (this.offset + length > this.input.length) throw new RangeError('postcard: unexpected end of input');
    const out = this.input.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  fixed(length: number): Uint8Array {
    return this.take(length);
  }

  bytes(): Uint8Array {
    const length = this.varint(BigInt(this.input.length));
    return this.take(Number(length));
  }

  string(): string {
    return utf8Text(this.bytes());
  }

  bool(): boolean {
    const byte = this.take(1)[0];
    if (byte !== 0 && byte !== 1) throw new RangeError(`postcard: ${byte} is not a bool`);
    return byte === 1;
  }

  option<T>(read: () => T): T | null {
    return this.bool() ? read() : null;
  }

  seq<T>(read: () => T): T[] {
    const length = Number(this.varint(BigInt(this.input.length)));
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(read());
    return out;
  }

  variant(): number {
    return this.u32();
  }

  /** Fails unless every byte was read (the Rust side decodes exactly too). */
  end(): void {
    if (this.offset !== this.input.length) {
      throw new RangeError(`postcard: ${this.input.length - this.offset} trailing bytes`);
    }
  }
}
