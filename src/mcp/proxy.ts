/**
 * The MCP security proxy: one per `airlock mcp-proxy`. Holds what every session shares (see
 * context.ts), opens a {@link ProxySession} per authenticated client session, keeps the shared
 * servers' connections, and reports its policy hash: the Cedar bundle, the pins and the scanner's
 * rules version together, so a changed pin or rule shows as a changed hash.
 */
import type { Caller } from '../admission/caller.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import type { McpConfig } from '../config/mcp-config.ts';
import { isLocalServer } from '../config/mcp-config.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { PolicySettings } from '../policy/request.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { canonicalDigest } from '../signing/canonical-json.ts';
import { ArgumentValidator } from './arguments.ts';
import type { McpLog, ProxyContext } from './context.ts';
import { PinStore } from './pins.ts';
import { McpRecorder, type McpRecorderOptions } from './record.ts';
import { McpRefusal } from './refusal.ts';
import type { Scanner } from './scanning.ts';
import { ProxySession } from './session.ts';
import { connectUpstream, type Upstream } from './upstream/connect.ts';

/** The owner recorded on the sandboxes of shared servers (no one agent's). */
export const SHARED_OWNER = 'airlock-mcp-proxy';

/** What a proxy is built from. */
export interface McpProxyOptions {
  config: McpConfig;
  /** The state directory (pins live under it). */
  stateDir: string;
  service: SandboxServiceApi;
  engine: PolicyEngine;
  settings: PolicySettings;
  approvals: ApprovalGate;
  scanner: Scanner;
  /** Idle lifetime of a server's sandbox (refreshed on every request). */
  ttlSeconds: number;
  record?: McpRecorderOptions | undefined;
  log: McpLog;
}

/** A running proxy's sessions and shared servers. */
export class McpProxy {
  readonly context: ProxyContext;
  readonly #sessions = new Set<ProxySession>();
  readonly #shared = new Map<string, Promise<Upstream>>();
  readonly #reported = new Set<string>();
  readonly #options: McpProxyOptions;

  constructor(options: McpProxyOptions) {
    this.#options = options;
    const { config } = options;
    this.context = {
      config,
      service: options.service,
      engine: options.engine,
      settings: options.settings,
      pins: new PinStore(options.stateDir),
      scanner: options.scanner,
      validator: new ArgumentValidator({ bytes: config.limits.argumentBytes, depth: config.limits.argumentDepth }),
      approvals: options.approvals,
      recorder: new McpRecorder(options.record ?? {}),
      log: options.log,
      ttlSeconds: options.ttlSeconds,
      sharedUpstream: (name) => this.#sharedUpstream(name),
      firstReport: (key) => {
        if (this.#reported.has(key)) return false;
        this.#reported.add(key);
        return true;
      },
    };
  }

  /** A new session for `caller`; closed with {@link closeSession} (or the proxy). */
  openSession(caller: Caller): ProxySession {
    const session = new ProxySession(caller, this.context);
    this.#sessions.add(session);
    return session;
  }

  /** Ends a session and its own servers' sandboxes. */
  async closeSession(session: ProxySession): Promise<void> {
    this.#sessions.delete(session);
    await session.close();
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** `sha256:` of the Cedar bundle hash, the pins and the scanner's rules version. */
  async policyHash(): Promise<string> {
    return canonicalDigest({ policy_bundle: this.context.engine.hash, mcp_pins: await this.context.pins.digest(), mcp_scanner_rules: this.context.scanner.rulesVersion });
  }

  /** Ends every session and shared server. */
  async close(): Promise<void> {
    const sessions = [...this.#sessions];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
    const shared = [...this.#shared.values()];
    this.#shared.clear();
    await Promise.all(shared.map((p) => p.then((u) => u.close(), () => undefined)));
  }

  #sharedUpstream(name: string): Promise<Upstream> {
    let pending = this.#shared.get(name);
    if (pending !== undefined) return pending;
    const server = this.#options.config.servers[name];
    if (server === undefined || !isLocalServer(server)) return Promise.reject(new McpRefusal('unknown_server', `no shared server named ${JSON.stringify(name)}`));
    const { limits } = this.#options.config;
    pending = connectUpstream({
      name,
      server,
      service: this.#options.service,
      owner: SHARED_OWNER,
      ttlSeconds: this.#options.ttlSeconds,
      maxMessageBytes: limits.messageBytes * 4,
      startTimeoutMs: limits.startTimeoutSeconds * 1000,
      // Why refused outright: a shared server's request to "the client" has no one client it could go to.
      onServerRequest: async (request) => {
        const reason = `shared server ${name} asked for ${request.method}; a shared server may not ask clients for anything`;
        await this.context.recorder.violation(null, 'mcp_server_request_refused', 'HIGH', reason, { server: name, method: request.method }, 'Run the server per session (share: false) if it needs sampling or elicitation.');
        throw new McpRefusal('sampling_refused', reason);
      },
      onStderr: (chunk) => this.#options.log.warn({ server: name, stderr: chunk.toString('utf8', 0, 2048) }, 'MCP server stderr'),
    });
    const started = pending;
    this.#shared.set(name, started);
    const forget = () => {
      if (this.#shared.get(name) === started) this.#shared.delete(name);
    };
    started.then((u) => u.ended.then(forget), forget);
    return pending;
  }
}
