/**
 * A real `airlock serve` for a test, on an isolated configuration (isolated-config.ts) with a
 * unix socket of its own in the state directory: callers on it are identified by their uid, as
 * local users are. Started with the CLI, stopped with SIGTERM; the isolated state is removed after.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../../src/config/config.ts';
import { stretched } from '../security/lib/emulation.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';

/** The server's configuration and socket, and how to start and stop it. */
export interface SocketServer {
  readonly config: AirlockConfig;
  readonly configFile: string;
  readonly socket: string;
  start(): Promise<void>;
  /** Stops the server (if started) and removes the isolated state; returns what could not be removed. */
  stop(): Promise<string[]>;
}

/** An isolated configuration (default: the tests' own) with its own socket; nothing runs until `start()`. */
export function socketServer(base: AirlockConfig = isolatedConfig()): SocketServer {
  const socket = join(base.stateDir, 'api.sock');
  const config = { ...base, service: { ...base.service, socket: { ...base.service.socket, path: socket } } };
  const configFile = writeConfigFile(config);
  let child: ChildProcess | undefined;
  return {
    config,
    configFile,
    socket,
    async start() {
      child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      for (let i = 0; i < stretched(400) && !log.includes('"address"') && child.exitCode === null; i++) await sleep(50);
      assert.ok(log.includes('"address"'), `airlock serve did not start:\n${log}`);
    },
    async stop() {
      if (child !== undefined && child.exitCode === null) {
        const closed = new Promise((resolve) => child?.once('close', resolve));
        child.kill('SIGTERM');
        await closed;
      }
      return removeIsolatedState(base);
    },
  };
}
