/**
 * The proxy's Streamable HTTP listener (`POST|GET|DELETE /mcp`, `GET /health`). Every request is
 * authenticated by the control plane's Authenticator (RFC 9421 signatures with the agent's key, or
 * the development switch for unsigned loopback) before its JSON is parsed; a session belongs to the
 * caller that opened it, and another caller presenting its id is refused. Bodies are capped
 * (`mcp.limits.messageBytes`); malformed JSON gets a JSON-RPC parse error; an idle session ends
 * (with its sandboxes).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { chmod, lstat, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Authenticator } from '../admission/authenticate.ts';
import type { Caller } from '../admission/caller.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import { hostAllowed, parseAllowedHosts } from '../config/allowed-hosts.ts';
import type { PeerCredentialsReader } from '../host/peer-credentials.ts';
import type { McpProxy } from './proxy.ts';
import { MCP_REFUSALS } from './refusal.ts';
import type { ProxySession } from './session.ts';

/** Options of {@link startMcpHttp}. */
export interface McpHttpOptions {
  proxy: McpProxy;
  authenticator: Authenticator;
  host: string;
  port: number;
  /** Host header values answered (DNS-rebinding guard), as `service.allowedHosts`. */
  allowedHosts: readonly string[];
  /** A session with no request for this long is closed (its sandboxes end). */
  sessionIdleMs: number;
  /**
   * Also listen on this unix socket (mode 0600), whose callers are identified by their uid
   * (SO_PEERCRED, mapped by `auth.localUsers`), with `peers` reading it.
   */
  socket?: { path: string; peers: PeerCredentialsReader } | undefined;
}

/** A listening proxy. */
export interface McpHttpServer {
  /** `http://host:port/mcp`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, ends every session. */
  close(): Promise<void>;
}

interface OpenSession {
  transport: StreamableHTTPServerTransport;
  session: ProxySession;
  idle: NodeJS.Timeout | undefined;
  /** HTTP exchanges of the session still open (a call's SSE response, the client's GET stream). */
  open: number;
}

/** Answers a JSON-RPC error with an HTTP status (no request id: it was refused before parsing). */
function rpcError(res: ServerResponse, status: number, code: number, message: string, data?: Record<string, unknown>): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, ...(data === undefined ? {} : { data }) } }));
}

/** Reads the body up to `limit` bytes; undefined (and the request answered 413) past it. */
async function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  // Why refuse by the header first: an oversized body is never read into memory.
  if (declared > limit) {
    rpcError(res, 413, -32600, `message of ${declared} bytes exceeds the proxy's limit of ${limit} (mcp.limits.messageBytes)`, { airlock_code: 'message_too_large' });
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      rpcError(res, 413, -32600, `message exceeds the proxy's limit of ${limit} bytes (mcp.limits.messageBytes)`, { airlock_code: 'message_too_large' });
      req.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function isLoopbackPeer(address: string | undefined): boolean {
  const a = (address ?? '').replace(/^::ffff:/i, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Starts the listener. */
export async function startMcpHttp(options: McpHttpOptions): Promise<McpHttpServer> {
  const { proxy, authenticator } = options;
  const allowed = parseAllowedHosts(options.allowedHosts);
  const sessions = new Map<string, OpenSession>();
  const limit = proxy.context.config.limits.messageBytes;

  const end = async (id: string) => {
    const open = sessions.get(id);
    if (open === undefined) return;
    sessions.delete(id);
    clearTimeout(open.idle);
    await proxy.closeSession(open.session);
  };
  // Idle means no exchange open and none for sessionIdleMs: a client that went away (its streams
  // closed) loses its session and sandboxes then, one that holds a stream or a call keeps them.
  const idleFrom = (id: string, open: OpenSession) => {
    clearTimeout(open.idle);
    open.idle = setTimeout(() => void end(id).then(() => open.transport.close()), options.sessionIdleMs);
    open.idle.unref();
  };
  const exchange = (id: string, open: OpenSession, res: ServerResponse) => {
    clearTimeout(open.idle);
    open.open += 1;
    res.once('close', () => {
      open.open -= 1;
      if (open.open === 0 && sessions.get(id) === open) idleFrom(id, open);
    });
  };

  const authenticate = async (req: IncomingMessage, body: Buffer | undefined, onSocket: boolean): Promise<Caller> => {
    if (onSocket) {
      // Why a failed lookup is nobody: a uid that could not be read is never taken for root.
      const peer = await options.socket?.peers.lookup(req.socket).catch(() => undefined);
      return authenticator.authenticate({ kind: 'unix-socket', peerUid: peer?.uid });
    }
    const targetUri = `http://${req.headers.host ?? ''}${req.url ?? '/'}`;
    return authenticator.authenticate({ kind: 'tcp', loopback: isLoopbackPeer(req.socket.remoteAddress), request: { method: req.method ?? 'GET', targetUri, headers: req.headers, body } });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, onSocket: boolean): Promise<void> => {
    // Why: a name the operator did not configure is a DNS-rebinding attempt from a browser (no browser reaches the socket).
    if (!onSocket && !hostAllowed(req.headers.host, allowed)) return rpcError(res, 421, -32600, `Host ${JSON.stringify(req.headers.host ?? '')} is not one of service.allowedHosts`, { airlock_code: 'host_not_allowed' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'healthy', service: 'airlock-mcp-proxy', policy_hash: await proxy.policyHash(), sessions: proxy.sessionCount }));
      return;
    }
    if (path !== '/mcp') return rpcError(res, 404, -32601, `no endpoint ${path}; MCP is served at /mcp`);
    const body = req.method === 'POST' ? await readBody(req, res, limit) : undefined;
    if (req.method === 'POST' && body === undefined) return;
    let caller: Caller;
    try {
      caller = await authenticate(req, body, onSocket);
    } catch (err) {
      const reason = err instanceof AdmissionRefusal ? err.message : 'authentication failed';
      return rpcError(res, 401, MCP_REFUSALS.authentication_required.code, `${MCP_REFUSALS.authentication_required.text}: ${reason}`, { airlock_code: 'authentication_required', reason });
    }
    let parsed: unknown;
    if (body !== undefined) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return rpcError(res, 400, -32700, `parse error: ${(err as Error).message}`, { airlock_code: 'parse_error' });
      }
    }
    const id = req.headers['mcp-session-id'];
    if (typeof id === 'string') {
      const open = sessions.get(id);
      if (open === undefined) return rpcError(res, 404, -32001, `no session ${id} (it ended or never existed); initialize a new one`, { airlock_code: 'session_not_found' });
      // Why: a session id is a bearer token otherwise; only the caller who opened it may use it.
      if (open.session.caller.name !== caller.name || open.session.caller.agentId !== caller.agentId) {
        return rpcError(res, 403, MCP_REFUSALS.session_mismatch.code, MCP_REFUSALS.session_mismatch.text, { airlock_code: 'session_mismatch' });
      }
      exchange(id, open, res);
      await open.transport.handleRequest(req, res, parsed);
      return;
    }
    if (req.method !== 'POST' || !(isInitializeRequest(parsed) || (Array.isArray(parsed) && parsed.some(isInitializeRequest)))) {
      return rpcError(res, 400, -32600, 'no mcp-session-id: the first request of a session must be initialize', { airlock_code: 'session_required' });
    }
    const session = proxy.openSession(caller);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        const open: OpenSession = { transport, session, idle: undefined, open: 0 };
        sessions.set(sid, open);
        idleFrom(sid, open);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) void end(transport.sessionId);
      else void proxy.closeSession(session);
    };
    await session.server.connect(transport);
    await transport.handleRequest(req, res, parsed);
    if (transport.sessionId === undefined) await proxy.closeSession(session);
  };

  const serve = (onSocket: boolean) =>
    createServer((req, res) => {
      handle(req, res, onSocket).catch((err: unknown) => {
        proxy.context.log.error({ err }, 'MCP proxy request failed');
        rpcError(res, 500, -32603, 'internal error of the MCP proxy');
      });
    });
  const server = serve(false);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const unix = options.socket === undefined ? undefined : serve(true);
  if (unix !== undefined && options.socket !== undefined) {
    const { path, peers } = options.socket;
    peers.attach(unix);
    // A socket left by an earlier run is replaced; anything else at the path is refused, never removed.
    const existing = await lstat(path).catch(() => undefined);
    if (existing !== undefined && !existing.isSocket()) throw new Error(`--socket ${path}: exists and is not a socket`);
    if (existing !== undefined) await rm(path);
    await new Promise<void>((resolve, reject) => {
      unix.once('error', reject);
      unix.listen(path, () => resolve());
    });
    // Why 0600: the socket identifies callers by uid; who may connect at all is root's choice.
    await chmod(path, 0o600);
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    close: async () => {
      await Promise.all([...sessions.keys()].map((id) => end(id)));
      for (const s of [server, unix]) {
        if (s === undefined) continue;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
