/** The `forensics` configuration: defaults, and out-of-range or unknown values refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DEFAULT_FORENSICS_CONFIG, forensicsSchema } from './forensics-config.ts';

test('forensics config: defaults; bad values are refused naming the field', () => {
  const schema = forensicsSchema(z);
  assert.deepEqual(schema.parse(undefined), DEFAULT_FORENSICS_CONFIG);
  assert.equal(schema.parse({ triggerSeverity: 'HIGH', after: 'resume' }).triggerSeverity, 'HIGH');
  for (const bad of [{ maxBundles: 0 }, { maxAgeDays: -1 }, { after: 'pause' }, { triggerSeverity: 'high' }, { dir: 'relative' }, { memoryDumpMb: 5000 }, { extra: 1 }]) {
    const parsed = schema.safeParse(bad);
    assert.equal(parsed.success, false, JSON.stringify(bad));
  }
});
