import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { publishArtefact } from './artefacts.ts';
import { snapshotPath, snapshotPlan, type GuestShape } from './snapshot.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'airlock-snapshot-test-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** A shape of its own per memory size (any existing binary stands in for QEMU: only its identity counts). */
const shape = (mb: number): GuestShape => ({ qemu: process.execPath, args: ['-m', String(mb)], files: { kernel: 'k', initrd: 'i', root: 'r' } });
const none = new Set<string>();

async function captured(mb: number, usedSecondsAgo: number): Promise<string> {
  const path = snapshotPath(stateDir, shape(mb));
  await publishArtefact(path, 'microvm.snapshot', async (tmp) => writeFileSync(tmp, `guest of ${mb}`));
  const when = new Date(Date.now() - usedSecondsAgo * 1000);
  utimesSync(`${path}.sha256`, when, when);
  return path;
}

describe('microvm snapshots (plan, capture claim, eviction)', () => {
  it('no snapshot: one capture at a time on the host, claimed by a lock; a lock of a process that is gone, or too old, is taken over with what it left', async () => {
    const first = await snapshotPlan(stateDir, shape(64), { keep: 8, uncapturable: none }, new Map());
    assert.equal(first?.kind, 'capture');
    const lock = `${first?.path}.capturing`;
    assert.equal(existsSync(lock), true);
    assert.equal(await snapshotPlan(stateDir, shape(64), { keep: 8, uncapturable: none }, new Map()), undefined, 'a second start boots plainly while the first captures');
    if (first?.kind === 'capture') first.release();
    assert.equal(existsSync(lock), false);
    // The pid of a process that has exited.
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(lock, String(gone));
    // And what a controller that died capturing left half-written goes with it.
    const unfinished = `${first?.path}.0123456789ab.tmp`;
    writeFileSync(unfinished, 'half');
    writeFileSync(`${unfinished}.sha256`, 'half');
    const taken = await snapshotPlan(stateDir, shape(64), { keep: 8, uncapturable: none }, new Map());
    assert.equal(taken?.kind, 'capture');
    assert.equal(existsSync(unfinished), false);
    assert.equal(existsSync(`${unfinished}.sha256`), false);
    if (taken?.kind === 'capture') taken.release();
    // A claim older than any capture is stale even when its pid is alive (pids are reused).
    writeFileSync(lock, String(process.pid));
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(lock, old, old);
    const again = await snapshotPlan(stateDir, shape(64), { keep: 8, uncapturable: none }, new Map());
    assert.equal(again?.kind, 'capture');
    if (again?.kind === 'capture') again.release();
    assert.equal(await snapshotPlan(stateDir, shape(64), { keep: 8, uncapturable: new Set([snapshotPath(stateDir, shape(64))]) }, new Map()), undefined, 'a shape whose capture failed is not tried again');
  });

  it('a snapshot kept is restored (verified first); capturing a new shape evicts the least recently used beyond the limit', async () => {
    const oldest = await captured(100, 300);
    const middle = await captured(101, 200);
    const newest = await captured(102, 100);
    assert.deepEqual(await snapshotPlan(stateDir, shape(101), { keep: 3, uncapturable: none }, new Map()), { kind: 'restore', path: middle });
    // The restore just marked `middle` as used: capturing a fourth shape with room for three removes `oldest` alone.
    const plan = await snapshotPlan(stateDir, shape(103), { keep: 3, uncapturable: none }, new Map());
    assert.equal(plan?.kind, 'capture');
    if (plan?.kind === 'capture') plan.release();
    const left = readdirSync(`${stateDir}/microvm/snapshot`).filter((n) => n.endsWith('.vmstate')).map((n) => `${stateDir}/microvm/snapshot/${n}`).sort();
    assert.deepEqual(left, [middle, newest].sort());
    assert.equal(existsSync(`${oldest}.sha256`), false, 'its checksum went with it');
    writeFileSync(newest, 'changed');
    await assert.rejects(snapshotPlan(stateDir, shape(102), { keep: 3, uncapturable: none }, new Map()), /^ControlError: microvm\.snapshot: .* has SHA-256 [0-9a-f]{64}, but [0-9a-f]{64} was recorded/);
  });
});
