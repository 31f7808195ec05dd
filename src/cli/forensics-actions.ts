/** What the `forensics` commands do; loaded only when one of them runs. */
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { controllerKeyPath, controllerPublicKeyPath } from '../audit/controller-key.ts';
import { loadConfig } from '../config/config.ts';
import { verifyBundle } from '../forensics/bundle.ts';
import { loadPublicKeyFile } from '../signing/key-files.ts';
import { storePath } from '../store/index.ts';
import type { ApprovalFlags } from './approval-flags.ts';
import { approvalFlag, runWithApproval } from './approval-retry.ts';
import type { CommonOptions } from './sandbox-actions.ts';
import { withServerClient } from './server-connection.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** `forensics capture ID`: prints the bundle's path (or the capture as JSON). */
export function captureAction(id: string, opts: CommonOptions & ApprovalFlags): Promise<number> {
  approvalFlag(opts);
  return withServerClient(opts, (client) =>
    runWithApproval(client, opts, async (approvalId) => {
      const capture = await client.captureForensics(id, { approvalId });
      process.stdout.write(opts.json === true ? `${terminalSafeJson(capture)}\n` : `${terminalSafe(capture.path)}\n`);
      return 0;
    }),
  );
}

async function publicKey(path: string): Promise<KeyObject> {
  try {
    return await loadPublicKeyFile(path);
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`, { cause: err });
  }
}

/** `forensics verify BUNDLE`: 0 when intact, 1 naming every problem. */
export async function verifyAction(configPath: string | undefined, bundle: string, opts: { key?: string | undefined; json: boolean }): Promise<number> {
  let keyPath = opts.key;
  if (keyPath === undefined) {
    const config = loadConfig(configPath);
    keyPath = controllerPublicKeyPath(controllerKeyPath(config, storePath(config)));
  }
  const key = await publicKey(keyPath);
  let bytes: Buffer;
  try {
    bytes = await readFile(bundle);
  } catch (err) {
    throw new UsageError(`cannot read bundle ${bundle}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const check = verifyBundle(bytes, key);
  if (opts.json) {
    process.stdout.write(`${terminalSafeJson(check.ok ? { ok: true, sandbox_id: check.manifest.sandbox_id, created_at: check.manifest.created_at, entries: Object.keys(check.manifest.entries).length } : check)}\n`);
  } else if (check.ok) {
    process.stdout.write(`${terminalSafe(`ok: bundle of sandbox ${check.manifest.sandbox_id}, captured ${check.manifest.created_at}, ${Object.keys(check.manifest.entries).length} entries intact, signed by the controller key`)}\n`);
  } else {
    process.stderr.write(`${terminalSafe(`bundle ${bundle} does not verify:`)}\n${check.problems.map((p) => `  ${terminalSafe(p)}\n`).join('')}`);
  }
  return check.ok ? 0 : 1;
}
