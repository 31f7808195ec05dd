import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEV_WRITABLE, globsExcept, PROC_WRITABLE, renderBwrapUsernsProfile, renderSandboxProfile, SANDBOX_PROFILE } from './profile.ts';

/**
 * AppArmor's glob syntax as a RegExp (`**` crosses `/`, `*` and `?` don't, `[…]` and `{a,b}` as in
 * apparmor.d(5)): enough to check which paths the rendered rules name.
 */
function globRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      out += glob.slice(i, end + 1);
      i = end;
    } else if (c === '{') out += '(?:';
    else if (c === ',') out += '|';
    else if (c === '}') out += ')';
    else out += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function denied(globs: string[], path: string): boolean {
  return globs.some((g) => globRegExp(g).test(path));
}

test('the /dev complement refuses every entry but the sandbox devices (and what lies below pts and shm)', () => {
  const globs = globsExcept('/dev', DEV_WRITABLE);
  for (const ok of ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/pts/0', '/dev/pts/ptmx', '/dev/shm/x', '/dev/shm/a/b']) {
    assert.equal(denied(globs, ok), false, `${ok} must stay writable`);
  }
  for (const no of ['/dev/sda', '/dev/mem', '/dev/kmsg', '/dev/tty0', '/dev/ttyS0', '/dev/nul', '/dev/nulls', '/dev/n', '/dev/ptsx', '/dev/s', '/dev/sh', '/dev/shmx', '/dev/urandom2', '/dev/fuse', '/dev/net/tun', '/dev/console', '/dev/loop0', '/dev/zer', '/dev/z/x']) {
    assert.equal(denied(globs, no), true, `${no} must be refused`);
  }
});

test('the /proc complement keeps only pid directories, self and thread-self writable', () => {
  const globs = globsExcept('/proc', PROC_WRITABLE, { digits: true });
  for (const ok of ['/proc/1/comm', '/proc/4242/task/4243/comm', '/proc/self/oom_score_adj', '/proc/thread-self/comm']) {
    assert.equal(denied(globs, ok), false, `${ok} must stay writable`);
  }
  for (const no of ['/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/proc/sys/vm/drop_caches', '/proc/irq/1/smp_affinity', '/proc/s', '/proc/selfx', '/proc/thread', '/proc/timer_list', '/proc/kcore', '/proc/bus/pci/00', '/proc/fs/nfsd/threads']) {
    assert.equal(denied(globs, no), true, `${no} must be refused`);
  }
});

test('globsExcept refuses names it cannot spell as a glob', () => {
  assert.throws(() => globsExcept('/dev', ['a*b']), /not a plain entry name/);
  assert.throws(() => globsExcept('/dev', ['{x,y}']), /not a plain entry name/);
});

test('the sandbox profile denies mounts, ptrace, raw and packet sockets, kernel and module paths', () => {
  const text = renderSandboxProfile();
  assert.match(text, new RegExp(`^profile ${SANDBOX_PROFILE} flags=\\(attach_disconnected\\) \\{$`, 'm'));
  assert.match(text, /^abi <abi\/3\.0>,$/m);
  for (const rule of ['audit deny mount,', 'audit deny umount,', 'audit deny remount,', 'audit deny pivot_root,', 'audit deny ptrace (trace, tracedby),', 'audit deny network inet raw,', 'audit deny network inet6 raw,', 'audit deny network packet,', 'deny capability,', 'audit deny /sys/** wl,', 'audit deny /boot/** wl,', 'audit deny /{,usr/}lib/modules/** wl,']) {
    assert.ok(text.split('\n').some((line) => line.trim() === rule), `missing rule: ${rule}`);
  }
  // /proc/sys is refused through the /proc complement.
  const procDenies = [...text.matchAll(/^ {2}audit deny (\/proc\/\S+) wl,$/gm)].map((m) => m[1] as string);
  assert.ok(denied(procDenies, '/proc/sys/kernel/modprobe'));
  assert.ok(!denied(procDenies, '/proc/self/comm'));
  // Every rule line ends with a comma, and braces balance (what apparmor_parser checks first).
  const body = text.split('\n').filter((l) => l.startsWith('  ') && !l.trim().startsWith('#'));
  assert.ok(body.every((l) => l.trim() === '' || l.endsWith(',')), 'every rule ends with a comma');
  assert.equal(text.split('{').length - text.split('}').length, 0);
});

test('the userns grant attaches to the exact bubblewrap path and grants nothing but userns', () => {
  const text = renderBwrapUsernsProfile('/usr/bin/bwrap');
  assert.match(text, /^abi <abi\/4\.0>,$/m);
  assert.match(text, /^profile airlock-bwrap \/usr\/bin\/bwrap flags=\(unconfined\) \{\n {2}userns,\n\}$/m);
  assert.throws(() => renderBwrapUsernsProfile('bwrap'), /absolute path/);
  assert.throws(() => renderBwrapUsernsProfile('/usr/bin/bwrap {'), /absolute path/);
  assert.throws(() => renderBwrapUsernsProfile('/usr/../tmp/bwrap'), /absolute path/);
});
