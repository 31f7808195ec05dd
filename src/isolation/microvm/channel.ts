/**
 * The host side of the guest's control channel (virtio-serial, over a socket QEMU was handed
 * already connected: no host path exists for anyone else to connect to).
 *
 * Handshake (see guest/airlock-vm-init.c): the host sends the per-boot secret (32 bytes), the
 * sandbox's settings (u32 LE scratch MiB, memory MiB, pids, open files) and its network block
 * (see {@link GuestNetwork}); the guest answers `AOK1`
 * (then the agent protocol follows, unchanged) or `DENY` (wrong secret: it powers off).
 * Why a secret on a private socket: the guest runs nothing for a peer that cannot prove it is the
 * controller that booted it, whatever reaches the port.
 *
 * After the handshake the guest init adds one frame type to the agent's events: COUNTERS (0xc0,
 * channel 0: u64 LE OOM kills, pids.max hits, memory peak bytes of the sandbox's guest cgroup, 1
 * when its scratch had no free block left),
 * sent just before each EXIT. {@link GuestCounterFilter} takes them out of the stream.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';
import { ControlError } from '../../host/control-error.ts';
import type { Limits } from '../driver.ts';

/** Bytes of the per-boot secret. */
export const SECRET_BYTES = 32;
/** The COUNTERS frame type the guest init adds. */
export const EV_COUNTERS = 0xc0;
const HEADER = 9;

/** The guest cgroup's limit counters, as last reported. */
export interface GuestCounters {
  oomKills: number;
  pidsLimitHits: number;
  memoryPeakBytes: number;
  scratchFull: boolean;
}

/** Longest resolv.conf the guest init takes. */
export const MAX_RESOLV_CONF = 4096;

/**
 * The guest's eth0 on an attached network: the slot's sandbox address, the default route's
 * gateway (full networks only) and the sandbox's resolv.conf (full networks only).
 */
export interface GuestNetwork {
  address: string;
  prefixLength: number;
  gateway: string | undefined;
  resolvConf: string | undefined;
}

/** The handshake's bytes for `secret`, the sandbox's limits and its network (none: undefined). */
export function handshakeBytes(secret: Buffer, limits: Limits, network?: GuestNetwork): Buffer {
  if (secret.length !== SECRET_BYTES) throw new Error(`the channel secret must be ${SECRET_BYTES} bytes`);
  const settings = Buffer.alloc(16);
  settings.writeUInt32LE(limits.scratchMb, 0);
  settings.writeUInt32LE(limits.memoryMb, 4);
  settings.writeUInt32LE(limits.pids, 8);
  settings.writeUInt32LE(limits.openFiles, 12);
  return Buffer.concat([secret, settings, networkBlock(network)]);
}

/** u32 LE mode | address | u32 LE prefix | gateway (0.0.0.0: none) | u32 LE resolv.conf length | its bytes. */
function networkBlock(network: GuestNetwork | undefined): Buffer {
  const block = Buffer.alloc(20);
  if (network === undefined) return block;
  const resolv = Buffer.from(network.resolvConf ?? '', 'utf8');
  if (resolv.length > MAX_RESOLV_CONF) throw new ControlError('network', `resolv.conf is ${resolv.length} bytes; the microvm guest takes at most ${MAX_RESOLV_CONF}`);
  if (!(network.prefixLength >= 1 && network.prefixLength <= 30)) throw new ControlError('network', `prefix length ${network.prefixLength} is not 1-30`);
  block.writeUInt32LE(1, 0);
  ipv4Bytes(network.address).copy(block, 4);
  block.writeUInt32LE(network.prefixLength, 8);
  ipv4Bytes(network.gateway ?? '0.0.0.0').copy(block, 12);
  block.writeUInt32LE(resolv.length, 16);
  return Buffer.concat([block, resolv]);
}

function ipv4Bytes(address: string): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new ControlError('network', `${address} is not an IPv4 address`);
  return Buffer.from(parts);
}

/**
 * Sends the handshake and waits for the guest's answer. Resolves with what arrived after it (the
 * start of the agent's stream); rejects with a ControlError naming `microvm` when the guest
 * refused the secret, closed the channel, or `failed` settled first (the VMM died, the boot timed out).
 */
export function handshake(socket: Socket, bytes: Buffer, failed: Promise<string>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const done = (err: Error | undefined, rest?: Buffer) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      if (err !== undefined) reject(err);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4) return;
      const answer = got.subarray(0, 4).toString('latin1');
      socket.pause();
      if (answer === 'AOK1') done(undefined, got.subarray(4));
      else if (answer === 'DENY') done(new ControlError('microvm', 'the guest refused the control channel secret'));
      else done(new ControlError('microvm', `the guest answered the handshake with ${JSON.stringify(answer)}`));
    };
    const onEnd = () => done(new ControlError('microvm', 'the guest closed the control channel during the handshake'));
    socket.on('data', onData);
    socket.once('end', onEnd);
    void failed.then((why) => done(new ControlError('microvm', why)));
    socket.write(bytes);
  });
}

/** Passes the agent's frames through unchanged, taking out (and reporting) the init's COUNTERS frames. */
export class GuestCounterFilter extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private readonly onCounters: (counters: GuestCounters) => void;

  constructor(onCounters: (counters: GuestCounters) => void) {
    super();
    this.onCounters = onCounters;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    const out: Buffer[] = [];
    while (this.pending.length - at >= HEADER) {
      const length = this.pending.readUInt32LE(at + 5);
      // Left to the agent client, which refuses oversized frames as a protocol error.
      if (length > 1 << 20) break;
      if (this.pending.length - at < HEADER + length) break;
      const frame = this.pending.subarray(at, at + HEADER + length);
      if (frame[0] === EV_COUNTERS && length === 32) {
        this.onCounters({
          oomKills: Number(frame.readBigUInt64LE(HEADER)),
          pidsLimitHits: Number(frame.readBigUInt64LE(HEADER + 8)),
          memoryPeakBytes: Number(frame.readBigUInt64LE(HEADER + 16)),
          scratchFull: frame.readBigUInt64LE(HEADER + 24) !== 0n,
        });
      } else {
        out.push(frame);
      }
      at += HEADER + length;
    }
    // An oversized header passes through as is: the client then fails the channel.
    const rest = this.pending.subarray(at);
    const oversized = rest.length >= HEADER && rest.readUInt32LE(5) > 1 << 20;
    if (oversized) out.push(rest);
    this.pending = oversized ? Buffer.alloc(0) : Buffer.from(rest);
    if (out.length > 0) this.push(Buffer.concat(out));
    callback();
  }
}
