import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutFromMountInfo, parseMountInfo } from './detect.ts';
import { readKeyedCounter } from './sandbox-cgroup.ts';

const HYBRID = `
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid shared:16 - cgroup cgroup rw,pids
`;
const V2 = `
29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

test('parses mountinfo fields, unescaping octal', () => {
  const [m] = parseMountInfo('1 2 0:1 / /a\\040b rw - tmpfs tmpfs rw,size=1k');
  assert.equal(m?.mountPoint, '/a b');
  assert.equal(m?.fsType, 'tmpfs');
});

test('hybrid hosts use the v1 controller hierarchies (co-mounted cpu,cpuacct too)', () => {
  const layout = layoutFromMountInfo(HYBRID, () => '');
  assert.equal(layout.version, 1);
  if (layout.version !== 1) return;
  assert.equal(layout.mounts.cpu, '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(layout.mounts.cpuacct, '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(layout.mounts.memory, '/sys/fs/cgroup/memory');
});

test('pure v2 hosts use the unified hierarchy when it offers memory, cpu, pids', () => {
  const layout = layoutFromMountInfo(V2, () => 'cpuset cpu io memory hugetlb pids rdma misc\n');
  assert.equal(layout.version, 2);
});

test('a v2 hierarchy without the needed controllers fails closed, naming them', () => {
  assert.throws(() => layoutFromMountInfo(V2, () => 'cpu io\n'), /cgroups: .*memory, pids/);
});

test('reads keyed counters', () => {
  assert.equal(readKeyedCounter('low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n', 'oom_kill'), 2);
  assert.equal(readKeyedCounter('oom_kill_disable 0\nunder_oom 0\noom_kill 5', 'oom_kill'), 5);
  assert.equal(readKeyedCounter('max 0', 'missing'), 0);
});
