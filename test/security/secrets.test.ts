/**
 * T18 (secrets) on both runtimes, through the real service and real sandboxes: a granted secret is
 * the file /run/secrets/NAME on a tmpfs of its own, mode 0400, owned by the sandbox user; it is in
 * no process's environment or argv, on no host disk, and gone once the sandbox is; its value
 * (raw, hex, base64, split across output chunks) never leaves in output, exec streams, files read
 * back or error messages; a secret that can't be placed stops the start, naming the secret.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { storePaths } from '../../src/images/paths.ts';
import { join } from 'node:path';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import { errorStatus } from '../../src/api/error-codes.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import type { EgressDecision } from '../../src/network/proxy/index.ts';
import { EnvSecretProvider, FileSecretStore, redactionMarker, SecretRegistry } from '../../src/secrets/index.ts';
import { executeOnce } from '../../src/sandbox/execute.ts';
import { NetworkManager } from '../../src/network/manager.ts';
import { skipReason } from '../integration/environment.ts';
import { availability, isolatedConfig, probeLimits, removeIsolatedState, SANDBOX_ENV } from './lib/runtime.ts';

const config = isolatedConfig();
const policyBundleHash = await readBundleHash(policyDirOf(config.policy));
const reason = skipReason(config);
after(() => {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`secrets test cleanup: ${problems.join('; ')}\n`);
});

/** A value no image, tool or log would hold by chance. */
const VALUE = `sk-t18-${createHash('sha256').update(String(process.pid)).digest('hex').slice(0, 32)}`;
const ENV_VALUE = `ghp-t18-${createHash('sha256').update(`env${process.pid}`).digest('hex').slice(0, 24)}`;
const MARK = redactionMarker('openai_key');
const SHA = createHash('sha256').update(VALUE).digest('hex');

/** Everything the value can be seen as: raw, hex and base64 (what redaction must catch and leaks show). */
const FORMS = [VALUE, Buffer.from(VALUE).toString('hex'), Buffer.from(VALUE).toString('base64')];

function assertNoValue(text: string, where: string): void {
  for (const form of [...FORMS, ENV_VALUE]) assert.ok(!text.includes(form), `${where} holds the value: ${text.slice(0, 400)}`);
}

/** Facts a sandbox reports about its own view (python: its stat() doesn't depend on statx, which old runsc lacks). */
const PROBE = String.raw`
import os, json, hashlib
p = '/run/secrets/openai_key'
st = os.stat(p)
d = os.stat('/run/secrets')
leaks = []
for pid in os.listdir('/proc'):
    if not pid.isdigit(): continue
    for f in ('environ', 'cmdline'):
        try:
            data = open('/proc/%s/%s' % (pid, f), 'rb').read()
        except OSError:
            continue
        if b'VALUE_PREFIX' in data: leaks.append('%s/%s' % (pid, f))
try:
    open(p, 'a').close(); writable = True
except OSError:
    writable = False
try:
    open('/run/secrets/new', 'w').close(); creatable = True
except OSError:
    creatable = False
mount = [l.split() for l in open('/proc/mounts') if ' /run/secrets ' in l]
print(json.dumps({'mode': oct(st.st_mode & 0o7777), 'uid': st.st_uid, 'gid': st.st_gid, 'me': os.getuid(), 'size': st.st_size,
  'sha': hashlib.sha256(open(p, 'rb').read()).hexdigest(), 'dir_mode': oct(d.st_mode & 0o7777), 'names': sorted(os.listdir('/run/secrets')),
  'environ': 'VALUE_PREFIX' in open('/proc/self/environ').read(), 'leaks': leaks, 'writable': writable, 'creatable': creatable,
  'fstype': mount[0][2] if mount else None, 'ro': bool(mount) and 'ro' in mount[0][3].split(',')}))
`.replaceAll('VALUE_PREFIX', VALUE.slice(0, 12));

/**
 * Prints the value in two writes 0.3 s apart (the controller reads them as two chunks; the redactor
 * holds the first half back, so what is delivered may be one), then its encodings.
 */
const LEAKER = `v=$(cat /run/secrets/openai_key); printf '%s' "$v" | head -c 10; sleep 0.3; printf '%s\\n' "$v" | tail -c +11; ` +
  `printf '%s' "$v" | od -An -tx1 | tr -d ' \\n'; echo; printf '%s' "$v" | base64 -w0; echo; printf 'x%s' "$v" | base64 -w0; echo; ` +
  `echo "err:$v" >&2; cat /run/secrets/gh_token; echo`;

/**
 * Files under the test's own state and run directories that hold the value in any form. Other
 * filesystems mounted below them (a sandbox's scratch and secrets tmpfs, the image overlay) are
 * not descended into: they are memory or the image, checked on their own.
 */
function hostFilesHoldingValue(): string[] {
  const found: string[] = [];
  const images = storePaths(config).root;
  const walk = (dir: string, dev: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (st.dev !== dev || path === images) continue;
      if (st.isDirectory()) walk(path, dev);
      else if (st.isFile() && st.size < 64 * 1024 * 1024) {
        try {
          const data = readFileSync(path);
          if (FORMS.some((f) => data.includes(f)) || data.includes(ENV_VALUE)) found.push(path);
        } catch {
          // Gone meanwhile.
        }
      }
    }
  };
  for (const root of [config.runDir, config.stateDir]) {
    if (existsSync(root)) walk(root, statSync(root).dev);
  }
  return found;
}

/** Host processes whose environment or argv holds the value (the sandbox's and the controller's alike). */
function hostProcessesHoldingValue(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const file of ['environ', 'cmdline']) {
      try {
        const data = readFileSync(`/proc/${pid}/${file}`);
        if (data.includes(VALUE) || data.includes(ENV_VALUE)) found.push(`${pid}/${file}`);
      } catch {
        // Gone, or a kernel thread.
      }
    }
  }
  return found;
}

/** Mounts on the host (this mount namespace) that carry secrets of this test's sandboxes. */
function hostSecretMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(config.runDir) && l.includes('/secrets'));
}

async function collect(session: ExecSession): Promise<{ chunks: string[]; err: string; result: Awaited<ExecSession['result']> }> {
  const chunks: string[] = [];
  const err: string[] = [];
  session.onStdout((c) => chunks.push(c.toString()));
  session.onStderr((c) => err.push(c.toString()));
  const result = await session.result;
  return { chunks, err: err.join(''), result };
}

// microvm too: its secrets travel in the guest's authenticated handshake instead of a host mount.
for (const runtime of ['namespace', 'gvisor', 'microvm'] as const) {
  describe(`${runtime}: T18 secrets`, { skip: reason(runtime) }, () => {
    const storeDir = join(config.stateDir, 'secrets');
    const registry = new SecretRegistry([new FileSecretStore(storeDir), new EnvSecretProvider({ gh_token: 'AIRLOCK_T18_TOKEN' }, { AIRLOCK_T18_TOKEN: ENV_VALUE })]);
    const decisions: EgressDecision[] = [];
    const service = new SandboxService({ config, policyBundleHash, secrets: registry, observer: { egressDecision: (d) => decisions.push(d) } });
    before(async () => {
      await new FileSecretStore(storeDir).set('openai_key', Buffer.from(VALUE));
      await service.start();
    });
    after(() => service.shutdown());

    test('a one-shot sees the file on a read-only tmpfs, 0400, owned by it, in no environment or argv', async () => {
      const result = await service.execute({ agentId: 't18', runtime, limits: {}, env: {}, mounts: [], code: PROBE, language: 'python', secrets: ['openai_key'] });
      assert.equal(result.termination_reason, 'completed', result.error ?? '');
      const facts = JSON.parse(result.output) as Record<string, unknown>;
      assert.equal(facts['mode'], '0o400');
      assert.equal(facts['uid'], facts['me'], 'owned by the sandbox user');
      assert.equal(facts['uid'], 65534);
      assert.equal(facts['size'], VALUE.length);
      assert.equal(facts['sha'], SHA, 'the file holds exactly the value');
      assert.deepEqual(facts['names'], ['openai_key'], 'only the granted secret is there');
      assert.equal(facts['environ'], false, 'not in /proc/self/environ');
      assert.deepEqual(facts['leaks'], [], 'in no process environment or argv inside the sandbox');
      assert.equal(facts['writable'], false);
      assert.equal(facts['creatable'], false);
      assert.equal(facts['ro'], true, 'mounted read-only');
      // gVisor shows its gofer mount inside; the tmpfs behind it is checked from the host below.
      if (runtime !== 'gvisor') assert.equal(facts['fstype'], 'tmpfs');
      assertNoValue(JSON.stringify(result), 'the result');
    });

    test('output is redacted: raw, split across chunks, hex and base64, stdout and stderr, captured and streamed', async () => {
      const streamed: string[] = [];
      const result = await service.execute({ agentId: 't18', runtime, limits: {}, env: {}, mounts: [], command: ['sh', '-c', LEAKER], secrets: ['openai_key', 'gh_token'] });
      assert.equal(result.termination_reason, 'completed', result.error ?? '');
      const lines = result.output.split('\n');
      assert.equal(lines[0], MARK, 'the value split over two writes is one marker');
      assert.equal(lines[1], MARK, 'hex');
      assert.equal(lines[2], MARK, 'base64');
      assert.match(lines[3] ?? '', /\[REDACTED:openai_key\]/, 'base64 at another alignment');
      assert.equal(lines[4], redactionMarker('gh_token'), 'a secret from the environment provider');
      assert.equal(result.error, `err:${MARK}\n`);
      assertNoValue(JSON.stringify(result), 'the result');
      // The same through the runner's live stream (what `airlock run` and the API stream out).
      const config2 = { ...config };
      const a = await availability(runtime, config2);
      assert.ok(a.ok);
      const networks = new NetworkManager({ config: config2, poolSize: 0 });
      try {
        const values = await registry.resolve(['openai_key']);
        const live = await executeOnce(
          { image: a.image, limits: probeLimits(config2), env: SANDBOX_ENV, mounts: [], workdir: '/tmp', argv: ['sh', '-c', LEAKER.replace(/; cat \/run\/secrets\/gh_token; echo$/, '')], secrets: values.map((v) => v.value), onStdout: (c) => streamed.push(c.toString()) },
          { driver: a.driver, network: networks, policyHash: 'test' },
        );
        assert.equal(live.termination_reason, 'completed', live.error ?? '');
        assertNoValue(streamed.join(''), 'the live stream');
        assert.ok(streamed.join('').startsWith(`${MARK}\n`));
      } finally {
        await networks.close();
      }
    });

    test('a persistent sandbox: exec streams and files read back are redacted; nothing on host disk; gone after it ends', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], secrets: ['openai_key'] });
      const id = info.sandbox_id;
      try {
        const exec = await collect(await service.exec(id, { argv: ['sh', '-c', LEAKER.replace(/; cat \/run\/secrets\/gh_token; echo$/, '')], env: {}, stdin: false, timeoutMs: 20_000 }));
        assert.equal(exec.result.exit_code, 0, exec.err);
        assertNoValue(exec.chunks.join(''), 'the exec stream');
        assertNoValue(exec.err, 'the exec stderr');
        assert.equal(exec.chunks.join('').split('\n')[0], MARK);
        // The file itself, and a copy on the scratch, read back through the files API.
        assert.equal((await service.readFile(id, '/run/secrets/openai_key')).toString(), MARK);
        await collect(await service.exec(id, { argv: ['sh', '-c', 'cp /run/secrets/openai_key /tmp/copy; base64 /run/secrets/openai_key > /tmp/copy.b64'], env: {}, stdin: false, timeoutMs: 10_000 }));
        assert.equal((await service.readFile(id, '/tmp/copy')).toString(), MARK);
        assertNoValue((await service.readFile(id, '/tmp/copy.b64')).toString(), 'a base64 copy read back');
        // A file named after the value is listed under the marker.
        await collect(await service.exec(id, { argv: ['sh', '-c', 'touch "/tmp/$(cat /run/secrets/openai_key)"'], env: {}, stdin: false, timeoutMs: 10_000 }));
        assertNoValue(JSON.stringify(await service.listFiles(id, '/tmp')), 'a file listing');
        // Error messages too (a file error quotes the path).
        await assert.rejects(service.readFile(id, `/tmp/missing/${VALUE}`), (err: Error) => err instanceof ServiceError && err.message.includes(MARK) && !err.message.includes(VALUE));
        // While it runs: no host process holds the value in its environment or argv, no host file holds it.
        assert.deepEqual(hostProcessesHoldingValue(), []);
        assert.deepEqual(hostFilesHoldingValue(), []);
        if (runtime === 'gvisor') {
          const mounts = hostSecretMounts();
          assert.equal(mounts.length, 1, mounts.join('\n'));
          assert.match(mounts[0] ?? '', / - tmpfs /, 'the host side of the secrets mount is a tmpfs');
        }
        // Its spec, as policy and the API see it, names the secret and holds no value.
        assert.deepEqual(service.ownership(id).spec.secrets, ['openai_key']);
        assert.deepEqual(service.get(id).secrets, ['openai_key'], 'the sandbox lists the names it was given');
        assertNoValue(JSON.stringify([service.ownership(id), service.get(id)]), 'the sandbox record');
      } finally {
        await service.kill(id);
      }
      assert.deepEqual(hostSecretMounts(), [], 'no secrets mount is left on the host');
      assert.ok(!existsSync(join(config.runDir, 'gvisor', id)), 'the bundle is gone');
      assert.deepEqual(hostFilesHoldingValue(), []);
    });

    test('what the egress proxy reports (host names, paths) is redacted: logs, metrics and the network API', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], secrets: ['openai_key'], network: { mode: 'restricted', allowedHosts: ['example.com'], services: [] } });
      const id = info.sandbox_id;
      try {
        const code = "import urllib.request\nv = open('/run/secrets/openai_key').read()\nfor url in ('http://%s.invalid/' % v, 'http://example.com/%s?q=1' % v):\n    try:\n        urllib.request.urlopen(url, timeout=5)\n    except Exception as e:\n        print(type(e).__name__)\n";
        const out = await collect(await service.exec(id, { code, language: 'python', env: {}, stdin: false, timeoutMs: 30_000 }));
        assert.equal(out.result.exit_code, 0, out.err);
        const mine = decisions.filter((d) => d.sandboxId === id);
        assert.ok(mine.length >= 1, `the proxy reported ${mine.length} decisions`);
        assert.ok(mine.some((d) => d.host === `${MARK}.invalid` && !d.allowed), JSON.stringify(mine));
        assertNoValue(JSON.stringify(mine), 'the egress decisions observed');
        assertNoValue(JSON.stringify(service.network(id)), 'the network API');
      } finally {
        await service.kill(id);
      }
    });

    test('an unknown secret is refused before anything starts, naming it (400 secret_not_found)', async () => {
      await assert.rejects(
        service.execute({ agentId: 't18', runtime, limits: {}, env: {}, mounts: [], command: ['true'], secrets: ['openai_key', 'no_such_key'] }),
        (err: unknown) => err instanceof ServiceError && err.code === 'secret_not_found' && err.message === 'no secret named no_such_key' && errorStatus(err.code) === 400,
      );
      await assert.rejects(service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], secrets: ['no_such_key'] }), (err: unknown) => err instanceof ServiceError && err.code === 'secret_not_found');
    });

    test('a secret that cannot be placed stops the start, naming the secret and never the value', async () => {
      const a = await availability(runtime, config);
      assert.ok(a.ok);
      const networks = new NetworkManager({ config, poolSize: 0 });
      try {
        const unreadable = { name: 'broken_key', bytes: (): Buffer => { throw new Error('the provider went away'); } };
        const result = await executeOnce(
          { image: a.image, limits: probeLimits(config), env: SANDBOX_ENV, mounts: [], workdir: '/tmp', argv: ['sh', '-c', 'echo ran'], secrets: [unreadable] },
          { driver: a.driver, network: networks, policyHash: 'test' },
        );
        assert.equal(result.termination_reason, 'start_failed');
        assert.equal(result.output, '', 'the command never ran');
        assert.match(result.error ?? '', /secret broken_key/);
      } finally {
        await networks.close();
      }
      // The driver itself refuses too, whoever calls it: the sandbox never starts.
      const spec = { id: `t18-broken-${process.pid}`, image: a.image, limits: probeLimits(config), env: SANDBOX_ENV, mounts: [], workdir: '/tmp', network: { kind: 'isolated' as const }, secrets: [{ name: 'broken_key', bytes: (): Buffer => { throw new Error('gone'); } }] };
      await assert.rejects(async () => {
        const sandbox = await a.driver.create(spec);
        try {
          await sandbox.start({ argv: ['true'], stdin: false });
        } finally {
          await sandbox.destroy();
        }
      }, /secret broken_key: its value could not be read/);
      assert.deepEqual(hostSecretMounts(), []);
    });
  });
}
