/**
 * The agent as the main process of real sandboxes (namespace and gvisor), with the agent
 * directory bound read-only at AGENT_MOUNT: state persists between commands, commands inherit
 * the hardening floor, and file paths resolve inside the sandbox only. Each runtime is skipped,
 * with the reason, where this host can't run it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { configSchema, loadConfig } from '../config/config.ts';
import { resolveImage } from '../images/store.ts';
import type { Image } from '../images/image.ts';
import { removeEmptyParent } from '../isolation/cgroups/index.ts';
import type { IsolationDriver, Limits, Sandbox } from '../isolation/driver.ts';
import { AgentClient } from './client.ts';
import { AGENT_SANDBOX_PATH } from './build.ts';
import { AgentFileError } from './errors.ts';
import { buildTestAgent, PROBE_AGENT, run } from './test-agent.ts';

const tag = `${process.pid}-${randomInt(1e6)}`;
const runDir = mkdtempSync('/tmp/airlock-agent-sbx-');
const config = configSchema.parse({
  ...loadConfig(),
  runDir,
  cgroupParent: `airlock-agent-test-${tag}`,
  hostUidBase: 1_700_000_000 + randomInt(1000) * 65_536,
  hostUidCount: 65_536,
});
const LIMITS: Limits = { memoryMb: 256, cpuCores: 1, pids: 128, timeoutSeconds: 60, scratchMb: 32, outputBytes: 1 << 20, openFiles: 256 };
const built = process.getuid?.() === 0 ? await buildTestAgent().catch((err: Error) => err) : new Error('needs root');

async function setUp(runtime: 'namespace' | 'gvisor'): Promise<[string | false, IsolationDriver | undefined, Image | undefined]> {
  if (built instanceof Error) return [`agent not built: ${built.message}`, undefined, undefined];
  const { createDriver } = await import('../isolation/drivers.ts');
  const driver = createDriver(runtime, config);
  const probe = await driver.probe();
  if (!probe.available) return [`${runtime} unavailable: ${probe.reason}`, undefined, undefined];
  try {
    return [false, driver, await resolveImage(config, config.defaultImage)];
  } catch (err) {
    return [`no image "${config.defaultImage}": ${(err as Error).message}`, undefined, undefined];
  }
}

after(() => {
  if (!(built instanceof Error)) rmSync(built.stateDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
  removeEmptyParent(config.cgroupParent);
});

// Every probe before any suite is declared: the file's after() must not run between suites.
const RUNTIMES = [['namespace', await setUp('namespace')], ['gvisor', await setUp('gvisor')]] as const;

for (const [runtime, [skip, driver, image]] of RUNTIMES) {
  describe(`agent in a ${runtime} sandbox`, { skip }, () => {
    let sandbox: Sandbox | undefined;
    let client: AgentClient;
    let stderr = '';
    after(async () => {
      client?.close();
      await sandbox?.destroy();
    });

    it('starts as the main process and says READY', async () => {
      assert.ok(driver !== undefined && image !== undefined && !(built instanceof Error));
      sandbox = await driver.create({
        id: `agent-${runtime}-${tag}`,
        image,
        limits: LIMITS,
        env: { PATH: '/usr/bin:/bin' },
        mounts: [],
        workdir: '/tmp',
        network: { kind: 'isolated' },
        agentDir: built.agent.dir,
      });
      const proc = await sandbox.start({ argv: [AGENT_SANDBOX_PATH], stdin: true });
      assert.ok(proc.stdin !== null);
      (proc.stderr as Readable).on('data', (c: Buffer) => (stderr += c.toString()));
      client = new AgentClient({ stdin: proc.stdin, stdout: proc.stdout });
      const ready = await client.ready();
      assert.equal(ready.version, 1, stderr);
    });

    it('keeps state between commands', async () => {
      assert.equal((await run(client, ['sh', '-c', 'echo a > /tmp/x'])).code, 0);
      assert.equal((await run(client, ['cat', '/tmp/x'])).stdout, 'a\n');
    });

    it('runs commands as nobody, under seccomp, no_new_privs and no capabilities', async () => {
      const r = await run(client, ['sh', '-c', 'id -u; grep -E "^(NoNewPrivs|Seccomp|CapEff|CapPrm|CapBnd):" /proc/self/status']);
      assert.equal(r.code, 0, r.stderr);
      const [uid, ...status] = r.stdout.trim().split('\n');
      assert.equal(uid, '65534');
      const fields = Object.fromEntries(status.map((l) => l.split(/:\s+/) as [string, string]));
      // gVisor's /proc doesn't show NoNewPrivs (runsc applies it from the spec); Linux's does.
      if (runtime === 'namespace') assert.equal(fields['NoNewPrivs'], '1');
      assert.equal(fields['CapEff'], '0000000000000000');
      assert.equal(fields['CapPrm'], '0000000000000000');
      assert.equal(fields['Seccomp'], '2');
      assert.notEqual((await run(client, ['unshare', '-U', 'true'])).code, 0);
    });

    it('keeps commands out of the agent, though they run as the same user', async () => {
      const { pid } = await client.ready();
      assert.equal((await run(client, ['sh', '-c', PROBE_AGENT, 'probe', String(pid)])).stdout, 'done\n');
    });

    it('resolves a symlink to /etc/passwd to the image file, never the host one', async () => {
      assert.equal((await run(client, ['ln', '-s', '/etc/passwd', '/tmp/l'])).code, 0);
      const inside = await client.readFile('/tmp/l', 1 << 20);
      assert.deepEqual(inside, readFileSync(`${image?.rootfs}/etc/passwd`));
      assert.deepEqual(await client.readFile('/tmp/../../../etc/passwd', 1 << 20), inside);
    });

    it('writes only where the sandbox may: scratch yes, image and agent no', async () => {
      const data = randomBytes(2 * 1024 * 1024);
      await client.writeFile('/tmp/blob', data);
      assert.deepEqual(await client.readFile('/tmp/blob', data.length), data);
      assert.equal((await run(client, ['sha256sum', '/tmp/blob'])).stdout.split(' ')[0], createHashHex(data));
      for (const path of ['/etc/passwd', '/tmp/../etc/evil', '/run/airlock/airlock-agent', '/usr/bin/sh']) {
        await assert.rejects(client.writeFile(path, 'x'), (e: unknown) => e instanceof AgentFileError && ['EROFS', 'EACCES', 'EPERM'].includes(e.code), path);
      }
      assert.ok(!(built instanceof Error) && readFileSync(built.agent.path).length > 0);
    });

    it('lists and kills inside the sandbox', async () => {
      const names = (await client.list('/run/airlock')).map((e) => e.name);
      assert.deepEqual(names, ['airlock-agent']);
      const handle = client.exec({ argv: ['sh', '-c', 'sleep 100 & sleep 100 & wait'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
      await handle.pid;
      await new Promise((r) => setTimeout(r, 200));
      handle.kill();
      assert.equal((await handle.exit).signal, 'SIGKILL');
      const left = await run(client, ['sh', '-c', 'for p in /proc/[0-9]*; do cat $p/comm; done | grep -c "^sleep$" || true']);
      assert.equal(left.stdout.trim(), '0');
    });
  });
}

function createHashHex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
