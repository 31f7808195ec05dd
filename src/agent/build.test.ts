/**
 * Building and reusing the agent binary: atomic layout, checksum verification on reuse, and
 * refusals that name the `agent` control. Uses a tiny source so each build takes milliseconds.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';
import { AGENT_BINARY_NAME, agentDirOf, ensureAgent, ensureAgentBinary } from './build.ts';

const work = mkdtempSync('/tmp/airlock-agent-build-');
const source = `${work}/tiny.c`;
writeFileSync(source, 'int main(void) { return 0; }\n');
const isAgentControl = (pattern: RegExp) => (e: unknown) => e instanceof ControlError && e.control === 'agent' && pattern.test(e.message);
let seq = 0;
const freshState = () => `${work}/state-${seq++}`;

after(() => rmSync(work, { recursive: true, force: true }));

describe('ensureAgent', { skip: findExecutable('gcc') === undefined ? 'gcc is not installed' : false }, () => {
  it('builds once into <stateDir>/agent/<key>/, alone in a 0755 directory, and reuses it', async () => {
    const stateDir = freshState();
    const first = await ensureAgent({ stateDir }, source);
    assert.equal(first.path, `${first.dir}/${AGENT_BINARY_NAME}`);
    assert.equal(agentDirOf(first.path), first.dir);
    assert.match(first.dir, new RegExp(`^${stateDir}/agent/[0-9a-f]{64}$`));
    assert.deepEqual(readdirSync(first.dir), [AGENT_BINARY_NAME]);
    assert.equal(lstatSync(first.dir).mode & 0o7777, 0o755);
    assert.equal(lstatSync(first.path).mode & 0o7777, 0o755);
    const inode = lstatSync(first.path).ino;
    const again = await ensureAgent({ stateDir }, source);
    assert.deepEqual(again, first);
    assert.equal(lstatSync(again.path).ino, inode);
    assert.deepEqual(readdirSync(`${stateDir}/agent`).sort(), [first.dir.split('/').pop(), `${first.dir.split('/').pop()}.sha256`].sort());
  });

  it('concurrent first builds agree on one binary', async () => {
    const stateDir = freshState();
    const results = await Promise.all([1, 2, 3].map(() => ensureAgentBinary({ stateDir })));
    assert.equal(new Set(results).size, 1);
  });

  it('refuses a binary changed since it was built', async () => {
    const stateDir = freshState();
    const built = await ensureAgent({ stateDir }, source);
    appendFileSync(built.path, 'tampered');
    await assert.rejects(ensureAgent({ stateDir }, source), isAgentControl(/SHA-256 .* was recorded at build/));
  });

  it('with stamps, an unchanged binary is not re-hashed, but a changed or replaced one is refused', async () => {
    const stateDir = freshState();
    const stamps = new Map<string, string>();
    const built = await ensureAgent({ stateDir }, source, stamps);
    assert.ok(stamps.has(built.path), 'the verified binary is remembered');
    assert.deepEqual(await ensureAgent({ stateDir }, source, stamps), built);
    // Replaced by a same-size file with other bytes: a new inode.
    const bytes = readFileSync(built.path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(`${work}/swap`, bytes, { mode: 0o755 });
    renameSync(`${work}/swap`, built.path);
    await assert.rejects(ensureAgent({ stateDir }, source, stamps), isAgentControl(/SHA-256 .* was recorded at build/));
    // Changed in place: a new size.
    const other = await ensureAgent({ stateDir: freshState() }, source, stamps);
    appendFileSync(other.path, 'tampered');
    await assert.rejects(ensureAgent({ stateDir: other.dir.split('/agent/')[0] ?? '' }, source, stamps), isAgentControl(/SHA-256 .* was recorded at build/));
  });

  it('with stamps, a changed source still gets a build of its own', async () => {
    const stateDir = freshState();
    const stamps = new Map<string, string>();
    const changing = `${work}/changing.c`;
    writeFileSync(changing, 'int main(void) { return 0; }\n');
    const first = await ensureAgent({ stateDir }, changing, stamps);
    assert.deepEqual(await ensureAgent({ stateDir }, changing, stamps), first);
    appendFileSync(changing, '/* changed */\n');
    const second = await ensureAgent({ stateDir }, changing, stamps);
    assert.notEqual(second.dir, first.dir, 'a new key for the new source');
  });

  it('refuses a build without its recorded checksum, or with company in its directory', async () => {
    const stateDir = freshState();
    const built = await ensureAgent({ stateDir }, source);
    writeFileSync(`${built.dir}/extra`, '');
    await assert.rejects(ensureAgent({ stateDir }, source), isAgentControl(/not only airlock-agent/));
    rmSync(`${built.dir}/extra`);
    rmSync(`${built.dir}.sha256`);
    await assert.rejects(ensureAgent({ stateDir }, source), isAgentControl(/no checksum recorded/));
  });

  it('refuses a group- or world-writable agent directory', async () => {
    const stateDir = freshState();
    const built = await ensureAgent({ stateDir }, source);
    chmodSync(built.dir, 0o775);
    await assert.rejects(ensureAgent({ stateDir }, source), isAgentControl(/refusing to use it/));
    chmodSync(`${stateDir}/agent`, 0o777);
    await assert.rejects(ensureAgent({ stateDir }, source), isAgentControl(/refusing to use it/));
  });

  it('reports a compile failure with what gcc said, and leaves nothing behind', async () => {
    const stateDir = freshState();
    const broken = `${work}/broken.c`;
    writeFileSync(broken, 'int main(void) { return undefined_thing; }\n');
    await assert.rejects(ensureAgent({ stateDir }, broken), isAgentControl(/undefined_thing/));
    assert.deepEqual(readdirSync(`${stateDir}/agent`), []);
  });
});
