import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../config/config.ts';
import { parseRunOptions, type RawRunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';

const config = configSchema.parse({});
const raw = (over: Partial<RawRunOptions> = {}): RawRunOptions => ({ runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false, ...over });

function refused(over: Partial<RawRunOptions>, pattern: RegExp, command = ['true']) {
  assert.throws(() => parseRunOptions(raw(over), command, config, '/home/u'), (err: unknown) => err instanceof UsageError && pattern.test(err.message));
}

test('defaults come from the configuration', () => {
  const plan = parseRunOptions(raw(), ['true'], config, '/');
  assert.equal(plan.limits.memoryMb, 512);
  assert.equal(plan.limits.cpuCores, 0.5);
  assert.equal(plan.limits.timeoutSeconds, 300);
  assert.equal(plan.image, 'default');
  assert.deepEqual(plan.argv, ['true']);
  assert.equal(plan.env['HOME'], '/tmp');
});

test('out-of-range limits are refused naming the option, never clamped', () => {
  refused({ memory: '4096' }, /^--memory: 4096 exceeds the maximum of 2048/);
  refused({ cpu: '2.5' }, /^--cpu: 2.5 exceeds/);
  refused({ timeout: '601' }, /^--timeout: 601 exceeds/);
  refused({ memory: '0' }, /^--memory: must be greater than 0/);
  refused({ pids: '1.5' }, /^--pids: must be a whole number/);
  refused({ memory: '12abc' }, /^--memory: "12abc" is not a number/);
  refused({ cpu: '-1' }, /^--cpu: must be positive, got -1$/);
  refused({ memory: '-5' }, /^--memory: must be positive, got -5$/);
});

test('maxima accept exactly the maximum', () => {
  const plan = parseRunOptions(raw({ memory: '2048', cpu: '2', timeout: '600' }), ['true'], config, '/');
  assert.equal(plan.limits.memoryMb, 2048);
  assert.equal(plan.limits.cpuCores, 2);
});

test('unknown runtime and malformed env/mount are refused', () => {
  refused({ runtime: 'docker' }, /^--runtime: unknown runtime "docker"/);
  refused({ env: ['NOEQUALS'] }, /^--env:/);
  refused({ env: ['1BAD=x'] }, /^--env:/);
  refused({ mount: ['/a'] }, /^--mount: expected HOST:SANDBOX/);
  refused({ mount: ['/a:/b:rx'] }, /^--mount: mode must be ro or rw/);
  refused({ mount: ['/a:relative'] }, /^--mount: sandbox path must be absolute/);
  refused({ mount: ['/a:/x/../etc'] }, /^--mount: sandbox path may not contain/);
  refused({ mount: ['/a:/proc/x'] }, /managed by the runtime/);
  refused({ workdir: 'tmp' }, /^--workdir:/);
});

test('env overrides base env; mounts are read-only unless rw; relative host paths resolve', () => {
  const plan = parseRunOptions(raw({ env: ['A=1=2', 'HOME=/work'], mount: ['data:/data', '/out:/out:rw'] }), ['true'], config, '/home/u');
  assert.equal(plan.env['A'], '1=2');
  assert.equal(plan.env['HOME'], '/work');
  assert.deepEqual(plan.mounts, [
    { hostPath: '/home/u/data', sandboxPath: '/data', writable: false },
    { hostPath: '/out', sandboxPath: '/out', writable: true },
  ]);
});

test('language mode runs the interpreter with code on stdin', () => {
  const plan = parseRunOptions(raw({ language: 'python', code: 'print(1)' }), [], config, '/');
  assert.deepEqual(plan.argv, ['python3', '-']);
  assert.equal(plan.code, 'print(1)');
  refused({ language: 'cobol' }, /^--language: unknown language/, []);
  refused({ language: 'python' }, /^--language: give the code/, ['x']);
  refused({ code: 'x' }, /^--code: requires --language/, []);
  refused({}, /^no command/, []);
});

test('--network takes none, restricted or full; --allow and --service need restricted', () => {
  const plan = parseRunOptions(raw({ network: 'restricted', allow: ['example.com', '*.pypi.org:443'], service: ['inference'] }), ['true'], config, '/');
  assert.deepEqual(plan.network, { mode: 'restricted', allowedHosts: ['example.com', '*.pypi.org:443'], services: ['inference'] });
  assert.equal(parseRunOptions(raw(), ['true'], config, '/').network.mode, 'none');
  assert.throws(() => parseRunOptions(raw({ network: 'open' }), ['true'], config, '/'), /--network: unknown mode "open"/);
  assert.throws(() => parseRunOptions(raw({ network: 'full', allow: ['example.com'] }), ['true'], config, '/'), /--allow: only applies to --network restricted/);
  assert.throws(() => parseRunOptions(raw({ service: ['inference'] }), ['true'], config, '/'), /--service: only applies/);
});
