import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import { ControllerListeners } from '../network/listeners.ts';
import { createLogger } from '../observability/logger.ts';
import { AirlockMetrics } from '../observability/metrics.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { parsePort, registerServe, startServer, unlistedHostWarning } from './serve.ts';
import { UsageError } from './usage-error.ts';
import { createLoopbackAccess } from '../admission/loopback-access.ts';

const FIXTURE = fileURLToPath(new URL('../../test/api/fixtures/serve-fake.ts', import.meta.url));

describe('airlock serve', () => {
  it('registers serve with --host and --port defaults', () => {
    const program = new Command('airlock').option('--config <file>');
    registerServe(program);
    const serve = program.commands.find((c) => c.name() === 'serve');
    assert.ok(serve);
    assert.equal(serve.getOptionValue('host'), '127.0.0.1');
    assert.equal(serve.getOptionValue('port'), '8002');
  });

  it('refuses bad ports', () => {
    assert.equal(parsePort('8002'), 8002);
    assert.equal(parsePort('0'), 0);
    for (const bad of ['-1', '65536', 'http', '80.5', '']) assert.throws(() => parsePort(bad), UsageError);
  });

  it('registers every address the API bound as a controller listener, which the egress proxies refuse', async () => {
    const config = structuredClone(DEFAULT_CONFIG) as AirlockConfig;
    // No unix socket: the default path belongs to the host's own controller (serve-transport.test.ts covers it).
    config.service.socket.path = null;
    const listeners = new ControllerListeners(config.network);
    const server = await startServer({
      access: await createLoopbackAccess(),
      service: new FakeService(), metrics: new AirlockMetrics(), logger: createLogger({ level: 'silent' }).logger, config, listeners, host: '127.0.0.1', port: 0,
    });
    try {
      const port = Number(new URL(server.address).port);
      assert.deepEqual(listeners.list().filter((l) => l.what === 'API'), [{ address: '127.0.0.1', port, what: 'API' }]);
    } finally {
      await server.close();
    }
  });

  it('answers only the Host names of service.allowedHosts (421 otherwise) on the real listener', async () => {
    const config = structuredClone(DEFAULT_CONFIG) as AirlockConfig;
    // No unix socket: the default path belongs to the host's own controller (serve-transport.test.ts covers it).
    config.service.socket.path = null;
    config.service.allowedHosts = ['airlock.internal'];
    const server = await startServer({
      access: await createLoopbackAccess(),
      service: new FakeService(), metrics: new AirlockMetrics(), logger: createLogger({ level: 'silent' }).logger, config,
      listeners: new ControllerListeners(config.network), host: '127.0.0.1', port: 0,
    });
    try {
      const port = Number(new URL(server.address).port);
      const status = (host: string) =>
        new Promise<number | undefined>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/health', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode);
          }).on('error', reject);
        });
      assert.equal(await status('airlock.internal'), 200);
      assert.equal(await status(`127.0.0.1:${port}`), 421);
      assert.equal(await status('attacker.example'), 421);
    } finally {
      await server.close();
    }
  });

  it('--host outside loopback warns how to list it; loopback and listed hosts do not', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost']) assert.equal(unlistedHostWarning(host, ['localhost']), undefined, host);
    assert.equal(unlistedHostWarning('10.0.0.5', ['localhost', '10.0.0.5']), undefined);
    assert.equal(unlistedHostWarning('fd00::1', ['[fd00::1]']), undefined);
    const warning = unlistedHostWarning('10.0.0.5', ['localhost', '127.0.0.1', '[::1]']);
    assert.match(warning ?? '', /add "10\.0\.0\.5" .*to service\.allowedHosts/);
    assert.match(warning ?? '', /421 host_not_allowed/);
    assert.match(unlistedHostWarning('0.0.0.0', ['localhost']) ?? '', /the address or DNS name clients use/);
  });

  it('SIGTERM: stops accepting, ends every sandbox and exec, exits 0', async () => {
    const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    while (!/listening (\S+)\n/.test(out)) await once(child.stdout, 'data');
    const address = /listening (\S+)\n/.exec(out)?.[1] as string;
    const id = ((await (await fetch(`${address}/api/v1/sandboxes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { sandbox_id: string }).sandbox_id;
    const exec = await fetch(`${address}/api/v1/sandboxes/${id}/exec`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":["sleep","inf"]}' });
    const reader = exec.body!.getReader();
    await reader.read();
    child.kill('SIGTERM');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    assert.match(rest, /"type":"exit".*"termination_reason":"killed"/);
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(out, /closed shutdown_calls=1 killed_execs=1/);
  });
});
