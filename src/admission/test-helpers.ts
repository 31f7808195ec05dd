/** Helpers of the admission tests. */
import assert from 'node:assert/strict';
import { AdmissionRefusal } from './refusal.ts';

/** The AdmissionRefusal `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function refusalOf(promise: Promise<unknown>): Promise<AdmissionRefusal> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AdmissionRefusal, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}
