import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withOwnerWrites } from './owner-writes.ts';

describe('withOwnerWrites', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-owner-writes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const root = process.getuid?.() === 0;

  it('marks writable grants of directories the caller owns, nothing else', { skip: root ? false : 'needs root (chown)' }, () => {
    mkdirSync(join(dir, 'mine'));
    mkdirSync(join(dir, 'theirs'));
    chownSync(join(dir, 'theirs'), 4242, 4243);
    writeFileSync(join(dir, 'file'), 'x');
    symlinkSync(join(dir, 'mine'), join(dir, 'link'));
    const m = (name: string, writable = true) => ({ hostPath: join(dir, name), sandboxPath: `/${name}`, writable });
    const out = withOwnerWrites([m('mine'), m('mine', false), m('theirs'), m('file'), m('link'), m('absent')], 0);
    assert.deepEqual(out.map((g) => g.writeAs), [{ uid: 0, gid: 0 }, undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(withOwnerWrites([m('theirs')], 4242)[0]?.writeAs, { uid: 4242, gid: 4243 });
    // A caller without a host uid (over TCP) writes as no one.
    assert.equal(withOwnerWrites([m('mine')], undefined)[0]?.writeAs, undefined);
  });
});
