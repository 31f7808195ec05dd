/**
 * A fixture MCP server as the proxy's configuration names it: run in a namespace sandbox by the
 * host's Node (it strips the fixtures' types), with the repository (the fixtures and the SDK) and
 * Node's directory bound read-only at the same paths.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McpLocalServer } from '../../../src/config/mcp-config.ts';
import { fixture } from '../fixtures/catalog.ts';

/** The repository root, bound into each server's sandbox. */
export const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
/** Where the host's Node directory is bound in each server's sandbox. */
export const NODE_DIR = '/opt/airlock-node';
/** The Node binary inside the sandbox. */
export const SANDBOX_NODE = `${NODE_DIR}/${process.execPath.split('/').at(-1) ?? 'node'}`;

/** The server `name` of the fixture catalog, with `extra` on top. */
export function sandboxedFixture(name: string, extra: Partial<McpLocalServer> = {}): McpLocalServer {
  const f = fixture(name);
  return {
    command: [SANDBOX_NODE, f.file, ...(f.args ?? [])],
    runtime: 'namespace',
    image: null,
    limits: {},
    network: { mode: 'none', allowedHosts: [] },
    secrets: [],
    mounts: [
      // process.execPath is the resolved binary: a link in a bound directory could point outside it.
      { hostPath: dirname(process.execPath), sandboxPath: NODE_DIR, writable: false },
      { hostPath: REPO, sandboxPath: REPO, writable: false },
    ],
    // Why UV_USE_IO_URING=0: libuv's io_uring probe is denied by the seccomp floor (and reported); this skips it.
    env: { HOME: '/tmp', PATH: '/usr/bin:/bin', UV_USE_IO_URING: '0' },
    cwd: '/tmp',
    share: false,
    allowSampling: false,
    allowElicitation: false,
    ...extra,
  };
}
