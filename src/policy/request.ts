/**
 * An authorization request as admission states it, and its translation into a Cedar call. Facts
 * Cedar cannot compute (which mounts are writable, which configured root each granted path lies
 * under: Cedar cannot quantify over a set or match a prefix it is given at run time) are derived
 * here, in one place, so policies only compare sets.
 */
import { posix } from 'node:path';
import { isAtOrUnder } from '../host/paths.ts';
import type { GrantedMount, Limits } from '../isolation/driver.ts';
import type { NetworkMode } from '../network/policy.ts';
import type { CedarTypes } from './cedar.ts';

/** The actions of the schema (policies/airlock.cedarschema). */
export const POLICY_ACTIONS = ['execute', 'create', 'read', 'exec', 'files.read', 'files.write', 'network.change', 'kill', 'approve', 'admin'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/**
 * The action that decides whether a sandbox may be given one secret (resource
 * `Airlock::Secret::"<name>"`). Not a request of its own: admission asks it once per secret a
 * create or execute names, after that action itself is allowed.
 */
export const SECRET_ACTION = 'secret.use';

/** The MCP proxy's actions (group `mcp`): tools/call, prompts/get, resources/read; resource `Airlock::McpItem`. */
export const MCP_ACTIONS = ['mcp.call', 'mcp.prompt', 'mcp.resource'] as const;
export type McpAction = (typeof MCP_ACTIONS)[number];

/** Whether the signer of a decision may decide an approval of an MCP call (resource: the call's item). */
export const MCP_APPROVE_ACTION = 'mcp.approve';

/** Whether `action` is one of {@link MCP_ACTIONS}. */
export function isMcpAction(action: string): action is McpAction {
  return (MCP_ACTIONS as readonly string[]).includes(action);
}

/** What an approval may be for: a sandbox action or an MCP call. */
export type ApprovalAction = PolicyAction | McpAction;

/** An MCP server's tool, prompt or resource, as the MCP proxy pinned it. */
export interface McpItem {
  server: string;
  name: string;
  /** `server`: the server itself (name `*`), asked before its sandbox is started for a caller. */
  kind: 'tool' | 'prompt' | 'resource' | 'server';
  /** The pinned definition is annotated `destructiveHint: true`. */
  destructive: boolean;
  /** The pinned definition is annotated `readOnlyHint: true`. */
  readOnly: boolean;
}

/** Principal roles, one Cedar entity type each. */
export const PRINCIPAL_ROLES = ['agent', 'operator', 'approver'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** Who asks. */
export interface PolicyPrincipal {
  role: PrincipalRole;
  /** Stable id of the principal; a sandbox's `owner` is the id of the principal that created it. */
  id: string;
  groups?: readonly string[] | undefined;
}

/** Everything that decides what a sandbox may do, resolved (every default filled in). */
export interface SandboxSpec {
  runtime: string;
  image: string;
  network: { mode: NetworkMode; allowedHosts: readonly string[] };
  mounts: readonly GrantedMount[];
  limits: Limits;
  /** Names of the secrets it is given (absent: none). */
  secrets?: readonly string[] | undefined;
}

/** Host settings a decision depends on. */
export interface PolicySettings {
  defaultImage: string;
  /** Absolute host directories below which paths may be granted (none: no host grants at all). */
  hostRoots: readonly string[];
}

/** One authorization question. */
export interface PolicyRequest {
  principal: PolicyPrincipal;
  /** An action of the schema; {@link SECRET_ACTION} with `secret` set. */
  action: PolicyAction | typeof SECRET_ACTION | McpAction | typeof MCP_APPROVE_ACTION;
  /** For an {@link MCP_ACTIONS} action: the tool, prompt or resource. */
  mcp?: McpItem | undefined;
  /** For {@link SECRET_ACTION}: the secret's name. */
  secret?: string | undefined;
  /**
   * The sandbox acted on (every action but `admin`); for `create` and `execute` the sandbox being
   * asked for, owned by the caller.
   */
  sandbox?: { id: string; owner: string; spec: SandboxSpec } | undefined;
  /** The spec the sandbox has once the action is done (`network.change`: with the new network); default: the sandbox's spec. */
  request?: SandboxSpec | undefined;
  /** A valid signed approval of exactly this request is attached (checked by the approval gate). */
  approved?: boolean | undefined;
  settings: PolicySettings;
}

const NAMESPACE = 'Airlock';
const ENTITY_TYPE: Record<PrincipalRole, string> = { agent: `${NAMESPACE}::Agent`, operator: `${NAMESPACE}::Operator`, approver: `${NAMESPACE}::Approver` };

/** The part of a Cedar authorization call a request determines (policies and schema come from the engine). */
export type CedarRequest = Pick<CedarTypes.AuthorizationCall, 'principal' | 'action' | 'resource' | 'context' | 'entities'>;

function normalRoot(root: string): string {
  const n = posix.normalize(root);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * The configured root `hostPath` lies under (the longest one), or the normalized path itself when it
 * lies under none: policies then see a "root" that is not in the configured set.
 */
export function rootOf(hostPath: string, hostRoots: readonly string[]): string {
  // Why: a relative path has no fixed place on the host; it never lies under a root.
  if (!posix.isAbsolute(hostPath)) return hostPath;
  // Lexical normalization folds `..`; links are the grant code's business (it never follows them).
  const path = posix.normalize(hostPath);
  let best: string | null = null;
  for (const raw of hostRoots) {
    if (!posix.isAbsolute(raw)) continue;
    const root = normalRoot(raw);
    if (isAtOrUnder(path, root) && (best === null || root.length > best.length)) best = root;
  }
  return best ?? path;
}

function specRecord(spec: SandboxSpec, hostRoots: readonly string[]): CedarTypes.CedarValueJson {
  const l = spec.limits;
  return {
    runtime: spec.runtime,
    image: spec.image,
    network: { mode: spec.network.mode, allowedHosts: [...spec.network.allowedHosts] },
    mounts: spec.mounts.map((m) => ({ hostPath: m.hostPath, sandboxPath: m.sandboxPath, writable: m.writable, root: rootOf(m.hostPath, hostRoots) })),
    writablePaths: spec.mounts.filter((m) => m.writable).map((m) => m.hostPath),
    mountRoots: spec.mounts.map((m) => rootOf(m.hostPath, hostRoots)),
    // Cedar has only integers: CPU in thousandths of a core, a fractional timeout rounded up.
    limits: {
      memoryMb: Math.ceil(l.memoryMb),
      cpuMillicores: Math.ceil(l.cpuCores * 1000),
      pids: Math.ceil(l.pids),
      timeoutSeconds: Math.ceil(l.timeoutSeconds),
      scratchMb: Math.ceil(l.scratchMb),
      outputBytes: Math.ceil(l.outputBytes),
      openFiles: Math.ceil(l.openFiles),
    },
    secrets: [...(spec.secrets ?? [])],
  };
}

/** Translates a request into Cedar's principal, action, resource, context and entities. */
export function toCedarRequest(request: PolicyRequest, approved: boolean): CedarRequest {
  const p = request.principal;
  const principal = { type: ENTITY_TYPE[p.role], id: p.id };
  const action = { type: `${NAMESPACE}::Action`, id: request.action };
  const principalEntity = { uid: principal, attrs: { role: p.role, agentId: p.id, groups: [...(p.groups ?? [])] }, parents: [] };
  if (request.action === 'admin') {
    const resource = { type: `${NAMESPACE}::Controller`, id: 'airlock' };
    return { principal, action, resource, context: { approved }, entities: [principalEntity, { uid: resource, attrs: {}, parents: [] }] };
  }
  if (isMcpAction(request.action) || request.action === MCP_APPROVE_ACTION) {
    const item = request.mcp;
    if (item === undefined) throw new TypeError(`policy request for ${request.action} names no MCP item`);
    const resource = { type: `${NAMESPACE}::McpItem`, id: `${item.server}/${item.kind}/${item.name}` };
    // The group the default policy gives a server to, spelled out here: Cedar cannot join strings.
    const attrs = { server: item.server, name: item.name, kind: item.kind, grantGroup: `mcp.${item.server}`, destructive: item.destructive, readOnly: item.readOnly };
    return { principal, action, resource, context: { approved }, entities: [principalEntity, { uid: resource, attrs, parents: [] }] };
  }
  const sandbox = request.sandbox;
  if (sandbox === undefined) throw new TypeError(`policy request for ${request.action} names no sandbox`);
  const roots = request.settings.hostRoots;
  const context = {
    request: specRecord(request.request ?? sandbox.spec, roots),
    approved,
    settings: { defaultImage: request.settings.defaultImage, hostRoots: roots.filter((r) => posix.isAbsolute(r)).map(normalRoot) },
  };
  if (request.action === SECRET_ACTION) {
    if (request.secret === undefined) throw new TypeError(`policy request for ${SECRET_ACTION} names no secret`);
    const secret = { type: `${NAMESPACE}::Secret`, id: request.secret };
    // The group the default policy gives a secret to, spelled out here: Cedar cannot join strings.
    const secretEntity = { uid: secret, attrs: { name: request.secret, grantGroup: `secret.${request.secret}` }, parents: [] };
    return { principal, action, resource: secret, context, entities: [principalEntity, secretEntity] };
  }
  const resource = { type: `${NAMESPACE}::Sandbox`, id: sandbox.id };
  const sandboxEntity = { uid: resource, attrs: { owner: sandbox.owner, spec: specRecord(sandbox.spec, roots) }, parents: [] };
  return { principal, action, resource, context, entities: [principalEntity, sandboxEntity] };
}
