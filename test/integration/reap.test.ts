/**
 * `airlock doctor --reap`: a sandbox whose controller is gone (its ownership record names a dead
 * process) is released — processes killed, cgroup removed, uid lease and record dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after } from 'node:test';
import { NamespaceDriver } from '../../src/isolation/namespace/driver.ts';
import { findLeftovers } from '../../src/isolation/leftovers.ts';
import { resolveImage } from '../../src/images/store.ts';
import { BASE_ENV } from '../../src/sandbox/prepare.ts';
import { skipReason } from './environment.ts';
import { stretched } from '../security/lib/emulation.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';

// `doctor --reap` runs on this file's own configuration: it can't reap a live deployment's sandboxes.
const config = isolatedConfig();
const configFile = writeConfigFile(config);
after(() => {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`reap test cleanup: ${problems.join('; ')}\n`);
});

test('doctor --reap releases a sandbox whose controller died, and only that one', { skip: skipReason(config)('namespace'), timeout: stretched(60_000) }, async () => {
  const before = new Set(findLeftovers(config));
  const added = () => findLeftovers(config).filter((x) => !before.has(x));
  const driver = new NamespaceDriver({ config });
  const image = await resolveImage(config, config.defaultImage);
  const spec = (id: string) => ({ id, image, limits: config.defaults, env: { ...BASE_ENV }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' as const } });
  const orphan = await driver.create(spec(`reap-orphan-${process.pid}`));
  const live = await driver.create(spec(`reap-live-${process.pid}`));
  // Both must outlive the reap: on an emulated host it comes minutes later.
  const sleeper = ['sleep', String(stretched(60))];
  const orphanProc = await orphan.start({ argv: sleeper, stdin: false });
  const liveProc = await live.start({ argv: sleeper, stdin: false });
  // Pretend the orphan's controller died: its record now names a process that no longer exists.
  const record = `${config.runDir}/owners/${orphan.id}.json`;
  writeFileSync(record, JSON.stringify({ ...JSON.parse(readFileSync(record, 'utf8')), ownerPid: 2 ** 22 + 1, ownerStart: 'gone' }));
  // Without --reap, doctor tells the live sandbox (this process's) from the dead controller's, by their records.
  const checks = JSON.parse(execFileSync(process.execPath, ['bin/airlock.js', 'doctor', '--json', '--config', configFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { name: string; status: string; level: string; detail: string }[];
  const state = checks.find((c) => c.name === 'sandbox state');
  assert.equal(state?.status, 'warn', JSON.stringify(state));
  assert.match(state?.detail ?? '', new RegExp(`^1 live of controller pid ${process.pid} \\(.*\\); 1 left by dead controllers \\(pid ${2 ** 22 + 1}: ${orphan.id}\\): airlock doctor --reap releases them`));
  // KVM concerns no runtime this configuration uses: informational, never a failure.
  assert.ok(['ok', 'info'].includes(checks.find((c) => c.name === 'kvm')?.status ?? ''), JSON.stringify(checks.find((c) => c.name === 'kvm')));
  assert.equal(checks.find((c) => c.name === 'runtime namespace')?.level, 'required');
  const out = execFileSync(process.execPath, ['bin/airlock.js', 'doctor', '--reap', '--config', configFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  assert.match(out, /sandbox state/);
  assert.equal((await orphanProc.exit).signal ?? 'exited', 'SIGKILL', 'the orphan was killed');
  const remaining = added().join('\n');
  assert.doesNotMatch(remaining, new RegExp(orphan.id), 'nothing of the orphan remains');
  assert.match(remaining, new RegExp(live.id), 'the live sandbox of this (living) controller was left alone');
  await live.destroy();
  await liveProc.exit;
  await orphan.destroy();
  for (let i = 0; i < 30 && added().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(added(), []);
});
