/**
 * Scheduled image re-verification (seed: "hash verifies container contents every hour"): a real
 * controller service on the test's own copy of the host's image re-hashes the images in use on
 * its timer; a file changed under the store takes the image out of service (new sandboxes are
 * refused, naming the image and the control) and is recorded as a violation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveImage } from '../../src/images/store.ts';
import { verifyImage } from '../../src/images/verify.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import type { SecurityViolation } from '../../src/sandbox/result.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';

const config = isolatedConfig({ service: { imageReverifySeconds: 1 } });
const policyBundleHash = await readBundleHash(policyDirOf(config.policy));
const reason = skipReason(config)('namespace');
const TAMPERED = 'etc/debian_version';

after(() => {
  const problems = removeIsolatedState(config);
  assert.deepEqual(problems, [], 'the test left state behind');
});

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('images in use are re-verified on a schedule', { skip: reason }, () => {
  const violations: SecurityViolation[] = [];
  let extras: string[] = [];
  const service = new SandboxService({ config, policyBundleHash, observer: { violationRecorded: (v) => violations.push(v) } });
  before(async () => {
    // The copy starts as its manifest says: entries added to the host's tree after its build (a
    // runtime's mount points) are removed from this test's copy only (its own directories).
    const image = await resolveImage(config, config.defaultImage);
    const initial = await verifyImage(config, image.digest);
    for (const d of initial.differences) {
      const added = / added$/.test(d) ? d.slice(0, -' added'.length - 1) : undefined;
      if (added !== undefined) rmSync(join(image.rootfs, added), { recursive: true });
    }
    extras = initial.differences;
    await service.start();
  });
  after(() => service.shutdown());

  test('a file changed in a used image takes it out of service and is a CRITICAL violation', async (t) => {
    const run = () => service.execute({ agentId: 'reverify', runtime: 'namespace', limits: {}, env: {}, mounts: [], command: ['true'] });
    t.diagnostic(`differences of the host's image before the test: ${JSON.stringify(extras)}`);
    const first = await run();
    assert.equal(first.termination_reason, 'completed', first.error ?? '');
    // The untouched image passes (no false alarm from the scheduled check).
    assert.deepEqual(await service.reverifyImages(), []);
    assert.equal(violations.length, 0);

    const image = await resolveImage(config, config.defaultImage);
    const file = join(image.rootfs, TAMPERED);
    assert.ok(lstatSync(file).isFile(), `${TAMPERED} is a regular file in the image`);
    const live = join('/var/lib/airlock/images/blobs', image.digest.replace(':', '/'), 'rootfs', TAMPERED);
    const liveBefore = lstatSync(live, { throwIfNoEntry: false }) === undefined ? undefined : sha(live);
    // Why unlink first: the test's store is hard-linked to the host's; a new inode leaves the live image alone.
    unlinkSync(file);
    writeFileSync(file, 'tampered\n', { mode: 0o644 });

    // The timer (1 s here) finds it: no explicit call.
    const deadline = Date.now() + 60_000;
    while (violations.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(violations.length, 1, 'one violation for the tampered image');
    const v = violations[0]!;
    assert.equal(v.violation_type, 'image_tampered');
    assert.equal(v.severity, 'CRITICAL');
    assert.equal(v.indicators['digest'], image.digest);
    assert.match(JSON.stringify(v.indicators['differences']), new RegExp(TAMPERED.replace('/', '\\/')));

    await assert.rejects(run(), (err: unknown) => {
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, 'control_failed');
      assert.match(err.message, /^image_integrity: image /);
      assert.ok(err.message.includes(image.digest), err.message);
      return true;
    });
    // Persistent sandboxes are refused the same way.
    await assert.rejects(service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [] }), /image_integrity/);
    // Further scheduled runs don't report it again.
    await service.reverifyImages();
    assert.equal(violations.length, 1);
    if (liveBefore !== undefined) assert.equal(sha(live), liveBefore, 'the host image was not touched');
  });
});
