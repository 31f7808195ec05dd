/**
 * The SDK as a package: `npm pack` in sdk/ builds it (prepack runs tsc), and the tarball installs
 * offline into an empty folder (it has no dependencies) where `import { Sandbox } from
 * '@airlock-sandbox/sdk'` works, in JavaScript and, with its type declarations, in TypeScript.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const SDK_DIR = import.meta.dirname;
const ROOT = join(SDK_DIR, '..');
const NAME = '@airlock-sandbox/sdk';

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

describe('the SDK package', () => {
  let work: string;
  let app: string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'airlock-sdk-pack-'));
    run('npm', ['pack', '--pack-destination', work], SDK_DIR);
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('has no dependencies and publishes only the build and the README', () => {
    const manifest = JSON.parse(readFileSync(join(SDK_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(manifest['name'], NAME);
    assert.equal(manifest['dependencies'], undefined);
    const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
    assert.equal(tarballs.length, 1);
    const listing = run('tar', ['-tzf', join(work, tarballs[0] as string)], work).trim().split('\n');
    assert.ok(listing.includes('package/dist/index.js') && listing.includes('package/dist/index.d.ts') && listing.includes('package/dist/node.js'), listing.join('\n'));
    assert.deepEqual(listing.filter((f) => !f.startsWith('package/dist/') && !['package/package.json', 'package/README.md'].includes(f)), []);
    assert.deepEqual(listing.filter((f) => f.endsWith('.test.js') || f.includes('/testing/')), []);
  });

  it('installs offline into an empty folder and imports', () => {
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz')) as string;
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tarball)], app);
    const script = [
      `import { Sandbox, AirlockClient, RateLimitError } from '${NAME}';`,
      `import { loadSigningKey, unixSocketConnection } from '${NAME}/node';`,
      `console.log(JSON.stringify([typeof Sandbox.create, typeof Sandbox.connect, typeof AirlockClient, typeof RateLimitError, typeof loadSigningKey, typeof unixSocketConnection]));`,
    ].join('\n');
    writeFileSync(join(app, 'main.js'), script);
    assert.equal(run(process.execPath, ['main.js'], app).trim(), JSON.stringify(Array(6).fill('function')));
  });

  it('its type declarations serve a TypeScript consumer', () => {
    writeFileSync(
      join(app, 'use.ts'),
      [
        `import { Sandbox, type CommandResult } from '${NAME}';`,
        `export async function demo(): Promise<string> {`,
        `  const sandbox: Sandbox = await Sandbox.create('default', { timeoutMs: 60_000, envs: { A: '1' } });`,
        `  const result: CommandResult = await sandbox.commands.run('echo hi', { envs: { B: '2' } });`,
        `  return result.stdout + sandbox.sandboxId;`,
        `}`,
        `// @ts-expect-error: not an option`,
        `void Sandbox.create({ timeoutMS: 1 });`,
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'es2024', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] }, files: ['use.ts'] }),
    );
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  });
});
