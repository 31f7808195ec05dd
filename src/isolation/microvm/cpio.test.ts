import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { findExecutable } from '../../host/which.ts';
import { cpioArchive } from './cpio.ts';
import { moduleDepends } from './modules.ts';
import { vmSizes } from './qemu.ts';

const busybox = findExecutable('busybox');

describe('initramfs pieces', () => {
  it('the newc archive unpacks with cpio as written (files, modes, directories)', { skip: busybox === undefined ? 'busybox (its cpio) is not installed' : false }, () => {
    const archive = cpioArchive([
      { kind: 'dir', path: 'etc', mode: 0o755 },
      { kind: 'file', path: 'etc/a.txt', mode: 0o640, data: Buffer.from('hello') },
      { kind: 'file', path: 'init', mode: 0o555, data: Buffer.from('#!/bin/sh\n') },
    ]);
    const dir = mkdtempSync(`${tmpdir()}/airlock-cpio-`);
    try {
      writeFileSync(`${dir}/a.cpio`, archive);
      execFileSync(busybox as string, ['cpio', '-i', '-d', '-F', `${dir}/a.cpio`], { cwd: dir, stdio: 'ignore' });
      assert.equal(readFileSync(`${dir}/etc/a.txt`, 'utf8'), 'hello');
      assert.equal(statSync(`${dir}/etc/a.txt`).mode & 0o777, 0o640);
      assert.equal(statSync(`${dir}/init`).mode & 0o777, 0o555);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same entries always give the same bytes; a path leaving the archive is refused', () => {
    const entries = [{ kind: 'file' as const, path: 'x', mode: 0o444, data: Buffer.from('1') }];
    assert.deepEqual(cpioArchive(entries), cpioArchive(entries));
    assert.throws(() => cpioArchive([{ kind: 'dir', path: '../x', mode: 0o755 }]), /bad entry path/);
    assert.throws(() => cpioArchive([{ kind: 'dir', path: '/x', mode: 0o755 }]), /bad entry path/);
  });

  it('reads a module\'s depends= from its modinfo strings', () => {
    assert.deepEqual(moduleDepends(Buffer.from('\0license=GPL\0depends=virtio,virtio-ring\0vermagic=6.1\0')), ['virtio', 'virtio_ring']);
    assert.deepEqual(moduleDepends(Buffer.from('\0depends=\0name=x\0')), []);
    assert.deepEqual(moduleDepends(Buffer.from('\0name=x\0')), []);
  });

  it('sizes: guest RAM is the limit plus the guest kernel; the host cgroup adds the VMM overhead', () => {
    assert.deepEqual(vmSizes(256, 0.5), { guestMb: 352, cpus: 1, hostMb: 512 });
    assert.deepEqual(vmSizes(64, 2), { guestMb: 160, cpus: 2, hostMb: 320 });
  });
});
