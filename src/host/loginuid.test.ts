import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOGINUID_UNSET, readOwnLoginUid } from './loginuid.ts';

const moduleUrl = new URL('./loginuid.ts', import.meta.url).href;
const canSet = process.getuid?.() === 0 && readOwnLoginUid() !== undefined;

test('a controller started from a login session clears its audit login uid, and its children inherit that', { skip: canSet ? false : 'needs root and kernel audit support (/proc/self/loginuid)' }, () => {
  // A shell sets a session's loginuid as pam_loginuid would, then becomes the controller (exec).
  const script = `import { clearOwnLoginUid } from ${JSON.stringify(moduleUrl)};
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const before = readFileSync('/proc/self/loginuid', 'utf8');
clearOwnLoginUid();
const after = readFileSync('/proc/self/loginuid', 'utf8');
const child = execFileSync('cat', ['/proc/self/loginuid'], { encoding: 'utf8' });
console.log(JSON.stringify({ before, after, child }));`;
  const out = execFileSync('sh', ['-c', `echo 1000 > /proc/self/loginuid && exec "${process.execPath}" --input-type=module -e "$1"`, 'sh', script], { encoding: 'utf8' });
  const seen = JSON.parse(out) as { before: string; after: string; child: string };
  assert.equal(seen.before.trim(), '1000');
  assert.equal(seen.after.trim(), String(LOGINUID_UNSET));
  assert.equal(seen.child.trim(), String(LOGINUID_UNSET));
});

test('an unreadable loginuid file means no audit support: nothing to clear', () => {
  assert.equal(readOwnLoginUid(fileURLToPath(new URL('./no-such-loginuid', import.meta.url))), undefined);
});
