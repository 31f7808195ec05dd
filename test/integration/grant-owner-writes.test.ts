/**
 * A writable grant written as its owner (`writeAs`, what `airlock run` sets for a directory of the
 * invoking user): on `namespace` an id-mapped mount, so the sandbox writes a directory only its
 * owner may write (root's 0755, a user's 0700) and what it creates belongs to that owner on the
 * host, while it still gets nothing the owner couldn't (another user's 0600 file stays closed).
 * On gVisor, whose gofer writes as root, there are no id-mapped grants: the grant is checked as
 * the sandbox's own uid and refused with the fix, as a documented gap. Through the API, a caller on
 * the unix socket (root here) gets the same for its own directory.
 */
import assert from 'node:assert/strict';
import { chown, chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { RefusedControlError } from '../../src/host/control-error.ts';
import { RUNTIMES, runInSandbox, runOrRefusal } from '../security/lib/runtime.ts';
import { runtimeCase, useSuite } from '../security/lib/suite.ts';
import { skipReason } from './environment.ts';
import { socketServer } from './serve-on-socket.ts';

const suite = useSuite();
let base = '';
const USER = 4242;
const OTHER = 5353;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-owner-writes-'));
  await chmod(base, 0o755);
});
after(() => rm(base, { recursive: true, force: true }));

/** A fresh directory owned by `uid` with `mode`, holding another user's private file. */
async function ownedDir(name: string, uid: number, mode: number): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir);
  await writeFile(join(dir, 'private'), 'not yours\n', { mode: 0o600 });
  await chown(join(dir, 'private'), OTHER, OTHER);
  await chown(dir, uid, uid);
  await chmod(dir, mode);
  return dir;
}

// Why the setuid attempt: written as root, a setuid file planted here would be root's on the host.
const SCRIPT = 'echo made > /out/new.txt && mkdir /out/sub && echo ok; cat /out/private 2>/dev/null || echo private-closed; chmod 4755 /out/new.txt 2>/dev/null && echo SETUID-SET; true';

for (const runtime of RUNTIMES) {
  describe(`${runtime}: writable grants written as their owner`, () => {
    runtimeCase(suite, runtime, "root's 0755 and a user's 0700 directory: writes belong to the owner, nothing beyond the owner's access", async (_t, ready) => {
      for (const [name, uid, mode] of [['root-owned', 0, 0o755], ['user-owned', USER, 0o700]] as const) {
        const dir = await ownedDir(`${runtime}-${name}`, uid, mode);
        const mount = { hostPath: dir, sandboxPath: '/out', writable: true, writeAs: { uid, gid: uid } };
        if (runtime === 'gvisor') {
          // The documented gap: runsc's gofer writes as root, so the grant is the sandbox uid's, which may not write here.
          const refused = await runOrRefusal(ready, suite.config, ['/bin/sh', '-c', SCRIPT], { mounts: [mount] });
          assert.ok(refused instanceof RefusedControlError, `${name}: ${JSON.stringify(refused)}`);
          assert.match(refused.message, /may not read and write it \(a sandbox writes with its own unprivileged host uid: grant a directory you own from this host \(airlock run, or sandbox create over the unix socket\) on the namespace runtime/);
          continue;
        }
        const result = await runInSandbox(ready, suite.config, ['/bin/sh', '-c', SCRIPT], { mounts: [mount] });
        assert.equal(result.exit_code, 0, `${name}: ${JSON.stringify(result)}`);
        assert.equal(result.output, 'ok\nprivate-closed', name);
        for (const made of ['new.txt', 'sub']) {
          const st = await stat(join(dir, made));
          assert.deepEqual([st.uid, st.gid], [uid, uid], `${name}/${made} belongs to the directory's owner on the host`);
          assert.equal(st.mode & 0o6000, 0, `${name}/${made} carries no setuid/setgid bit`);
        }
      }
    });
  });
}

/** POST over the unix socket (the caller is this process's uid, root). */
function postOnSocket(socketPath: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { host: 'localhost', 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('through the API on the unix socket', () => {
  const server = socketServer();
  const reason = skipReason(server.config)('namespace');
  before(async () => {
    if (reason === false) await server.start();
  });
  after(async () => {
    const problems = await server.stop();
    if (problems.length > 0) process.stderr.write(`owner writes test cleanup: ${problems.join('; ')}\n`);
  });

  test("a socket caller's writable grant of its own directory is written as the caller", { skip: reason }, async () => {
    const dir = await ownedDir('api-root-owned', 0, 0o755);
    const res = await postOnSocket(server.socket, '/api/v1/sandbox/execute', {
      agent_id: 'root',
      command: ['sh', '-c', 'echo via-api > /out/api.txt && echo ok'],
      filesystem_access: [{ host_path: dir, sandbox_path: '/out', mode: 'rw' }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json['exit_code'], 0, JSON.stringify(res.json));
    const st = await stat(join(dir, 'api.txt'));
    assert.deepEqual([st.uid, st.gid], [0, 0]);
  });
});
