/**
 * A small node:http server for signing tests: every request is checked by the server's real
 * verifier (src/signing/verify.ts, real replay cache), over TCP on 127.0.0.1 or on a unix socket.
 * An unverified request gets 401 with the refusal's code; a verified one is recorded and answered
 * by a canned route (JSON echo, an NDJSON exec stream, a file write).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { MemoryReplayCache } from '../../src/signing/replay-cache.ts';
import { RequestVerifier } from '../../src/signing/verify.ts';

/** A request the verifier accepted (or, for `refused`, turned away). */
export interface SeenRequest {
  method: string;
  targetUri: string;
  headers: IncomingMessage['headers'];
  body: Uint8Array;
  keyid?: string;
  nonce?: string;
  components?: readonly string[];
  refusal?: string;
}

/** The running server. */
export interface VerifyingServer {
  /** `http://127.0.0.1:PORT` for TCP, `http://localhost` for a socket. */
  baseUrl: string;
  /** Every request in arrival order, verified or refused. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** Options: the keys the verifier knows (by key id), and where to listen. */
export interface VerifyingServerOptions {
  keys: ReadonlyMap<string, KeyObject>;
  /** A unix socket path; default TCP on 127.0.0.1, a free port. */
  socketPath?: string;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

async function answer(req: IncomingMessage, res: ServerResponse, seen: SeenRequest): Promise<void> {
  const url = new URL(seen.targetUri);
  if (req.method === 'POST' && url.pathname.endsWith('/exec')) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-airlock-exec-id': 'e-1' });
    res.write(`${JSON.stringify({ type: 'stdout', data: 'hello\n', encoding: 'utf8' })}\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.end(`${JSON.stringify({ type: 'exit', exit_code: 0, signal: null, termination_reason: 'completed', duration_ms: 1 })}\n`);
    return;
  }
  if (req.method === 'PUT' && url.pathname.endsWith('/files')) {
    json(res, 200, { path: url.searchParams.get('path'), size: seen.body.length });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/api/v1/sandboxes') {
    json(res, 200, { sandboxes: [] });
    return;
  }
  json(res, 200, { sandbox_id: 's-1', method: req.method, body_bytes: seen.body.length });
}

/** Starts a verifying server. */
export async function startVerifyingServer(options: VerifyingServerOptions): Promise<VerifyingServer> {
  const verifier = new RequestVerifier({
    lookupKey: (keyid) => {
      const publicKey = options.keys.get(keyid);
      return publicKey === undefined ? undefined : { publicKey };
    },
    replayCache: new MemoryReplayCache(),
  });
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      // As the API does: scheme from the listener, Host and the request target from the request.
      const record: SeenRequest = { method: req.method ?? '', targetUri: `http://${req.headers.host ?? ''}${req.url ?? ''}`, headers: req.headers, body };
      seen.push(record);
      const result = await verifier.verify({ method: record.method, targetUri: record.targetUri, headers: req.headers, body });
      if (!result.ok) {
        record.refusal = result.code;
        json(res, 401, { error: { code: result.code, message: result.reason } });
        return;
      }
      Object.assign(record, { keyid: result.keyid, nonce: result.nonce, components: result.components });
      await answer(req, res, record);
    })().catch((err: unknown) => res.destroy(err as Error));
  });
  await new Promise<void>((resolve) => {
    if (options.socketPath !== undefined) server.listen(options.socketPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const baseUrl = options.socketPath !== undefined ? 'http://localhost' : `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    seen,
    close: async () => {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closing;
    },
  };
}
