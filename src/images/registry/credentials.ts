/**
 * Registry credentials, never from argv (Why: the command line of every process is readable by
 * every local user in /proc). Looked up in order:
 *   1. AIRLOCK_REGISTRY_USERNAME and AIRLOCK_REGISTRY_PASSWORD in the environment;
 *   2. an auth file in the containers/docker format (`{"auths": {"REGISTRY": {"auth": base64(user:pass)}}}`,
 *      what `skopeo login`, `podman login` and `docker login` write): AIRLOCK_REGISTRY_AUTH_FILE,
 *      else REGISTRY_AUTH_FILE, else /etc/airlock/registry-auth.json when it exists.
 */
import { readFile } from 'node:fs/promises';
import { ControlError } from '../../host/control-error.ts';
import { DOCKER_HUB } from './reference.ts';

/** A user name and password (or token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

const DEFAULT_AUTH_FILE = '/etc/airlock/registry-auth.json';

/** The names an auth file may file a registry's entry under. */
function authKeys(registry: string): string[] {
  if (registry !== DOCKER_HUB) return [registry, `https://${registry}`, `http://${registry}`];
  return ['docker.io', 'https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io'];
}

/** Reads the credentials for `registry`; undefined when none are configured (anonymous pull). */
export async function registryCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryCredentials | undefined> {
  const username = env['AIRLOCK_REGISTRY_USERNAME'];
  const password = env['AIRLOCK_REGISTRY_PASSWORD'];
  if (username !== undefined && password !== undefined) return { username, password };
  const named = env['AIRLOCK_REGISTRY_AUTH_FILE'] ?? env['REGISTRY_AUTH_FILE'];
  const file = named ?? DEFAULT_AUTH_FILE;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // The default file is optional; a file the caller named must exist.
    if (named === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ControlError('registry', `cannot read the registry auth file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let auths: Record<string, { auth?: unknown; username?: unknown; password?: unknown }>;
  try {
    auths = (JSON.parse(text) as { auths?: typeof auths }).auths ?? {};
  } catch (err) {
    throw new ControlError('registry', `registry auth file ${file} is not JSON: ${(err as Error).message}`);
  }
  for (const key of authKeys(registry)) {
    const entry = auths[key];
    if (entry === undefined) continue;
    if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
    if (typeof entry.auth === 'string') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    throw new ControlError('registry', `registry auth file ${file}: the entry for ${key} has no usable auth`);
  }
  return undefined;
}
