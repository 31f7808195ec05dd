/** The in-sandbox agent: its build, and the host-side client that talks to it. */
export { AgentClient, type AgentStreams } from './client.ts';
export { ExecHandle, STDIN_WINDOW, type ExecOptions, type ExecResult } from './exec-handle.ts';
export { AgentClosedError, AgentError, AgentFileError, AgentProtocolError, errnoName } from './errors.ts';
export type { ExitStatus, FileEntry, FileType, ReadyEvent } from './messages.ts';
export { AGENT_BINARY_NAME, AGENT_SANDBOX_PATH, agentDirOf, ensureAgent, ensureAgentBinary, type AgentBinary } from './build.ts';
