/**
 * The agent as a lower layer of the sandbox's read-only root instead of a bind mount of its
 * directory.
 *
 * Why: runsc serves bind mounts uncached (`--file-access-mounts=shared`, right for grants that may
 * change on the host), so every exec of the agent read it through the gofer: the agent's init made
 * a one-shot ~70 ms slower than the same command without it (bench/gvisor.ts). The root is
 * immutable and cached (`--file-access=exclusive`), and the agent build is immutable too.
 *
 * Layout: `${baseDir}/agent-layers/<sha256>/run/airlock/airlock-agent` (root-owned, directories
 * 0755, binary 0555), made once per agent build: copied from the verified build into a temporary
 * directory, checked against the build's SHA-256 and renamed into place. A layer found on disk is
 * checked against the SHA-256 once per driver before it is used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { AGENT_MOUNT } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { AGENT_BINARY_NAME, type AgentBinary } from '../../agent/build.ts';

/** Agent layers of one driver, each checked once. */
export class AgentLayers {
  private readonly dir: string;
  private readonly checked = new Map<string, string>();

  /** `baseDir`: the driver's root-only directory (the layers go to `agent-layers/` in it). */
  constructor(baseDir: string) {
    this.dir = `${baseDir}/agent-layers`;
  }

  /** The layer directory holding `agent` (a verified build) at AGENT_MOUNT. Throws a ControlError naming `agent`. */
  layerFor(agent: AgentBinary): string {
    const known = this.checked.get(agent.sha256);
    if (known !== undefined) return known;
    if (!/^[0-9a-f]{64}$/.test(agent.sha256)) throw new ControlError('agent', `unexpected agent checksum ${JSON.stringify(agent.sha256)}`);
    const layer = `${this.dir}/${agent.sha256}`;
    try {
      if (sha256Of(binaryIn(layer)) !== agent.sha256) this.make(agent, layer);
    } catch (err) {
      if (err instanceof ControlError) throw err;
      throw new ControlError('agent', `cannot make the agent layer ${layer}: ${(err as Error).message}`, { cause: err });
    }
    this.checked.set(agent.sha256, layer);
    return layer;
  }

  private make(agent: AgentBinary, layer: string): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${this.dir}/.tmp-${randomBytes(6).toString('hex')}`;
    try {
      mkdirSync(`${temp}${AGENT_MOUNT}`, { recursive: true, mode: 0o755 });
      copyFileSync(agent.path, binaryIn(temp));
      chmodSync(binaryIn(temp), 0o555);
      // The copy is what sandboxes will run: it must be the verified build, byte for byte.
      if (sha256Of(binaryIn(temp)) !== agent.sha256) throw new ControlError('agent', `the copy of ${agent.path} does not match its checksum`);
      // A damaged layer of the same build (only root can write here) is replaced whole.
      rmSync(layer, { recursive: true, force: true });
      renameSync(temp, layer);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }
}

function binaryIn(layer: string): string {
  return `${layer}${AGENT_MOUNT}/${AGENT_BINARY_NAME}`;
}

/** The file's SHA-256 in hex; '' when it can't be read. */
function sha256Of(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return '';
  }
}
