import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRefusedFork, RefusedForkWatch } from './refused-forks.ts';
import { findExecutable } from '../../host/which.ts';

// Lines as runsc 20221219's sandbox kernel writes them with --strace.
const REFUSED = 'I1206 07:27:53.413282   15773 strace.go:611] [   2:   2] python3 X clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11, 0x0, 0x0, 0x7f744ac27310, 0x0) = 0 (0x0) errno=11 (try again) (514.796µs)';
const CREATED = 'I1206 07:27:53.361858   15773 strace.go:611] [   2:   2] python3 X clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11, 0x0, 0x0, 0x7f744ac27310, 0x0) = 16 (0x10) (305.665µs)';
const ENTRY = 'I1206 07:27:53.316645   15773 strace.go:573] [   2:   2] python3 E clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11, 0x0, 0x0, 0x7f744ac27310, 0x0)';

test('an EAGAIN exit of the clone family is a refused fork; successes, entries and other errors are not', () => {
  assert.equal(isRefusedFork(REFUSED), true);
  assert.equal(isRefusedFork(REFUSED.replace('X clone(', 'X fork(')), true);
  assert.equal(isRefusedFork(REFUSED.replace('X clone(', 'X vfork(')), true);
  assert.equal(isRefusedFork(CREATED), false);
  assert.equal(isRefusedFork(ENTRY), false);
  assert.equal(isRefusedFork(REFUSED.replace('errno=11 (try again)', 'errno=22 (invalid argument)')), false);
  assert.equal(isRefusedFork(REFUSED.replace('X clone(', 'X read(')), false);
  // Only the sandbox kernel's strace lines count, not the same words elsewhere in the log.
  assert.equal(isRefusedFork(REFUSED.replace('strace.go:611]', 'vfs.go:761]')), false);
});

const mkfifo = findExecutable('mkfifo');

test('counts refused forks from the FIFO as written, split across writes, tells listeners, and drains at EOF', { skip: mkfifo === undefined ? 'mkfifo is not installed' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-refused-'));
  try {
    const path = join(dir, 'boot.log');
    const watch = await RefusedForkWatch.create(path, mkfifo as string);
    let told = 0;
    watch.onRefused(() => told++);
    const removed = watch.onRefused(() => assert.fail('a removed listener is not told'));
    removed();
    const writer = openSync(path, 'w');
    watch.writersAttached();
    const text = [CREATED, REFUSED, ENTRY, REFUSED, ''].join('\n');
    // Split inside a line: a line counts once it is complete.
    writeSync(writer, text.slice(0, 300));
    writeSync(writer, text.slice(300));
    closeSync(writer);
    await watch.drained(5_000);
    assert.equal(watch.count, 2);
    // Told as the lines are read: at least once, never more often than forks were refused.
    assert.ok(told >= 1 && told <= 2, String(told));
    watch.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reports a FIFO it cannot make as a pids control failure', async () => {
  await assert.rejects(RefusedForkWatch.create('/nonexistent-dir/boot.log', mkfifo ?? '/bin/false'), /^ControlError: pids: /);
});

test('reports each seccomp denial line of the same FIFO, alongside the refused forks', { skip: mkfifo === undefined ? 'mkfifo is not installed' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-refused-'));
  try {
    const path = join(dir, 'boot.log');
    const watch = await RefusedForkWatch.create(path, mkfifo as string);
    const denied: string[] = [];
    watch.onDenied((d) => denied.push(`${d.syscall}/${d.pid}`));
    const writer = openSync(path, 'w');
    watch.writersAttached();
    // As runsc 20221219 writes them at debug level (x86_64 numbers: 272 unshare, 165 mount).
    const denial = (nr: number) => `D1206 14:35:18.149853   18825 task_syscall.go:240] [   2:   2] Syscall ${nr}: denied by seccomp`;
    writeSync(writer, [denial(272), REFUSED, denial(165), CREATED, ''].join('\n'));
    closeSync(writer);
    await watch.drained(5_000);
    assert.equal(watch.denied, 2);
    assert.equal(watch.count, 1, 'the refused fork is still counted');
    if (process.arch === 'x64') assert.deepEqual(denied, ['unshare/2', 'mount/2']);
    else assert.equal(denied.length, 2);
    watch.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
