/**
 * How the proxy reaches a remote MCP server: the egress rules sandboxes get, applied to the
 * proxy's own connection. The server's name is resolved, every address is classified as the
 * egress proxy classifies them (internal ranges, the host's own addresses, cloud metadata), and the
 * connection goes to the address that was checked (no second lookup a rebinding DNS could answer
 * differently). Internal addresses are refused unless the server's configuration allows them;
 * cloud metadata and the unspecified address never are.
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ABSOLUTE_ADDRESS_REASONS, createAddressClassifier } from '../../network/proxy/addresses.ts';

/** The address a remote server's name resolved to and was allowed at. */
async function checkedAddress(url: URL, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = await lookup(host, { all: true });
  const classify = createAddressClassifier();
  for (const a of addresses) {
    const reason = classify(a.address);
    if (reason === null) continue;
    // Why every address: a name with one public and one internal address would reach the internal one half the time.
    if (ABSOLUTE_ADDRESS_REASONS.has(reason) || !allowPrivate) {
      throw new Error(`remote MCP server ${url.host} resolves to ${a.address} (${reason}), which the proxy does not connect to${ABSOLUTE_ADDRESS_REASONS.has(reason) ? '' : ' unless the server is configured with allowPrivate: true'}`);
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new Error(`remote MCP server ${url.host} does not resolve`);
  return first;
}

function responseHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** A fetch for the SDK's Streamable HTTP client that connects only to checked addresses. */
export function guardedFetch(allowPrivate: boolean): FetchLike {
  return async (input, init) => {
    const url = new URL(String(input));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`remote MCP server URL ${url.protocol} is not http(s)`);
    const pinned = await checkedAddress(url, allowPrivate);
    const pin: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all === true) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
      else callback(null, pinned.address, pinned.family);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, { method: init?.method ?? 'GET', headers, lookup: pin, ...(init?.signal ? { signal: init.signal } : {}) }, (res) => {
        const status = res.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init?.method === 'HEAD';
        resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res.headers) }));
      });
      req.once('error', reject);
      const body = init?.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else reject(new TypeError('the MCP client sent a body of a kind the proxy does not forward'));
    });
  };
}
