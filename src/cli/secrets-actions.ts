/** What `airlock secrets …` does (loaded only when such a command runs). */
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config.ts';
import { isSecretName, SECRET_NAME_RULE, secretRegistryFor, secretStoreFor, SecretNameError, SecretValueError } from '../secrets/index.ts';
import { formatTable } from './table.ts';
import { terminalSafe } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** `secrets set NAME [--from-file F]`. */
export async function setSecret(configPath: string | undefined, name: string, fromFile: string | undefined): Promise<void> {
  if (!isSecretName(name)) throw new UsageError(`${JSON.stringify(name)} is not a secret name (${SECRET_NAME_RULE})`);
  const value = fromFile === undefined ? dropOneNewline(await readStdin()) : await readFile(fromFile).catch((err: Error) => {
    throw new UsageError(`--from-file: ${err.message}`);
  });
  try {
    await secretStoreFor(loadConfig(configPath)).set(name, value);
  } catch (err) {
    if (err instanceof SecretNameError || err instanceof SecretValueError) throw new UsageError(err.message);
    throw err;
  }
  // The name only: a value is never printed back.
  process.stderr.write(`stored secret ${name}\n`);
}

/** `secrets ls [--json]`. */
export async function listSecrets(configPath: string | undefined, json: boolean): Promise<void> {
  const listings = await secretRegistryFor(loadConfig(configPath)).list();
  if (json) {
    process.stdout.write(`${JSON.stringify({ secrets: listings }, null, 2)}\n`);
    return;
  }
  process.stdout.write(formatTable([['NAME', 'PROVIDER', 'UPDATED'], ...listings.map((l) => [l.name, l.provider, l.updated_at ?? '-'])]));
}

/** `secrets rm NAME`. */
export async function removeSecret(configPath: string | undefined, name: string): Promise<void> {
  if (!isSecretName(name)) throw new UsageError(`${JSON.stringify(name)} is not a secret name`);
  const removed = await secretStoreFor(loadConfig(configPath)).remove(name);
  if (!removed) throw new Error(`no secret ${terminalSafe(name)} in the store`);
  process.stderr.write(`removed secret ${name}\n`);
}

async function readStdin(): Promise<Buffer> {
  // Why refuse a terminal: what is typed there is echoed, to the screen and to any recording of it.
  if (process.stdin.isTTY) throw new UsageError('pipe the value in on stdin or give --from-file (a terminal would echo it)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function dropOneNewline(value: Buffer): Buffer {
  if (value.at(-1) !== 0x0a) return value;
  return value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
}
