/**
 * What the MCP proxy answers a refused request with: a JSON-RPC error whose `data` names the
 * control that refused (`airlock_code`) and why, so a client can tell a policy refusal from a
 * server's own error. The server never sees a refused request.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** Refusals of the proxy: JSON-RPC code and the sentence the message starts with. */
export const MCP_REFUSALS = {
  authentication_required: { code: -32001, text: 'the caller could not be authenticated' },
  policy_denied: { code: -32003, text: 'policy does not allow this request' },
  approval_required: { code: -32004, text: 'this call needs a signed human approval of its exact arguments' },
  approval_refused: { code: -32004, text: 'the attached approval does not admit this call' },
  definition_unpinned: { code: -32005, text: 'the tool\'s definition has not been approved (airlock mcp approve SERVER)' },
  definition_changed: { code: -32005, text: 'the tool\'s definition changed since it was approved; it is blocked until re-approved' },
  definition_flagged: { code: -32006, text: 'the scanner flagged the tool\'s definition' },
  unknown_server: { code: -32602, text: 'no such MCP server' },
  unknown_tool: { code: -32602, text: 'no such tool' },
  invalid_arguments: { code: -32602, text: 'the arguments do not match the tool\'s pinned input schema' },
  arguments_too_large: { code: -32602, text: 'the arguments exceed the proxy\'s size or depth limit' },
  server_unavailable: { code: -32010, text: 'the MCP server is not available' },
  call_timeout: { code: -32011, text: 'the MCP server did not answer in time' },
  sampling_refused: { code: -32003, text: 'server-initiated requests to the client are not allowed for this server' },
  session_mismatch: { code: -32001, text: 'this session belongs to another caller' },
  audit_unavailable: { code: -32012, text: 'the audit log cannot be written, so no call is forwarded' },
} as const satisfies Record<string, { code: number; text: string }>;

export type McpRefusalCode = keyof typeof MCP_REFUSALS;

/** A refused MCP request; it is an McpError, so the SDK answers it as a JSON-RPC error. */
export class McpRefusal extends McpError {
  readonly refusal: McpRefusalCode;
  readonly reason: string;

  constructor(refusal: McpRefusalCode, reason: string, extra: Record<string, unknown> = {}) {
    const { code, text } = MCP_REFUSALS[refusal];
    super(code, `${text}: ${reason}`, { airlock_code: refusal, reason, ...extra });
    this.refusal = refusal;
    this.reason = reason;
  }
}
