/**
 * The tools `airlock mcp-server` offers: `run_code`, `exec`, `read_file`, `write_file`, each backed
 * by the session's airlock sandbox through the SDK. Descriptions say what the tool really does (a
 * model picks tools by them): where it runs, what persists, what is refused.
 */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { base64ToBytes, bytesToBase64, utf8Text } from '../../sdk/bytes.ts';
import type { ExecCollectedResponse, ExecRequest } from '../../sdk/types.ts';
import type { SandboxSession } from './session.ts';

const Timeout = z.number().positive().max(3600).optional().describe("Wall-clock limit in seconds; the command is killed when it passes. Default: the sandbox's per-command limit.");

const CommandOutput = {
  sandbox_id: z.string().describe('The sandbox it ran in (the same for every call of this session).'),
  exit_code: z.number().int().nullable().describe('Exit status; null when a signal or a limit ended it.'),
  termination_reason: z.enum(['completed', 'timeout', 'killed', 'sandbox_ended', 'output_limit']),
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
};

/** Text of one output stream as the collected answer carries it (base64 when not valid UTF-8). */
function streamText(data: string, encoding: 'utf8' | 'base64'): string {
  return encoding === 'base64' ? utf8Text(base64ToBytes(data)) : data;
}

/** A collected exec as a tool result: readable text, the same as structured content, isError unless it exited 0. */
function commandResult(sandboxId: string, r: ExecCollectedResponse): CallToolResult {
  const stdout = streamText(r.stdout, r.stdout_encoding);
  const stderr = streamText(r.stderr, r.stderr_encoding);
  const ok = r.termination_reason === 'completed' && r.exit_code === 0;
  const status = r.termination_reason === 'completed' ? `exit code ${String(r.exit_code ?? r.signal)}` : `ended: ${r.termination_reason}${r.signal === null ? '' : ` (${r.signal})`}`;
  const parts = [status];
  if (stdout !== '') parts.push(`--- stdout${r.stdout_truncated ? ' (truncated)' : ''} ---\n${stdout}`);
  if (stderr !== '') parts.push(`--- stderr${r.stderr_truncated ? ' (truncated)' : ''} ---\n${stderr}`);
  return {
    content: [{ type: 'text', text: parts.join('\n') }],
    structuredContent: {
      sandbox_id: sandboxId,
      exit_code: r.exit_code,
      termination_reason: r.termination_reason,
      stdout,
      stderr,
      stdout_truncated: r.stdout_truncated,
      stderr_truncated: r.stderr_truncated,
    },
    isError: !ok,
  };
}

/** Runs `request` in the session's sandbox and collects its output. */
async function runCollected(session: SandboxSession, request: ExecRequest): Promise<CallToolResult> {
  return session.use(async (sandbox) => commandResult(sandbox.sandboxId, await sandbox.client.execCollected(sandbox.sandboxId, request)));
}

/** Registers the four tools on `server`, all working in `session`'s sandbox. */
export function registerSandboxTools(server: McpServer, session: SandboxSession): void {
  server.registerTool(
    'run_code',
    {
      title: 'Run code in an airlock sandbox',
      description:
        'Runs a Python, JavaScript (Node) or bash snippet once, as a new process in an isolated airlock sandbox, and returns its exit code, stdout and stderr. ' +
        'Nothing is kept in memory between calls (no REPL state); files written under /tmp stay for the rest of the session and are shared with exec, read_file and write_file. ' +
        "Network access is what the server's policy gives the sandbox (none by default).",
      inputSchema: {
        language: z.enum(['python', 'javascript', 'bash']).describe('Language of the snippet.'),
        code: z.string().min(1).max(512 * 1024).describe('The program text.'),
        timeout_seconds: Timeout,
      },
      outputSchema: CommandOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async ({ language, code, timeout_seconds }) => runCollected(session, { code, language, ...(timeout_seconds === undefined ? {} : { timeout_seconds }) }),
  );

  server.registerTool(
    'exec',
    {
      title: 'Run a shell command in an airlock sandbox',
      description:
        'Runs a command line with sh -c in the session\'s isolated airlock sandbox (working directory /tmp unless cwd is given) and returns its exit code, stdout and stderr. ' +
        'The sandbox is the same for every call of this session: files persist, processes do not outlive their command.',
      inputSchema: {
        command: z.string().min(1).max(65_536).describe('A command line for sh -c.'),
        cwd: z.string().startsWith('/').optional().describe('Absolute working directory inside the sandbox.'),
        env: z.record(z.string(), z.string()).optional().describe('Environment variables for this command.'),
        timeout_seconds: Timeout,
      },
      outputSchema: CommandOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async ({ command, cwd, env, timeout_seconds }) =>
      runCollected(session, {
        command: ['sh', '-c', command],
        ...(cwd === undefined ? {} : { cwd }),
        ...(env === undefined ? {} : { environment: env }),
        ...(timeout_seconds === undefined ? {} : { timeout_seconds }),
      }),
  );

  server.registerTool(
    'read_file',
    {
      title: 'Read a file from the airlock sandbox',
      description: "Reads a file inside the session's airlock sandbox (an absolute path) and returns its content: as UTF-8 text (invalid bytes become U+FFFD) or, with encoding base64, exactly. Files larger than the server's cap are refused.",
      inputSchema: {
        path: z.string().startsWith('/').describe('Absolute path inside the sandbox.'),
        encoding: z.enum(['utf8', 'base64']).optional().describe('utf8 (default) or base64.'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path, encoding }) => {
      const bytes = await session.use((sandbox) => sandbox.files.read(path, { format: 'bytes' }));
      return { content: [{ type: 'text', text: encoding === 'base64' ? bytesToBase64(bytes) : utf8Text(bytes) }] };
    },
  );

  server.registerTool(
    'write_file',
    {
      title: 'Write a file into the airlock sandbox',
      description: "Creates or replaces a file inside the session's airlock sandbox (an absolute path under a writable folder such as /tmp) with the given content, UTF-8 text or base64. Returns the path and size written.",
      inputSchema: {
        path: z.string().startsWith('/').describe('Absolute path inside the sandbox.'),
        content: z.string().describe('The content: text, or base64 with encoding base64.'),
        encoding: z.enum(['utf8', 'base64']).optional().describe('utf8 (default) or base64.'),
        mode: z.string().regex(/^0?[0-7]{3}$/).optional().describe('Permission bits, octal (for example 0755 for a script).'),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, content, encoding, mode }) => {
      const data = encoding === 'base64' ? base64ToBytes(content) : content;
      const written = await session.use((sandbox) => sandbox.files.write(path, data, mode === undefined ? {} : { mode }));
      return { content: [{ type: 'text', text: `wrote ${written.size} bytes to ${written.path}` }] };
    },
  );
}
