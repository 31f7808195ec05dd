/**
 * The SDK's wire types against the server's zod schemas. The SDK is published without the server,
 * so its types are written out in `types.ts`, `approvals.ts` and `revocations.ts`; this file keeps
 * them in step: the typecheck fails when a field is added, renamed or removed on either side, when
 * an answer of the server no longer fits the SDK's type, or when a request the SDK builds is no
 * longer one the server takes. It also checks that no SDK module imports the server's code.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import type * as Server from '../src/api/schemas.ts';
import type * as ServerApprovals from '../src/api/schemas-approvals.ts';
import type * as ServerRevocations from '../src/api/schemas-revocations.ts';
import type * as ServerExecs from '../src/api/schemas-execs.ts';
import type * as ServerSandboxes from '../src/api/schemas-sandboxes.ts';
import type { ApprovalInfo, ApprovalList, SignedApprovalDecision } from './approvals.ts';
import type { ImportResult, RevocationList, RevokeResult, SignedRevocations } from './revocations.ts';
import type * as Sdk from './types.ts';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** An answer: the same fields, and whatever the server sends fits the SDK's type. */
type Answer<S extends z.ZodType, T> = Equals<keyof z.infer<S>, keyof T> extends true ? (z.infer<S> extends T ? true : false) : false;
/** A request: the same fields, and whatever the SDK's type allows the server takes. */
type Request<S extends z.ZodType, T> = Equals<keyof z.input<S>, keyof T> extends true ? (T extends z.input<S> ? true : false) : false;

type Checks = {
  errorEnvelope: Answer<typeof Server.ErrorEnvelope, Sdk.ErrorEnvelope>;
  executeRequest: Request<typeof Server.ExecuteRequest, Sdk.ExecuteRequest>;
  executeResponse: Answer<typeof Server.ExecuteResponse, Sdk.ExecuteResponse>;
  cancelled: Answer<typeof Server.CancelledExecution, Sdk.CancelledExecution>;
  violation: Answer<typeof Server.SecurityViolation, Sdk.SecurityViolation>;
  health: Answer<typeof Server.HealthResponse, Sdk.HealthResponse>;
  status: Answer<typeof Server.StatusResponse, Sdk.StatusResponse>;
  createSandbox: Request<typeof ServerSandboxes.CreateSandboxRequest, Sdk.CreateSandboxRequest>;
  sandboxInfo: Answer<typeof ServerSandboxes.SandboxInfoWithReceipt, Sdk.SandboxInfo>;
  listedSandboxInfo: z.infer<typeof ServerSandboxes.SandboxInfo> extends Sdk.SandboxInfo ? true : false;
  network: Answer<typeof ServerSandboxes.SandboxNetworkInfo, Sdk.SandboxNetworkInfo>;
  decision: Answer<typeof ServerSandboxes.EgressDecision, Sdk.EgressDecision>;
  setAllowlist: Request<typeof ServerSandboxes.SetAllowlistRequest, Sdk.SetAllowlistRequest>;
  sandboxList: Answer<typeof ServerSandboxes.SandboxList, Sdk.SandboxList>;
  execRequest: Request<typeof ServerSandboxes.ExecRequest, Sdk.ExecRequest>;
  execEndReason: Equals<z.infer<typeof ServerSandboxes.ExecEndReason>, Sdk.ExecEndReason>;
  frame: Equals<z.infer<typeof ServerSandboxes.ExecFrame>['type'], Sdk.ExecFrame['type']> extends true ? (z.infer<typeof ServerSandboxes.ExecFrame> extends Sdk.ExecFrame ? true : false) : false;
  exitFrame: Answer<typeof ServerSandboxes.ExecExitFrame, Sdk.ExecExitFrame>;
  collected: Answer<typeof ServerSandboxes.ExecCollectedResponse, Sdk.ExecCollectedResponse>;
  runningExec: Answer<typeof ServerExecs.RunningExec, Sdk.RunningExec>;
  execList: Answer<typeof ServerExecs.ExecList, Sdk.ExecList>;
  fileEntry: Answer<typeof ServerSandboxes.FileEntry, Sdk.FileEntry>;
  fileList: Answer<typeof ServerSandboxes.FileListResponse, Sdk.FileListResponse>;
  fileWrite: Answer<typeof ServerSandboxes.FileWriteResponse, Sdk.FileWriteResponse>;
  runtimes: Equals<z.infer<typeof Server.RuntimeName>, Sdk.RuntimeName>;
  requestRuntimes: Equals<z.infer<typeof Server.RuntimeField>, Sdk.RequestRuntime>;
  terminationReasons: Equals<z.infer<typeof Server.TerminationReason>, Sdk.TerminationReason>;
  approval: Answer<typeof ServerApprovals.ApprovalInfo, ApprovalInfo>;
  approvalList: Answer<typeof ServerApprovals.ApprovalList, ApprovalList>;
  approvalDecision: Request<typeof ServerApprovals.ApprovalDecisionRequest, SignedApprovalDecision>;
  revoke: Answer<typeof ServerRevocations.RevokeResponse, RevokeResult>;
  revocations: Answer<typeof ServerRevocations.RevocationList, RevocationList>;
  signedList: Request<typeof ServerRevocations.SignedRevocationList, SignedRevocations>;
  imported: Answer<typeof ServerRevocations.ImportResponse, ImportResult>;
};
/** Names each check that fails, so a type error says which type drifted. */
type Failing = { [K in keyof Checks]: Checks[K] extends true ? never : K }[keyof Checks];
// A drifted type reads as: Type 'true' is not assignable to type '"sandboxInfo"'.
const allMatch: [Failing] extends [never] ? true : Failing = true;

/** The SDK's own modules: what `npm pack` publishes (tests and test helpers excluded). */
function sdkModules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['testing', 'dist', 'node_modules', 'python'].includes(entry.name) ? [] : sdkModules(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('SDK wire types', () => {
  it('match the server schemas (checked by the typecheck)', () => {
    assert.equal(allMatch, true);
  });

  it('no SDK module imports the server, zod or any package', () => {
    const root = import.meta.dirname;
    const modules = sdkModules(root);
    assert.ok(modules.length > 10, `found the SDK's modules: ${modules.length}`);
    const offenders: string[] = [];
    for (const file of modules) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
        const specifier = match[1] ?? match[2] ?? '';
        // Node built-ins are allowed (node.ts and its helpers); relative imports must stay inside sdk/.
        if (specifier.startsWith('node:')) continue;
        if (specifier.startsWith('./')) continue;
        offenders.push(`${file.slice(root.length + 1)}: ${specifier}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
