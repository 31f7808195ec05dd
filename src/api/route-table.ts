/**
 * The route table: method, path, and the zod schemas of each route. Route handlers validate with
 * the schemas named here and openapi.ts documents exactly these, so the document can't drift from
 * what the server enforces.
 */
import type { z } from 'zod';
import { CancelledExecution, ErrorEnvelope, ExecuteRequest, ExecuteResponse, ExecutionIdParams, HealthResponse, StatusResponse } from './schemas.ts';
import {
  CreateSandboxRequest,
  ExecCollectedResponse,
  ExecFrame,
  ExecuteFrame,
  ExecQuery,
  ExecRequest,
  FileListResponse,
  FilePathQuery,
  FileWriteQuery,
  FileWriteResponse,
  SandboxIdParams,
  SandboxInfo,
  SandboxList,
  SetTimeoutRequest,
  SandboxNetworkInfo,
  SetAllowlistRequest,
  EgressDecision,
  SandboxInfoWithReceipt,
} from './schemas-sandboxes.ts';
import { ExecIdParams, ExecList, KilledExec } from './schemas-execs.ts';
import { ForensicCapture } from './schemas-forensics.ts';
import { ApprovalDecisionRequest, ApprovalIdParams, ApprovalInfo, ApprovalList } from './schemas-approvals.ts';
import { AgentIdParams, ImportResponse, RevocationList, RevokeRequest, RevokeResponse, SignedRevocationList } from './schemas-revocations.ts';
import { ContractInfo, ContractList, ContractRemoved, ContractSuggestion } from './schemas-contracts.ts';
import { ContractSchema } from '../contracts/schema.ts';
import { AuditEventFrame, AuditPage, AuditQuery, AuditReceipt, AuditRecordSchema, ConsistencyProof, ConsistencyQuery, ControllerKey, EventsQuery, InclusionProof, InclusionQuery, RecordIndexParams, TreeHead } from './schemas-audit.ts';

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  /** JSON schema source; for non-JSON bodies, give `contentTypes`. */
  schema?: z.ZodType;
  /** For streamed bodies (NDJSON, SSE): the schema of one frame. */
  frameSchema?: z.ZodType;
  contentTypes?: string[];
  /** Response headers besides x-request-id. */
  headers?: Array<{ name: string; description: string }>;
}

/** One route of the API. */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify form: `/api/v1/sandboxes/:id`. */
  url: string;
  operationId: string;
  summary: string;
  tag: 'sandbox' | 'sandboxes' | 'files' | 'approvals' | 'audit' | 'revocations' | 'contracts' | 'service';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { schema?: z.ZodType; contentType: 'application/json' | 'application/octet-stream'; description?: string };
  /** Documented request headers besides the standard ones. */
  headers?: Array<{ name: string; description: string; pattern?: string }>;
  responses: Record<number, ResponseSpec>;
  /** Statuses answered with the error envelope. */
  errors: number[];
}

const POLICY_HEADER = { name: 'X-Airlock-Policy-Hash', description: 'Refuse with 409 unless the active policy hash equals this.', pattern: '^sha256:[0-9a-f]{64}$' };
const EXECUTION_ID_RESPONSE_HEADER = {
  name: 'X-Airlock-Execution-Id',
  description: 'The execution id, the same as execution_id in the result; while the run goes on it is listed by GET /api/v1/sandbox/status and cancellable with DELETE /api/v1/sandbox/executions/{id}.',
};
const JSON_BODY = 'application/json' as const;
const body = <S extends z.ZodType>(schema: S) => ({ schema, contentType: JSON_BODY });

/** Every route the server registers. */
export const ROUTES = {
  execute: {
    method: 'POST', url: '/api/v1/sandbox/execute', operationId: 'execute', tag: 'sandbox',
    summary: 'Run code or a command once in a fresh sandbox (seed-compatible).',
    body: body(ExecuteRequest), headers: [POLICY_HEADER],
    responses: {
      200: {
        description: 'The execution result (also when the command failed, hit a limit or was cancelled: termination_reason killed). With Accept: application/x-ndjson or text/event-stream: stdout and stderr frames as they happen, then one result frame (the same result). Closing the connection before it ends cancels the run.',
        schema: ExecuteResponse,
        frameSchema: ExecuteFrame,
        contentTypes: ['application/json', 'application/x-ndjson', 'text/event-stream'],
        headers: [EXECUTION_ID_RESPONSE_HEADER],
      },
    },
    errors: [400, 403, 409, 413, 415, 429, 503],
  },
  cancelExecution: {
    method: 'DELETE', url: '/api/v1/sandbox/executions/:id', operationId: 'cancelExecution', tag: 'sandbox',
    summary: 'Cancel a running one-shot execution: it ends killed (its caller still gets the result) and its sandbox is torn down before this answers.',
    params: ExecutionIdParams,
    responses: { 200: { description: 'The execution, ended. 404 execution_not_found: no such running execution; 409 execution_not_running: it has already ended.', schema: CancelledExecution } },
    errors: [400, 404, 409],
  },
  status: {
    method: 'GET', url: '/api/v1/sandbox/status', operationId: 'status', tag: 'sandbox',
    summary: 'Sandboxes running now (seed-compatible).',
    responses: { 200: { description: 'Active sandboxes.', schema: StatusResponse } }, errors: [],
  },
  health: {
    method: 'GET', url: '/health', operationId: 'health', tag: 'service',
    summary: 'Service health, policy hash, and the runtimes that really work here.',
    responses: { 200: { description: 'Health report.', schema: HealthResponse } }, errors: [],
  },
  metrics: {
    method: 'GET', url: '/metrics', operationId: 'metrics', tag: 'service', summary: 'Prometheus metrics.',
    responses: { 200: { description: 'Prometheus text exposition.', contentTypes: ['text/plain'] } }, errors: [],
  },
  openapi: {
    method: 'GET', url: '/openapi.json', operationId: 'openapi', tag: 'service', summary: 'This OpenAPI document.',
    responses: { 200: { description: 'OpenAPI 3.1 document.', contentTypes: ['application/json'] } }, errors: [],
  },
  createSandbox: {
    method: 'POST', url: '/api/v1/sandboxes', operationId: 'createSandbox', tag: 'sandboxes',
    summary: 'Create a persistent sandbox.', body: body(CreateSandboxRequest), headers: [POLICY_HEADER],
    responses: { 201: { description: 'The new sandbox.', schema: SandboxInfo } }, errors: [400, 403, 409, 413, 415, 429, 503],
  },
  listSandboxes: {
    method: 'GET', url: '/api/v1/sandboxes', operationId: 'listSandboxes', tag: 'sandboxes', summary: 'List sandboxes.',
    responses: { 200: { description: 'All known sandboxes.', schema: SandboxList } }, errors: [],
  },
  getSandbox: {
    method: 'GET', url: '/api/v1/sandboxes/:id', operationId: 'getSandbox', tag: 'sandboxes', summary: 'Get one sandbox.',
    params: SandboxIdParams, responses: { 200: { description: 'The sandbox (once ended, with its receipt).', schema: SandboxInfoWithReceipt } }, errors: [400, 404],
  },
  deleteSandbox: {
    method: 'DELETE', url: '/api/v1/sandboxes/:id', operationId: 'deleteSandbox', tag: 'sandboxes',
    summary: 'End a sandbox: every process killed, everything released.',
    params: SandboxIdParams, responses: { 200: { description: 'The sandbox, now ended, with its receipt.', schema: SandboxInfoWithReceipt } }, errors: [400, 404],
  },
  captureForensics: {
    method: 'POST', url: '/api/v1/sandboxes/:id/forensics', operationId: 'captureForensics', tag: 'sandboxes',
    summary: 'Freeze a running sandbox and write a signed forensic bundle of it (the admin action); it is then killed or resumed as configured (forensics.after).',
    params: SandboxIdParams, responses: { 200: { description: 'Where the bundle is.', schema: ForensicCapture } }, errors: [400, 403, 404, 409, 503],
  },
  setTimeout: {
    method: 'POST', url: '/api/v1/sandboxes/:id/timeout', operationId: 'setSandboxTimeout', tag: 'sandboxes',
    summary: 'Set the idle lifetime (TTL), counted from now.', params: SandboxIdParams, body: body(SetTimeoutRequest),
    responses: { 200: { description: 'The sandbox with its new expiry.', schema: SandboxInfo } }, errors: [400, 404, 409, 413, 415],
  },
  getNetwork: {
    method: 'GET', url: '/api/v1/sandboxes/:id/network', operationId: 'getSandboxNetwork', tag: 'sandboxes',
    summary: 'Network policy, allowlist, traffic and recent egress decisions of a sandbox.',
    params: SandboxIdParams, responses: { 200: { description: 'The network of the sandbox.', schema: SandboxNetworkInfo } }, errors: [400, 404],
  },
  setAllowlist: {
    method: 'PUT', url: '/api/v1/sandboxes/:id/network', operationId: 'setSandboxAllowlist', tag: 'sandboxes',
    summary: 'Replace the allowlist of a running restricted sandbox (recorded).', params: SandboxIdParams, body: body(SetAllowlistRequest),
    responses: { 200: { description: 'The network with its new allowlist.', schema: SandboxNetworkInfo } }, errors: [400, 404, 409, 413, 415],
  },
  exec: {
    method: 'POST', url: '/api/v1/sandboxes/:id/exec', operationId: 'execInSandbox', tag: 'sandboxes',
    summary: 'Run a command; output streams as NDJSON (default) or SSE (Accept: text/event-stream), or JSON with ?stream=false.',
    params: SandboxIdParams, query: ExecQuery, body: body(ExecRequest),
    responses: {
      200: {
        description: 'NDJSON/SSE: stdout and stderr frames as they happen, then one exit frame. JSON (?stream=false or Accept: application/json): the collected output. Closing the connection kills the command.',
        schema: ExecCollectedResponse,
        frameSchema: ExecFrame,
        contentTypes: ['application/x-ndjson', 'text/event-stream', 'application/json'],
      },
    },
    errors: [400, 404, 409, 413, 415, 429, 503],
  },
  listExecs: {
    method: 'GET', url: '/api/v1/sandboxes/:id/execs', operationId: 'listExecs', tag: 'sandboxes',
    summary: 'The commands running in the sandbox now (started by any exec, streamed or not).',
    params: SandboxIdParams,
    responses: { 200: { description: 'Running commands, oldest first.', schema: ExecList } }, errors: [400, 404, 409],
  },
  killExec: {
    method: 'DELETE', url: '/api/v1/sandboxes/:id/execs/:exec_id', operationId: 'killExec', tag: 'sandboxes',
    summary: 'Kill one running command; it ends with termination_reason killed (its exec stream gets the exit frame).',
    params: ExecIdParams,
    responses: { 200: { description: 'Killed.', schema: KilledExec } }, errors: [400, 404, 409],
  },
  readFile: {
    method: 'GET', url: '/api/v1/sandboxes/:id/files', operationId: 'readFile', tag: 'files', summary: 'Read a file (raw bytes).',
    params: SandboxIdParams, query: FilePathQuery,
    responses: { 200: { description: 'File content.', contentTypes: ['application/octet-stream'] } }, errors: [400, 404, 409, 413],
  },
  writeFile: {
    method: 'PUT', url: '/api/v1/sandboxes/:id/files', operationId: 'writeFile', tag: 'files',
    summary: 'Write a file from the raw request body (Content-Type: application/octet-stream).',
    params: SandboxIdParams, query: FileWriteQuery, body: { contentType: 'application/octet-stream', description: 'File content.' },
    responses: { 200: { description: 'Written.', schema: FileWriteResponse } }, errors: [400, 404, 409, 413, 415],
  },
  listFiles: {
    method: 'GET', url: '/api/v1/sandboxes/:id/files/list', operationId: 'listFiles', tag: 'files', summary: 'List a directory.',
    params: SandboxIdParams, query: FilePathQuery,
    responses: { 200: { description: 'Directory entries.', schema: FileListResponse } }, errors: [400, 404, 409],
  },
  listApprovals: {
    method: 'GET', url: '/api/v1/approvals', operationId: 'listApprovals', tag: 'approvals',
    summary: 'Approvals, newest first: approvers and operators see all, an agent its own tenant\'s.',
    responses: { 200: { description: 'The approvals the caller may see.', schema: ApprovalList } }, errors: [],
  },
  getApproval: {
    method: 'GET', url: '/api/v1/approvals/:id', operationId: 'getApproval', tag: 'approvals',
    summary: 'One approval, with the request it is for (404 approval_not_found for one the caller may not see).',
    params: ApprovalIdParams, responses: { 200: { description: 'The approval.', schema: ApprovalInfo } }, errors: [400, 404],
  },
  decideApproval: {
    method: 'POST', url: '/api/v1/approvals/:id/decision', operationId: 'decideApproval', tag: 'approvals',
    summary: "Approve or deny with an approver's Ed25519 signature over the RFC 8785 canonical JSON of {approval_id, action_digest, decision, nonce, expires_at}.",
    params: ApprovalIdParams, body: body(ApprovalDecisionRequest),
    responses: { 200: { description: 'The approval, decided.', schema: ApprovalInfo } }, errors: [400, 403, 404, 409, 413, 415],
  },
  auditQuery: {
    method: 'GET', url: '/api/v1/audit', operationId: 'queryAudit', tag: 'audit',
    summary: "Audit records, oldest first, by agent, sandbox, kind and index: operators see all, an agent only its own.",
    query: AuditQuery, responses: { 200: { description: 'One page of records.', schema: AuditPage } }, errors: [400, 403, 503],
  },
  auditHead: {
    method: 'GET', url: '/api/v1/audit/head', operationId: 'getAuditHead', tag: 'audit',
    summary: 'The latest signed tree head (one is signed now if none was yet).',
    responses: { 200: { description: 'The signed head.', schema: TreeHead } }, errors: [503],
  },
  auditSignHead: {
    method: 'POST', url: '/api/v1/audit/heads', operationId: 'signAuditHead', tag: 'audit',
    summary: 'Sign a tree head of the log as it is now (on demand; the admin action).',
    responses: { 200: { description: 'The signed head (the latest, if the log has not grown since).', schema: TreeHead } }, errors: [403, 503],
  },
  auditInclusion: {
    method: 'GET', url: '/api/v1/audit/proof/inclusion', operationId: 'getAuditInclusionProof', tag: 'audit',
    summary: 'RFC 6962 inclusion proof of one record in the tree of tree_size records (default: a head signed now).',
    query: InclusionQuery, responses: { 200: { description: 'The proof.', schema: InclusionProof } }, errors: [400, 503],
  },
  auditConsistency: {
    method: 'GET', url: '/api/v1/audit/proof/consistency', operationId: 'getAuditConsistencyProof', tag: 'audit',
    summary: 'RFC 6962 consistency proof that the tree of `first` records is a prefix of the tree of `second`.',
    query: ConsistencyQuery, responses: { 200: { description: 'The proof.', schema: ConsistencyProof } }, errors: [400, 503],
  },
  auditReceipt: {
    method: 'GET', url: '/api/v1/audit/records/:index/receipt', operationId: 'getAuditReceipt', tag: 'audit',
    summary: 'A receipt for one record: the record, its inclusion proof and a signed head that includes it.',
    params: RecordIndexParams, responses: { 200: { description: 'The receipt.', schema: AuditReceipt } }, errors: [400, 404, 503],
  },
  auditKey: {
    method: 'GET', url: '/api/v1/audit/key', operationId: 'getControllerKey', tag: 'audit',
    summary: "The controller's Ed25519 public key that signs tree heads (for receipt and log verification).",
    responses: { 200: { description: 'The key.', schema: ControllerKey } }, errors: [503],
  },
  events: {
    method: 'GET', url: '/api/v1/events', operationId: 'streamEvents', tag: 'audit',
    summary: 'Audit records as they are appended: NDJSON (default) or SSE (Accept: text/event-stream; id = index), resumable with after= or Last-Event-ID. Tenancy as for GET /api/v1/audit.',
    query: EventsQuery,
    responses: { 200: { description: 'The backlog after the given index, then every new record.', frameSchema: AuditEventFrame, contentTypes: ['application/x-ndjson', 'text/event-stream'] } },
    errors: [400, 503],
  },
  revoke: {
    method: 'POST', url: '/api/v1/revocations', operationId: 'revokeAgent', tag: 'revocations',
    summary: 'Revoke an agent (operators): its new requests are refused and every live sandbox and one-shot it owns ends (end_reason / termination_reason revoked) before the answer.',
    body: { schema: RevokeRequest, contentType: 'application/json' },
    responses: { 201: { description: 'Revoked.', schema: RevokeResponse }, 200: { description: 'Already revoked: its sandboxes were ended again.', schema: RevokeResponse } },
    errors: [400, 401, 403, 503],
  },
  unrevoke: {
    method: 'DELETE', url: '/api/v1/revocations/:agent_id', operationId: 'unrevokeAgent', tag: 'revocations',
    summary: 'Lift the revocation of an agent (operators).',
    params: AgentIdParams,
    responses: { 200: { description: 'Lifted.' } },
    errors: [400, 401, 403, 404, 503],
  },
  revocationList: {
    method: 'GET', url: '/api/v1/revocations', operationId: 'listRevocations', tag: 'revocations',
    summary: 'Every revoked agent (operators).',
    responses: { 200: { description: 'The list.', schema: RevocationList } },
    errors: [401, 403, 503],
  },
  // Why a path of its own: under /api/v1/revocations/ a word like `export` would also be an agent id.
  revocationExport: {
    method: 'GET', url: '/api/v1/revocation-list', operationId: 'exportRevocations', tag: 'revocations',
    summary: "This controller's own revocations as a list signed with the controller key, numbered, with its issue time (operators).",
    responses: { 200: { description: 'The signed list.', schema: SignedRevocationList } },
    errors: [401, 403, 503],
  },
  revocationImport: {
    method: 'POST', url: '/api/v1/revocation-list', operationId: 'importRevocations', tag: 'revocations',
    summary: "Apply another controller's signed list (operators): its signature must verify against revocation.trustedKeys, and it must be newer than the last one applied from that issuer and within revocation.maxListAgeSeconds. Agents it newly revokes have their sandboxes ended.",
    body: { schema: SignedRevocationList, contentType: 'application/json' },
    responses: { 200: { description: 'Applied.', schema: ImportResponse } },
    errors: [400, 401, 403, 409, 503],
  },
  contractList: {
    method: 'GET', url: '/api/v1/contracts', operationId: 'listContracts', tag: 'contracts',
    summary: 'Every behavior contract, by agent (operators).',
    responses: { 200: { description: 'The contracts.', schema: ContractList } },
    errors: [401, 403, 503],
  },
  contractShow: {
    method: 'GET', url: '/api/v1/contracts/:agent_id', operationId: 'getContract', tag: 'contracts',
    summary: 'The behavior contract of an agent (operators).',
    params: AgentIdParams,
    responses: { 200: { description: 'Its contract.', schema: ContractInfo } },
    errors: [400, 401, 403, 404, 503],
  },
  contractSet: {
    method: 'PUT', url: '/api/v1/contracts/:agent_id', operationId: 'setContract', tag: 'contracts',
    summary: "Set (or replace) an agent's behavior contract (operators): validated against policies/contract.schema.json, each problem named; recorded in the audit log. It narrows what policy allows from the agent's next request on.",
    params: AgentIdParams,
    body: { schema: ContractSchema, contentType: 'application/json' },
    responses: { 200: { description: 'Set.', schema: ContractInfo } },
    errors: [400, 401, 403, 415, 503],
  },
  contractRemove: {
    method: 'DELETE', url: '/api/v1/contracts/:agent_id', operationId: 'removeContract', tag: 'contracts',
    summary: "Remove an agent's behavior contract (operators); recorded in the audit log.",
    params: AgentIdParams,
    responses: { 200: { description: 'Removed.', schema: ContractRemoved } },
    errors: [400, 401, 403, 404, 503],
  },
  contractSuggest: {
    method: 'GET', url: '/api/v1/contracts/:agent_id/suggestion', operationId: 'suggestContract', tag: 'contracts',
    summary: "A contract drawn from what the agent did in its recorded sandboxes (runtimes, network modes, secrets, the highest limits, the hosts reached), for an operator to review and set (operators).",
    params: AgentIdParams,
    responses: { 200: { description: 'The proposal and its evidence.', schema: ContractSuggestion } },
    errors: [400, 401, 403, 404, 503],
  },
} satisfies Record<string, RouteSpec>;

/** Schemas published under components.schemas (referenced by name wherever they are used). */
export const COMPONENTS: Record<string, z.ZodType> = {
  ErrorEnvelope,
  ExecuteRequest,
  ExecuteResponse,
  HealthResponse,
  StatusResponse,
  CancelledExecution,
  CreateSandboxRequest,
  SandboxInfo,
  SandboxInfoWithReceipt,
  SandboxList,
  SetTimeoutRequest,
  SandboxNetworkInfo,
  SetAllowlistRequest,
  EgressDecision,
  ExecRequest,
  ExecFrame,
  ExecuteFrame,
  ExecCollectedResponse,
  FileWriteResponse,
  FileListResponse,
  ApprovalInfo,
  ApprovalList,
  ApprovalDecisionRequest,
  RevokeRequest,
  RevocationList,
  SignedRevocationList,
  AuditRecord: AuditRecordSchema,
  AuditPage,
  TreeHead,
  InclusionProof,
  ConsistencyProof,
  AuditReceipt,
  ControllerKey,
  Contract: ContractSchema,
};
