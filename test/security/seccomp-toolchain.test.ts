/**
 * T2, the allow list against the heavier work users run, on every runtime: gcc compiling and
 * running a threaded program, git init/commit, the sqlite3 shell, and package installs through the
 * restricted egress proxy (npm; pip where PyPI is reachable). Needs an image with those packages,
 * built with mmdebstrap into a private state directory: runs only with AIRLOCK_TEST_IMAGE_BUILD=1
 * (CI sets it), as root, with the Debian mirror reachable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type AirlockConfig } from '../../src/config/config.ts';
import { buildImage } from '../../src/images/build.ts';
import type { NetworkRequest } from '../../src/network/policy.ts';
import { REFUSED_IPV4_CIDRS } from '../../src/network/proxy/address-ranges.ts';
import { availability, RUNTIMES, runInSandbox, type Availability, type TestRuntime } from './lib/runtime.ts';
import { useSuite } from './lib/suite.ts';

const suite = useSuite();

const SKIP =
  process.env['AIRLOCK_TEST_IMAGE_BUILD'] !== '1'
    ? 'set AIRLOCK_TEST_IMAGE_BUILD=1 to build an image with gcc, git, sqlite3, npm and pip (slow, needs the Debian mirror)'
    : process.getuid?.() !== 0
      ? 'image build needs root (mmdebstrap --mode=root)'
      : false;

/** The packages the workloads need, on top of the base image. */
const TOOLCHAIN = ['gcc', 'libc6-dev', 'git', 'sqlite3', 'npm', 'python3-pip'];

/** gcc, git and sqlite3 in one shell script; prints one marker per tool. */
const TOOLS = String.raw`set -e
cd /tmp
printf '%s\n' '#include <pthread.h>' '#include <stdio.h>' 'static void *f(void *a) { return a; }' \
  'int main(void) { pthread_t t; if (pthread_create(&t, 0, f, 0)) return 1; pthread_join(t, 0); puts("GCC-OK"); return 0; }' > t.c
gcc -O2 -pthread -o t t.c
./t
git init -q repo
cd repo
git config user.email sandbox@example.invalid
git config user.name sandbox
echo hello > f
git add f
git commit -qm first
git log --oneline | grep -q first && echo GIT-OK
cd /tmp
sqlite3 db.sqlite 'pragma journal_mode=wal; create table t(x); insert into t values (41); select x + 1 from t;' | grep -qx 42 && echo SQLITE-OK
`;

/** Whether the host reaches `url` within a few seconds (the proxy can reach no more than the host). */
async function reachable(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return r.status < 500;
  } catch {
    return false;
  }
}

/**
 * Why the egress proxy cannot reach `hosts` from this host, or undefined when it can: unreachable,
 * or resolved to an address the proxy refuses (some build hosts intercept registries on
 * documentation-range addresses).
 */
async function proxyCannotReach(urls: readonly string[]): Promise<string | undefined> {
  const refused = new BlockList();
  for (const cidr of REFUSED_IPV4_CIDRS) {
    const [network, prefix] = cidr.split('/');
    if (network !== undefined && prefix !== undefined) refused.addSubnet(network, Number(prefix), 'ipv4');
  }
  for (const url of urls) {
    const host = new URL(url).hostname;
    if (!(await reachable(url))) return `${host} is not reachable from this host`;
    const addresses = await lookup(host, { all: true, family: 4 }).catch(() => []);
    const bad = addresses.find((a) => refused.check(a.address, 'ipv4'));
    if (bad !== undefined) return `${host} resolves to ${bad.address} here, an address the egress proxy refuses (special-use range)`;
  }
  return undefined;
}

/** A restricted network that reaches only `hosts`, through the egress proxy. */
const restricted = (...hosts: string[]): NetworkRequest => ({ mode: 'restricted', allowedHosts: hosts, services: [] });

describe('seccomp allow list: toolchain and package-manager workloads', { skip: SKIP, timeout: 40 * 60_000 }, () => {
  let stateDir = '';
  let config: AirlockConfig | undefined;
  const ready = new Map<TestRuntime, Availability>();

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'airlock-toolchain-'));
    // Like /var/lib/airlock: sandboxes' unprivileged host uids traverse it to reach the image rootfs.
    await chmod(stateDir, 0o755);
    // A private state directory and cgroup/uid range: nothing of a live deployment is touched.
    config = configSchema.parse({ ...suite.config, stateDir, defaultImage: 'toolchain' });
    await buildImage(config, { name: 'toolchain', include: TOOLCHAIN });
    for (const runtime of RUNTIMES) ready.set(runtime, await availability(runtime, config));
  }, { timeout: 30 * 60_000 });
  after(() => rm(stateDir, { recursive: true, force: true }));

  /** The ready runtime and its config, or the reason it can't run here. */
  const use = (runtime: TestRuntime): { avail: Extract<Availability, { ok: true }>; config: AirlockConfig } | string => {
    const avail = ready.get(runtime);
    if (avail === undefined || config === undefined) return 'the toolchain image was not built';
    return avail.ok ? { avail, config } : avail.reason;
  };

  for (const runtime of RUNTIMES) {
    test(`${runtime}: gcc compiles and runs a threaded program, git commits, sqlite3 answers`, { timeout: 180_000 }, async (t) => {
      const u = use(runtime);
      if (typeof u === 'string') return void t.skip(u);
      const r = await runInSandbox(u.avail, u.config, ['/bin/sh', '-c', TOOLS], { limits: { timeoutSeconds: 120 } });
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      for (const marker of ['GCC-OK', 'GIT-OK', 'SQLITE-OK']) assert.ok(r.output.includes(marker), `${marker} missing (exit ${String(r.exit_code)}):\n${r.output}${r.error ?? ''}`);
    });

    test(`${runtime}: npm install through the restricted proxy`, { timeout: 300_000 }, async (t) => {
      const u = use(runtime);
      if (typeof u === 'string') return void t.skip(u);
      const why = await proxyCannotReach(['https://registry.npmjs.org/']);
      if (why !== undefined) return void t.skip(why);
      const script = 'set -e; mkdir -p /tmp/p && cd /tmp/p && npm init -y >/dev/null && npm install --no-audit --no-fund is-number@7 2>&1 && node -e "console.log(require(\'is-number\')(5) ? \'NPM-OK\' : \'no\')"';
      const r = await runInSandbox(u.avail, u.config, ['/bin/sh', '-c', script], { network: restricted('registry.npmjs.org'), limits: { timeoutSeconds: 240 } });
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      assert.ok(r.output.includes('NPM-OK'), `exit ${String(r.exit_code)}: ${r.output}${r.error ?? ''}\n${JSON.stringify(r.security_violations)}`);
    });

    test(`${runtime}: pip install through the restricted proxy`, { timeout: 300_000 }, async (t) => {
      const u = use(runtime);
      if (typeof u === 'string') return void t.skip(u);
      const why = await proxyCannotReach(['https://pypi.org/simple/', 'https://files.pythonhosted.org/']);
      if (why !== undefined) return void t.skip(why);
      const script = 'set -e; python3 -m pip install --quiet --no-cache-dir --target /tmp/site six 2>&1 && PYTHONPATH=/tmp/site python3 -c "import six; print(\'PIP-OK\')"';
      const r = await runInSandbox(u.avail, u.config, ['/bin/sh', '-c', script], { network: restricted('pypi.org', 'files.pythonhosted.org'), limits: { timeoutSeconds: 240 } });
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      assert.ok(r.output.includes('PIP-OK'), `exit ${String(r.exit_code)}: ${r.output}${r.error ?? ''}`);
    });
  }
});
