/**
 * The host side of the guest's control channel (virtio-serial, over a socket QEMU was handed
 * already connected: no host path exists for anyone else to connect to).
 *
 * Handshake (see guest/airlock-vm-init.c): the host sends the per-boot secret (32 bytes), its clock
 * (u64 LE nanoseconds since the epoch) and 32 bytes of fresh entropy (a guest restored from a
 * snapshot would otherwise share both with every other one), the sandbox's settings (u32 LE scratch MiB, memory MiB, pids, open files), its network block
 * (see {@link GuestNetwork}), the trust bundle, the secrets and the grants (see {@link GuestFiles}); the guest answers `AOK1`
 * (then the agent protocol follows, unchanged) or `DENY` (wrong secret: it powers off).
 * Why a secret on a private socket: the guest runs nothing for a peer that cannot prove it is the
 * controller that booted it, whatever reaches the port.
 *
 * After the handshake the guest init adds two frame types to the agent's events: COUNTERS (0xc0,
 * channel 0: u64 LE OOM kills, pids.max hits, memory peak bytes of the sandbox's guest cgroup, 1
 * when its scratch had no free block left, 1 once a process was seen at its RLIMIT_NOFILE), sent
 * just before each EXIT and whenever a limit counter moves, and, where asked for,
 * DENIAL (0xc1, channel 0: u32 LE syscall number and pid of a call the guest's filter refused),
 * all of them read before each EXIT. {@link GuestCounterFilter} takes them out of the stream.
 */
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';
import { ControlError } from '../../host/control-error.ts';
import type { Limits, SecretFile } from '../driver.ts';
import { checkSecretFiles, secretBytes } from '../secret-files.ts';
import { TRUST_STORE_CONTROL } from '../trust-store.ts';

/** Bytes of the per-boot secret. */
export const SECRET_BYTES = 32;
/** Bytes of entropy the guest mixes in before anything runs. */
export const ENTROPY_BYTES = 32;
/** The COUNTERS frame type the guest init adds. */
export const EV_COUNTERS = 0xc0;
/** The DENIAL frame type the guest init adds (u32 LE syscall number, u32 LE pid). */
export const EV_DENIAL = 0xc1;
const HEADER = 9;

/** The guest cgroup's limit counters, as last reported. */
export interface GuestCounters {
  oomKills: number;
  pidsLimitHits: number;
  memoryPeakBytes: number;
  scratchFull: boolean;
  /** A process was seen holding its RLIMIT_NOFILE of descriptors (sampled in the guest). */
  openFilesLimitHit: boolean;
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

/** Longest trust bundle the guest init takes (an image's bundle is read up to 4 MiB, plus anchors). */
export const MAX_TRUST_BUNDLE = 8 * 1024 * 1024;
/** Most secrets, and longest value, the guest init takes (the secret store's own limits are lower). */
export const MAX_GUEST_SECRETS = 64;
export const MAX_GUEST_SECRET_BYTES = 64 * 1024;

/** Most grants, and longest target path, the guest init takes. */
export const MAX_GUEST_GRANTS = 64;
export const MAX_GUEST_GRANT_PATH = 1024;

/** A grant as the guest mounts it: the N-th is the virtio-fs share `airlock<N>` (see qemu.ts). */
export interface GuestGrant {
  sandboxPath: string;
  writable: boolean;
  /** A single file (its share is a directory holding it as `f`), not a directory. */
  file: boolean;
}

/** Files the guest init places in the sandbox's root (the broker CA's trust bundle, the secrets, the grants), and what it reports. */
export interface GuestFiles {
  trustBundle?: string | undefined;
  secrets?: readonly SecretFile[] | undefined;
  grants?: readonly GuestGrant[] | undefined;
  /** Report each call the guest's seccomp filter refused (DENIAL frames). */
  reportDenials?: boolean | undefined;
}

/**
 * The handshake's bytes for `secret`, the sandbox's limits, its network (none: undefined) and its
 * files. Secret values are in the result: {@link handshake} wipes it once written.
 */
export function handshakeBytes(secret: Buffer, limits: Limits, network?: GuestNetwork, files: GuestFiles = {}): Buffer {
  if (secret.length !== SECRET_BYTES) throw new Error(`the channel secret must be ${SECRET_BYTES} bytes`);
  const settings = Buffer.alloc(16);
  settings.writeUInt32LE(limits.scratchMb, 0);
  settings.writeUInt32LE(limits.memoryMb, 4);
  settings.writeUInt32LE(limits.pids, 8);
  settings.writeUInt32LE(limits.openFiles, 12);
  const secrets = secretsBlock(files.secrets ?? []);
  try {
    return Buffer.concat([secret, freshStateBlock(), settings, networkBlock(network), trustBundleBlock(files.trustBundle), secrets, grantsBlock(files.grants ?? []), u32(files.reportDenials === true ? 1 : 0)]);
  } finally {
    secrets.fill(0);
  }
}

/** Where the clock sits in the handshake: right after the secret. */
const CLOCK_AT = SECRET_BYTES;

/** u64 LE the host's clock (set by {@link handshake} as it sends: the bytes are composed before the VM boots) | {@link ENTROPY_BYTES} random bytes. */
function freshStateBlock(): Buffer {
  return Buffer.concat([Buffer.alloc(8), randomBytes(ENTROPY_BYTES)]);
}

/** u32 LE length (0: none) | the bundle. */
function trustBundleBlock(bundle: string | undefined): Buffer {
  const bytes = Buffer.from(bundle ?? '', 'utf8');
  if (bytes.length > MAX_TRUST_BUNDLE) throw new ControlError(TRUST_STORE_CONTROL, `the trust bundle is ${bytes.length} bytes; the microvm guest takes at most ${MAX_TRUST_BUNDLE}`);
  return Buffer.concat([u32(bytes.length), bytes]);
}

/** u32 LE count | per secret: u32 LE name length, name, u32 LE value length, value. Errors name the secret, never a value. */
function secretsBlock(secrets: readonly SecretFile[]): Buffer {
  checkSecretFiles(secrets);
  if (secrets.length > MAX_GUEST_SECRETS) throw new ControlError('secrets', `${secrets.length} secrets; the microvm guest takes at most ${MAX_GUEST_SECRETS}`);
  const parts: Buffer[] = [u32(secrets.length)];
  for (const file of secrets) {
    const value = secretBytes(file);
    if (value.length > MAX_GUEST_SECRET_BYTES) {
      value.fill(0);
      throw new ControlError(`secret ${file.name}`, `is ${value.length} bytes; the microvm guest takes at most ${MAX_GUEST_SECRET_BYTES}`);
    }
    const name = Buffer.from(file.name, 'utf8');
    parts.push(u32(name.length), name, u32(value.length), value);
  }
  try {
    return Buffer.concat(parts);
  } finally {
    for (const part of parts) part.fill(0);
  }
}

/** u32 LE count | per grant: u32 LE flags (1 writable, 2 a file), u32 LE path length, the path. */
function grantsBlock(grants: readonly GuestGrant[]): Buffer {
  if (grants.length > MAX_GUEST_GRANTS) throw new ControlError('filesystem_access', `${grants.length} grants; the microvm guest takes at most ${MAX_GUEST_GRANTS}`);
  const parts: Buffer[] = [u32(grants.length)];
  for (const grant of grants) {
    const path = Buffer.from(grant.sandboxPath, 'utf8');
    if (path.length > MAX_GUEST_GRANT_PATH) throw new ControlError('filesystem_access', `${grant.sandboxPath.slice(0, 80)}… is ${path.length} bytes; the microvm guest mounts at most ${MAX_GUEST_GRANT_PATH}`);
    parts.push(u32((grant.writable ? 1 : 0) | (grant.file ? 2 : 0)), u32(path.length), path);
  }
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value, 0);
  return bytes;
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
 * Sends the handshake (wiping `bytes` once written) and waits for the guest's answer. Resolves with what arrived after it (the
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
    // The clock as it is now, not when the bytes were composed (a boot under TCG takes seconds).
    bytes.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n, CLOCK_AT);
    // Why wiped: the bytes carry secret values; once the socket has them, no copy stays in the heap.
    socket.write(bytes, () => bytes.fill(0));
  });
}

/** A call the guest's seccomp filter refused, as the init reported it. */
export interface GuestDenial {
  syscallNr: number;
  pid: number;
}

/** Passes the agent's frames through unchanged, taking out (and reporting) the init's COUNTERS and DENIAL frames. */
export class GuestCounterFilter extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private readonly onCounters: (counters: GuestCounters) => void;
  private readonly onDenial: (denial: GuestDenial) => void;

  constructor(onCounters: (counters: GuestCounters) => void, onDenial: (denial: GuestDenial) => void = () => undefined) {
    super();
    this.onCounters = onCounters;
    this.onDenial = onDenial;
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
      if (frame[0] === EV_COUNTERS && length === 40) {
        this.onCounters({
          oomKills: Number(frame.readBigUInt64LE(HEADER)),
          pidsLimitHits: Number(frame.readBigUInt64LE(HEADER + 8)),
          memoryPeakBytes: Number(frame.readBigUInt64LE(HEADER + 16)),
          scratchFull: frame.readBigUInt64LE(HEADER + 24) !== 0n,
          openFilesLimitHit: frame.readBigUInt64LE(HEADER + 32) !== 0n,
        });
      } else if (frame[0] === EV_DENIAL && length === 8) {
        this.onDenial({ syscallNr: frame.readUInt32LE(HEADER), pid: frame.readUInt32LE(HEADER + 4) });
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
