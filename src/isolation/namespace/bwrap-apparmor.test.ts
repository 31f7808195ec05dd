import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBwrapArgs } from './bwrap-args.ts';
import { exitOf } from './sandbox.ts';
import { AGENT_MOUNT, type SandboxSpec } from '../driver.ts';
import { APPARMOR_REFUSAL } from '../apparmor/index.ts';

const spec: SandboxSpec = {
  id: 'x-1',
  image: { name: 'default', digest: `sha256:${'a'.repeat(64)}`, rootfs: '/var/lib/airlock/images/blobs/sha256/aa/rootfs' },
  limits: { memoryMb: 512, cpuCores: 0.5, pids: 64, timeoutSeconds: 10, scratchMb: 32, outputBytes: 1024, openFiles: 256 },
  env: { PATH: '/usr/bin:/bin' },
  mounts: [],
  workdir: '/tmp',
  network: { kind: 'isolated' },
};
const confinement = { profile: 'airlock-sandbox', agentDir: '/state/agent/k' };

function commandOf(args: string[]): string[] {
  return args.slice(args.indexOf('--') + 1);
}

test('without AppArmor the command is bwrap\'s own, and no agent is bound for a one-shot run', () => {
  const args = buildBwrapArgs({ spec, command: ['python3', '-c', 'print(1)'], mountFds: [], procMasks: [] });
  assert.deepEqual(commandOf(args), ['python3', '-c', 'print(1)']);
  assert.ok(!args.includes(AGENT_MOUNT));
});

test('with AppArmor the agent stacks the profile before the command, bound read-only for one-shot runs', () => {
  const args = buildBwrapArgs({ spec, command: ['python3', '-c', 'print(1)'], mountFds: [], procMasks: [], confinement });
  assert.deepEqual(commandOf(args), [`${AGENT_MOUNT}/airlock-agent`, '--apparmor-stack', 'airlock-sandbox', '--', 'python3', '-c', 'print(1)']);
  const bind = args.indexOf(AGENT_MOUNT);
  assert.deepEqual(args.slice(bind - 2, bind + 1), ['--ro-bind', '/state/agent/k', AGENT_MOUNT]);
  // Bound before /run is made read-only, and bwrap itself is not wrapped (it needs mounts and a user namespace).
  assert.ok(bind < args.lastIndexOf('--remount-ro'));
  assert.ok(!args.includes('--as-pid-1'));
});

test('a persistent sandbox binds its own agent once and starts it confined, still as pid 1', () => {
  const args = buildBwrapArgs({ spec: { ...spec, agentDir: '/state/agent/p' }, command: [`${AGENT_MOUNT}/airlock-agent`], mountFds: [], procMasks: [], confinement });
  assert.equal(args.filter((a) => a === AGENT_MOUNT).length, 1);
  assert.ok(args.includes('/state/agent/p'));
  assert.ok(args.includes('--as-pid-1'));
  assert.deepEqual(commandOf(args), [`${AGENT_MOUNT}/airlock-agent`, '--apparmor-stack', 'airlock-sandbox', '--', `${AGENT_MOUNT}/airlock-agent`]);
});

test('the agent\'s refusal to run unconfined is a setup error naming apparmor, not the command\'s exit', () => {
  const refused = exitOf(126, null, `${APPARMOR_REFUSAL}cannot confine the command in profile airlock-sandbox: No such file or directory\n`);
  assert.equal(refused.setupError, 'apparmor: cannot confine the command in profile airlock-sandbox: No such file or directory');
  // A command's own 126 stays the command's.
  assert.equal(exitOf(126, null, 'sh: permission denied\n').setupError, undefined);
});
