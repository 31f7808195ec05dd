/**
 * `airlock run` with a grant a control refuses: nothing runs, exit code 1, and the message names
 * the control (the refusal is thrown by the drivers, no longer a start_failed result).
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliRun } from '../../src/cli/test-cli.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const config = isolatedConfig();
const skip = skipReason(config)('namespace');

function run(args: string[]): Promise<CliRun> {
  return runCli(['run', ...args], { config: writeConfigFile(config), timeoutMs: 60_000 });
}

describe('airlock run: a refused grant', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-run-refusal-'));
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'real'), { mode: 0o755 });
    await writeFile(join(dir, 'real', 'f'), 'PUBLIC', { mode: 0o644 });
    await symlink(join(dir, 'real'), join(dir, 'link'));
  });
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    // The CLI runs leave the run directory (leases, owner records) and cgroup parent: remove them too.
    assert.deepEqual(removeIsolatedState(config), []);
  });

  it('exits 1 naming filesystem_access, with and without --json; the real path runs', async () => {
    for (const json of [[], ['--json']]) {
      const refused = await run([...json, '--mount', `${join(dir, 'link')}:/tmp/data`, '--', '/bin/cat', '/tmp/data/f']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /refused: filesystem_access: cannot grant .*is a symbolic link/);
      assert.equal(refused.stdout, '');
    }
    const ok = await run(['--mount', `${join(dir, 'real')}:/tmp/data`, '--', '/bin/cat', '/tmp/data/f']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'PUBLIC');
  });
});
