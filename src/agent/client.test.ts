/**
 * The client against a scripted agent (two in-memory pipes): channel bookkeeping, stdin flow
 * control, error mapping and failure handling, without building or running the real agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { AgentClient } from './client.ts';
import { AgentClosedError, AgentError, AgentFileError, AgentProtocolError } from './errors.ts';
import { STDIN_WINDOW } from './exec-handle.ts';
import { encodeFrame, Ev, FrameDecoder, REQUEST_TYPES, Req, type Frame } from './protocol.ts';

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
  return b;
}

/** A client wired to a fake agent that records requests and sends whatever the test says. */
function harness() {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const decoder = new FrameDecoder(REQUEST_TYPES);
  const requests: Frame[] = [];
  const waiters: (() => void)[] = [];
  toAgent.on('data', (chunk: Buffer) => {
    requests.push(...decoder.push(chunk));
    for (const w of waiters.splice(0)) w();
  });
  const client = new AgentClient({ stdin: toAgent, stdout: fromAgent });
  const send = (type: number, channel: number, payload?: Buffer) => fromAgent.write(encodeFrame(type, channel, payload));
  const request = async (type: number): Promise<Frame> => {
    for (;;) {
      const found = requests.find((f) => f.type === type);
      if (found !== undefined) {
        requests.splice(requests.indexOf(found), 1);
        return found;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { client, send, request, requests, fromAgent };
}

test('ready resolves on READY and refuses another protocol version', async () => {
  const h = harness();
  h.send(Ev.ready, 0, u32s(1, 42, 1 << 20));
  assert.deepEqual(await h.client.ready(), { version: 1, pid: 42, maxPayload: 1 << 20 });
  const other = harness();
  other.send(Ev.ready, 0, u32s(2, 42, 1 << 20));
  await assert.rejects(other.client.ready(), AgentProtocolError);
  assert.ok((await other.client.closed) instanceof AgentProtocolError);
});

test('exec: started, output, exit; kill sends SIGNAL on the channel', async () => {
  const h = harness();
  const out: string[] = [];
  const handle = h.client.exec({ argv: ['cat'], env: {}, cwd: '/', onStdout: (c) => out.push(c.toString()) });
  const exec = await h.request(Req.exec);
  h.send(Ev.started, exec.channel, u32s(77));
  assert.equal(await handle.pid, 77);
  h.send(Ev.stdout, exec.channel, Buffer.from('hi'));
  handle.kill('SIGTERM');
  const signal = await h.request(Req.signal);
  assert.equal(signal.channel, exec.channel);
  assert.equal(signal.payload.readUInt32LE(0), 15);
  h.send(Ev.exit, exec.channel, u32s(0, 15));
  assert.deepEqual(await handle.exit, { code: null, signal: 'SIGTERM', timedOut: false });
  assert.deepEqual(out, ['hi']);
  // Frames for a finished channel are ignored.
  h.send(Ev.stdout, exec.channel, Buffer.from('late'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(out, ['hi']);
});

test('exec refused by the agent rejects pid and exit with the errno name', async () => {
  const h = harness();
  const handle = h.client.exec({ argv: ['x'], env: {}, cwd: '/' });
  const exec = await h.request(Req.exec);
  h.send(Ev.error, exec.channel, Buffer.concat([u32s(11), Buffer.from('too many running commands')]));
  await assert.rejects(handle.exit, (e: unknown) => e instanceof AgentError && e.code === 'EAGAIN');
  await assert.rejects(handle.pid, AgentError);
});

test('stdin never has more than the window unacknowledged', async () => {
  const h = harness();
  const handle = h.client.exec({ argv: ['cat'], env: {}, cwd: '/', stdin: true });
  const exec = await h.request(Req.exec);
  let written = false;
  const write = handle.writeStdin(Buffer.alloc(STDIN_WINDOW + 100_000)).then(() => (written = true));
  let sent = 0;
  while (sent < STDIN_WINDOW) sent += (await h.request(Req.stdin)).payload.length;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sent, STDIN_WINDOW);
  assert.equal(written, false);
  h.send(Ev.stdinAck, exec.channel, u32s(STDIN_WINDOW));
  while (sent < STDIN_WINDOW + 100_000) sent += (await h.request(Req.stdin)).payload.length;
  await write;
  await handle.closeStdin();
  assert.equal((await h.request(Req.stdinEof)).channel, exec.channel);
  await assert.rejects(handle.writeStdin('x'), (e: unknown) => e instanceof AgentError && e.code === 'EPIPE');
});

test('timeout kills the group and says so', async () => {
  const h = harness();
  const handle = h.client.exec({ argv: ['sleep', '9'], env: {}, cwd: '/', timeoutMs: 10 });
  const exec = await h.request(Req.exec);
  const signal = await h.request(Req.signal);
  assert.equal(signal.payload.readUInt32LE(0), 9);
  h.send(Ev.exit, exec.channel, u32s(0, 9));
  assert.deepEqual(await handle.exit, { code: null, signal: 'SIGKILL', timedOut: true });
});

test('file errors carry the errno name and the path; readFile refuses past maxBytes', async () => {
  const h = harness();
  const read = h.client.readFile('/tmp/loop', 10);
  const req = await h.request(Req.readFile);
  h.send(Ev.error, req.channel, Buffer.concat([u32s(40), Buffer.from('/tmp/loop: Too many levels of symbolic links')]));
  await assert.rejects(read, (e: unknown) => e instanceof AgentFileError && e.code === 'ELOOP' && e.path === '/tmp/loop');
  const big = h.client.readFile('/tmp/big', 4);
  const req2 = await h.request(Req.readFile);
  assert.equal(req2.payload.readBigUInt64LE(0), 4n);
  h.send(Ev.data, req2.channel, Buffer.from('12345'));
  await assert.rejects(big, (e: unknown) => e instanceof AgentFileError && e.code === 'EFBIG');
});

test('list and stat decode entries', async () => {
  const h = harness();
  const entry = (kind: string, name: string) => {
    const b = Buffer.alloc(25);
    b.writeUInt8(kind.charCodeAt(0), 0);
    return Buffer.concat([b, Buffer.from(name)]);
  };
  const list = h.client.list('/tmp');
  const req = await h.request(Req.list);
  h.send(Ev.entry, req.channel, entry('f', 'a'));
  h.send(Ev.entry, req.channel, entry('d', 'b'));
  h.send(Ev.end, req.channel);
  assert.deepEqual((await list).map((e) => [e.type, e.name]), [['file', 'a'], ['dir', 'b']]);
  const stat = h.client.stat('/tmp/a');
  const req2 = await h.request(Req.stat);
  h.send(Ev.end, req2.channel);
  await assert.rejects(stat, AgentProtocolError);
});

test('an ERROR on channel 0 or a garbage frame fails every pending operation', async () => {
  const h = harness();
  const handle = h.client.exec({ argv: ['x'], env: {}, cwd: '/' });
  const ping = h.client.ping();
  await h.request(Req.ping);
  h.fromAgent.write(Buffer.from([0x42, 0, 0, 0, 0, 0, 0, 0, 0]));
  await assert.rejects(ping, AgentProtocolError);
  await assert.rejects(handle.exit, AgentProtocolError);
  assert.throws(() => h.client.exec({ argv: ['x'], env: {}, cwd: '/' }), AgentProtocolError);
});

test('the agent going away fails pending operations with AgentClosedError', async () => {
  const h = harness();
  const write = h.client.writeFile('/tmp/f', Buffer.alloc(600_000));
  await h.request(Req.writeFile);
  h.fromAgent.end();
  await assert.rejects(write, AgentClosedError);
  assert.ok((await h.client.closed) instanceof AgentClosedError);
});
