/**
 * Reads the server name (SNI) from the first bytes a client sends through a CONNECT tunnel. Pure
 * and total: any input yields a verdict, never an exception, and at most 16 KiB is ever examined.
 */

/** Most bytes of a ClientHello the proxy will buffer; real ones are well under 2 KiB (or ~8 KiB with PQ key shares). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

export type SniVerdict =
  | { kind: 'need_more' }
  | { kind: 'not_tls' }
  | { kind: 'malformed'; detail: string }
  | { kind: 'client_hello'; serverName: string | null };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
const MAX_RECORD_LENGTH = 16384 + 2048;

/** Parses buffered client bytes into a verdict. */
export function parseClientHello(data: Uint8Array): SniVerdict {
  if (data.length === 0) return { kind: 'need_more' };
  if (data[0] !== RECORD_HANDSHAKE) return { kind: 'not_tls' };
  if (data.length >= 2 && data[1] !== 0x03) return { kind: 'not_tls' };
  const handshake = gatherHandshake(data);
  if ('kind' in handshake) return handshake;
  return parseHelloBody(handshake.body);
}

/** Concatenates handshake-record payloads until the first handshake message is complete. */
function gatherHandshake(data: Uint8Array): { body: Uint8Array } | SniVerdict {
  const payload: Uint8Array[] = [];
  let payloadLength = 0;
  let offset = 0;
  for (;;) {
    if (data.length - offset < 5) return needMore(data);
    if (data[offset] !== RECORD_HANDSHAKE) return malformed('non-handshake record inside the ClientHello');
    if (data[offset + 1] !== 0x03) return malformed('bad record version');
    const recordLength = readUint16(data, offset + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD_LENGTH) return malformed('bad record length');
    if (data.length - offset - 5 < recordLength) {
      if (offset + 5 + recordLength > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello larger than 16 KiB');
      const partial = concat([...payload, data.subarray(offset + 5)], payloadLength + data.length - offset - 5);
      return checkHeader(partial) ?? needMore(data);
    }
    payload.push(data.subarray(offset + 5, offset + 5 + recordLength));
    payloadLength += recordLength;
    offset += 5 + recordLength;
    if (payloadLength < 4) continue;
    const joined = concat(payload, payloadLength);
    const refusal = checkHeader(joined);
    if (refusal !== null) return refusal;
    const messageLength = readUint24(joined, 1);
    if (payloadLength >= messageLength + 4) return { body: joined.subarray(4, 4 + messageLength) };
  }
}

/** Judges the handshake header as soon as its 4 bytes are in, so a bad one is refused without waiting. */
function checkHeader(handshake: Uint8Array): SniVerdict | null {
  if (handshake.length < 4) return null;
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return malformed('first handshake message is not a ClientHello');
  if (readUint24(handshake, 1) + 4 > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello larger than 16 KiB');
  return null;
}

function parseHelloBody(body: Uint8Array): SniVerdict {
  const reader = new Reader(body);
  reader.skip(2 + 32); // legacy_version, random
  reader.skip(reader.uint8()); // legacy_session_id
  const cipherSuites = reader.uint16();
  if (cipherSuites === 0 || cipherSuites % 2 !== 0) return malformed('bad cipher suites');
  reader.skip(cipherSuites);
  const compression = reader.uint8();
  if (compression === 0) return malformed('no compression methods');
  reader.skip(compression);
  if (reader.failed) return malformed('truncated ClientHello');
  if (reader.remaining === 0) return { kind: 'client_hello', serverName: null };
  const extensions = reader.slice(reader.uint16());
  if (reader.failed || reader.remaining !== 0) return malformed('bad extensions length');
  let serverName: string | null = null;
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const type = extensions.uint16();
    const data = extensions.slice(extensions.uint16());
    if (extensions.failed) return malformed('truncated extension');
    // Why: duplicate extensions are illegal, and two SNIs could be read differently by us and the server.
    if (seen.has(type)) return malformed('duplicate extension');
    seen.add(type);
    if (type !== EXTENSION_SERVER_NAME) continue;
    const name = parseServerNameExtension(data);
    if (typeof name !== 'string') return name;
    serverName = name;
  }
  return { kind: 'client_hello', serverName };
}

function parseServerNameExtension(data: Reader): string | SniVerdict {
  const list = data.slice(data.uint16());
  if (data.failed || data.remaining !== 0) return malformed('bad server_name list length');
  let hostName: string | null = null;
  while (list.remaining > 0) {
    const nameType = list.uint8();
    const name = list.slice(list.uint16());
    if (list.failed) return malformed('truncated server_name entry');
    if (nameType !== NAME_TYPE_HOST) continue;
    if (hostName !== null) return malformed('more than one host_name');
    hostName = decodeHostName(name.rest());
    if (hostName === null) return malformed('server name is not a printable ASCII host');
  }
  if (hostName === null) return malformed('server_name extension without a host_name');
  return hostName;
}

function decodeHostName(bytes: Uint8Array): string | null {
  if (bytes.length === 0 || bytes.length > 255) return null;
  for (const byte of bytes) if (byte < 0x21 || byte > 0x7e) return null;
  return Buffer.from(bytes).toString('latin1').toLowerCase();
}

/** Bounds-checked reader: reading past the end sets `failed` instead of throwing. */
class Reader {
  private readonly bytes: Uint8Array;
  private offset = 0;
  failed = false;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get remaining(): number {
    return this.failed ? 0 : this.bytes.length - this.offset;
  }
  uint8(): number {
    return this.take(1)?.[0] ?? 0;
  }
  uint16(): number {
    const b = this.take(2);
    return b ? readUint16(b, 0) : 0;
  }
  skip(count: number): void {
    this.take(count);
  }
  slice(count: number): Reader {
    const child = new Reader(this.take(count) ?? new Uint8Array(0));
    return child;
  }
  rest(): Uint8Array {
    return this.take(this.remaining) ?? new Uint8Array(0);
  }
  private take(count: number): Uint8Array | null {
    if (this.failed || count > this.bytes.length - this.offset) {
      this.failed = true;
      return null;
    }
    const out = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }
}

function needMore(data: Uint8Array): SniVerdict {
  return data.length >= MAX_CLIENT_HELLO_BYTES ? malformed('ClientHello larger than 16 KiB') : { kind: 'need_more' };
}

function malformed(detail: string): SniVerdict {
  return { kind: 'malformed', detail };
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

function readUint24(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 16) | ((bytes[offset + 1] ?? 0) << 8) | (bytes[offset + 2] ?? 0);
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  return parts.length === 1 ? (parts[0] ?? new Uint8Array(0)) : Buffer.concat(parts, length);
}
