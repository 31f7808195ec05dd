/**
 * Reading a policy bundle directory and hashing it. A bundle is one Cedar schema
 * (`*.cedarschema`, or `*.cedarschema.json` in Cedar's JSON form) and the `*.cedar` policy files
 * beside it; other files (README.md) and subdirectories are not part of it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The default policies shipped with airlock (`policies/` at the repository root). */
export const SHIPPED_POLICY_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

/** The bundle directory a configuration names: `policy.dir`, or the shipped `policies/` when it is null. */
export function policyDirOf(policy: { dir: string | null }): string {
  return policy.dir ?? SHIPPED_POLICY_DIR;
}

/** One file of a bundle: its name within the directory and its text. */
export interface BundleFile {
  name: string;
  text: string;
}

/** Whether a file name is a schema of the bundle. */
export function isSchemaFile(name: string): boolean {
  return name.endsWith('.cedarschema') || name.endsWith('.cedarschema.json');
}

/** Whether a file name is a policy file of the bundle. */
export function isPolicyFile(name: string): boolean {
  return name.endsWith('.cedar');
}

/** Reads the schema and policy files of `dir`, sorted by name (byte order, locale-independent). */
export async function readBundleFiles(dir: string): Promise<BundleFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isFile() && (isSchemaFile(e.name) || isPolicyFile(e.name)))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
}

/**
 * `sha256:<hex>` over the canonical list of the bundle's file names and contents (sorted by name,
 * serialized as a JSON array of [name, text] pairs): the same files give the same hash on any host,
 * and renaming, adding or changing a file changes it.
 */
export function bundleHash(files: readonly BundleFile[]): string {
  const canonical = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => [f.name, f.text]);
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`;
}

/**
 * The bundle hash of `dir` without compiling it (the same value as `PolicyEngine.load(dir).hash`):
 * for front ends that report the policy in force but do not evaluate it. A missing or unreadable
 * directory throws.
 */
export async function readBundleHash(dir: string): Promise<string> {
  return bundleHash(await readBundleFiles(dir));
}
