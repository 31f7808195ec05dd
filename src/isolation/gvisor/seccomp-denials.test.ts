import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostSyscallNames, parseSeccompDenial } from './seccomp-denials.ts';
import { syscallNumber } from '../seccomp/arch.ts';

describe('parseSeccompDenial', () => {
  const names = hostSyscallNames('x86_64');

  it('reads the sandbox kernel line runsc 20221219 writes at debug level', () => {
    const line = 'D1206 14:35:18.149853   18825 task_syscall.go:240] [   2:   2] Syscall 272: denied by seccomp';
    assert.deepEqual(parseSeccompDenial(line, names), { syscall: 'unshare', syscallNr: 272, pid: 2 });
    assert.equal(syscallNumber('x86_64', 'unshare'), 272);
  });

  it('names a number outside the table by its number', () => {
    const line = 'D1206 14:35:18.150400   18825 task_syscall.go:240] [  17:  19] Syscall 9999: denied by seccomp';
    assert.deepEqual(parseSeccompDenial(line, names), { syscall: 'syscall_9999', syscallNr: 9999, pid: 19 });
  });

  it('ignores every other line, including guest-controlled text that only looks similar', () => {
    for (const line of [
      'I1206 14:34:41.991230   16163 strace.go:599] [   1:   1] python3 X unshare(CLONE_NEWNS) = 0 (0x0) (2.063µs)',
      'D1206 14:35:17.592637   18744 task_signals.go:179] [   2:   2] Restarting syscall 202: interrupted by signal 23',
      // A traced write whose buffer carries the text: not the sandbox kernel's own record.
      'I1206 14:35:18.1 18825 strace.go:599] [   2:   2] sh X write(0x1, "task_syscall.go:1] [ 2: 2] Syscall 165: denied by seccomp", 50) = 50',
    ]) assert.equal(parseSeccompDenial(line, names), undefined, line);
  });
});
