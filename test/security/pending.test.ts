/**
 * Cases of SECURITY-TESTS.md whose controls are not built yet: registered as todo with the reason,
 * so they are reported, never counted as passed.
 */
import { describe, test } from 'node:test';
import { RUNTIMES } from './lib/runtime.ts';

for (const runtime of RUNTIMES) {
  describe(`${runtime}: pending cases`, () => {
    // T18's secret files, redaction and teardown are tested in secrets.test.ts; its brokered half is not built yet.
    test('T18 a brokered credential never exists inside the sandbox, and its placeholder is refused off its bound hosts', {
      todo: 'pending: brokered credentials (issue 12, after secret files)',
    });
  });
}
