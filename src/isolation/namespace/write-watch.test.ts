import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { it } from 'node:test';
import type { PathProbe } from '../driver.ts';
import { parseProbeLine, readProbes, watchWritesArg } from './write-watch.ts';

it('parses a finding line; escaped bytes come back', () => {
  assert.deepEqual(parseProbeLine('p kernel_tunable_write 12 openat /proc/sys/kernel/core_pattern'), { pattern: 'kernel_tunable_write', pid: 12, syscall: 'openat', path: '/proc/sys/kernel/core_pattern' });
  assert.equal(parseProbeLine('p sysfs_write 3 open /sys/a\\x20b\\x0a\\x5c')?.path, '/sys/a b\n\\');
  assert.equal(parseProbeLine('p device_write 3 open /dev/caf\\xc3\\xa9')?.path, '/dev/café');
});

it('refuses lines that do not follow the format', () => {
  for (const line of ['', 'p', 'p x 1 open', 'p X 1 open /a', 'p x -1 open /a', 'p x 1 open /a b', 'q x 1 open /a', 'p x 1 open /a\r']) assert.equal(parseProbeLine(line), undefined, JSON.stringify(line));
});

it('reads lines split across chunks, drops malformed ones', async () => {
  const stream = new PassThrough();
  const seen: PathProbe[] = [];
  readProbes(stream, (p) => seen.push(p));
  stream.write('p boot_write 1 open /bo');
  stream.write('ot/x\ngarbage\np runtime_socket_probe 2 connect /run/docker.sock\n');
  stream.end('p proc_sys_write 3 openat /proc/sys/vm/x\n');
  await new Promise((r) => stream.on('end', r));
  assert.deepEqual(seen.map((p) => p.path), ['/boot/x', '/run/docker.sock', '/proc/sys/vm/x']);
});

it('the agent argument marks an agent command', () => {
  assert.equal(watchWritesArg(9, false), '9');
  assert.equal(watchWritesArg(9, true), '9:agent');
});

it('a watcher that cannot start is a set-up failure naming it: the command never ran', async () => {
  const { exitOf } = await import('./sandbox.ts');
  const exit = exitOf(126, null, 'airlock-agent: watch-writes: cannot load the watching filter: Invalid argument\n');
  assert.equal(exit.setupError, 'write watcher: cannot load the watching filter: Invalid argument');
});
