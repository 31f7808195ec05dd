import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from './errors.ts';
import { checkAll, fieldError, mergeRefusals } from './problems.ts';
import { checkPath, toLimits } from './request-mapping.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';

const policy = { defaults: DEFAULT_CONFIG.defaults, maxima: DEFAULT_CONFIG.maxima, deniedHostPrefixes: [] };

describe('listing every problem', () => {
  it('fieldError names the field in the message and in details', () => {
    const err = fieldError('invalid_path', 'body.workdir', 'path must be absolute');
    assert.equal(err.status, 400);
    assert.equal(err.message, 'body.workdir: path must be absolute');
    assert.deepEqual(err.details, [{ path: 'body.workdir', message: 'path must be absolute' }]);
  });

  it('mergeRefusals: 400s together (code kept when they agree), before any other refusal', () => {
    const a = fieldError('invalid_path', 'x', 'one');
    const b = fieldError('invalid_path', 'y', 'two');
    const c = fieldError('invalid_request', 'z', 'three');
    const denied = new ApiError('filesystem_access_refused', 'filesystem_access: w: no', {}, [{ path: 'w', message: 'no' }]);
    assert.equal(mergeRefusals([a]), a);
    const same = mergeRefusals([denied, a, b]);
    assert.equal(same.code, 'invalid_path');
    assert.deepEqual(same.details?.map((d) => d.path), ['x', 'y']);
    assert.equal(same.message, 'x: one; y: two');
    const mixed = mergeRefusals([a, c]);
    assert.equal(mixed.code, 'invalid_request');
    assert.equal(mixed.status, 400);
    assert.deepEqual(mixed.details?.map((d) => d.path), ['x', 'z']);
    const refusedOnly = mergeRefusals([denied, new ApiError('filesystem_access_refused', 'filesystem_access: v: no', {}, [{ path: 'v', message: 'no' }])]);
    assert.equal(refusedOnly.status, 403);
    assert.deepEqual(refusedOnly.details?.map((d) => d.path), ['w', 'v']);
  });

  it('checkAll runs every check and lists what each refused; results by name when all pass', async () => {
    const ran: string[] = [];
    await assert.rejects(
      checkAll({
        limits: () => (ran.push('limits'), toLimits({ memory_limit_mb: 99999, cpu_limit: 64 }, 'body.', policy)),
        workdir: () => (ran.push('workdir'), checkPath('body.workdir', 'relative')),
        fine: async () => (ran.push('fine'), 1),
      }),
      (err: unknown) => err instanceof ApiError && err.code === 'invalid_request' && err.details?.map((d) => d.path).join() === 'body.memory_limit_mb,body.cpu_limit,body.workdir',
    );
    assert.deepEqual(ran, ['limits', 'workdir', 'fine']);
    assert.deepEqual(await checkAll({ limits: () => toLimits({ pids_limit: 8 }, 'body.', policy), workdir: () => checkPath('body.workdir', '/tmp/') }), { limits: { pids: 8 }, workdir: '/tmp' });
  });

  it('checkAll rethrows a fault that is not a refusal', async () => {
    await assert.rejects(checkAll({ broken: () => { throw new RangeError('bug'); } }), RangeError);
  });
});
