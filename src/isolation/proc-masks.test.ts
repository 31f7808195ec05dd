import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PROC_MASKS, procMaskBinds, SANDBOX_LOADAVG } from './proc-masks.ts';
import { ControlError } from '../host/control-error.ts';

function fakeHost(): { state: string; proc: string; cleanup: () => void } {
  const root = mkdtempSync('/tmp/proc-masks-test-');
  const proc = `${root}/proc`;
  mkdirSync(`${proc}/sys/kernel/random`, { recursive: true });
  mkdirSync(`${proc}/pressure`);
  for (const name of ['cmdline', 'loadavg', 'sys/kernel/random/boot_id']) writeFileSync(`${proc}/${name}`, 'host\n');
  mkdirSync(`${root}/state`);
  return { state: `${root}/state`, proc, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('binds a replacement over each masked path this host has, shaped like the host entry', () => {
  const host = fakeHost();
  try {
    const binds = procMaskBinds(host.state, host.proc);
    assert.deepEqual(binds.map((b) => b.path).sort(), ['/proc/cmdline', '/proc/loadavg', '/proc/pressure', '/proc/sys/kernel/random/boot_id']);
    const source = (path: string) => binds.find((b) => b.path === path)?.source ?? '';
    assert.equal(readFileSync(source('/proc/cmdline'), 'utf8'), '');
    assert.equal(readFileSync(source('/proc/loadavg'), 'utf8'), SANDBOX_LOADAVG);
    assert.match(readFileSync(source('/proc/sys/kernel/random/boot_id'), 'utf8'), /^[0-9a-f-]{36}\n$/);
    assert.equal(source('/proc/pressure'), `${host.state}/proc-masks/dir`);
    // Reused as made: the same boot id on the next start.
    assert.deepEqual(procMaskBinds(host.state, host.proc), binds);
  } finally {
    host.cleanup();
  }
});

test('refuses a replacement directory that anyone else could change', () => {
  const host = fakeHost();
  try {
    procMaskBinds(host.state, host.proc);
    chmodSync(`${host.state}/proc-masks/loadavg`, 0o666);
    assert.throws(() => procMaskBinds(host.state, host.proc), (e: unknown) => e instanceof ControlError && /proc masks/.test(e.message));
  } finally {
    host.cleanup();
  }
});

test('refuses a replacement whose content changed', () => {
  const host = fakeHost();
  try {
    procMaskBinds(host.state, host.proc);
    chmodSync(`${host.state}/proc-masks/loadavg`, 0o644);
    writeFileSync(`${host.state}/proc-masks/loadavg`, '9.99 9.99 9.99 1/1 1\n');
    chmodSync(`${host.state}/proc-masks/loadavg`, 0o444);
    assert.throws(() => procMaskBinds(host.state, host.proc), /replacement content/);
  } finally {
    host.cleanup();
  }
});

test('every masked path is under /proc and listed once', () => {
  const paths = PROC_MASKS.map((m) => m.path);
  assert.ok(paths.every((p) => p.startsWith('/proc/')));
  assert.equal(new Set(paths).size, paths.length);
});
