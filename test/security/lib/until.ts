/** Waiting in tests for something the system does on its own time (a violation reported, a sandbox ended). */
import assert from 'node:assert/strict';

/** Resolves once `check()` holds; fails the test naming `what` when it still doesn't after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Python for inside a sandbox: GETs each URL given as an argument through the sandbox's proxy and
 * prints one line per URL, its status (or `error NAME`). `NO_PROXY` is dropped so every request
 * meets the proxy's judgement.
 */
export const PYTHON_FETCH = `
import os, sys, urllib.request
for k in ('no_proxy', 'NO_PROXY'): os.environ.pop(k, None)
for url in sys.argv[1:]:
    try:
        r = urllib.request.urlopen(url, timeout=10); print(r.status)
    except urllib.error.HTTPError as e:
        print(e.code)
    except Exception as e:
        print('error', type(e).__name__)
`;
