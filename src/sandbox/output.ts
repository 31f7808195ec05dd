/**
 * Collects a sandbox's stdout and stderr up to a byte cap. Crossing the cap calls `onLimit` once
 * (the runner kills the sandbox) and keeps nothing past it: output can't exhaust controller memory.
 */
export type StreamName = 'stdout' | 'stderr';

export class OutputCollector {
  private readonly cap: number;
  private readonly onLimit: () => void;
  private total = 0;
  private limited = false;
  private readonly chunks: Record<StreamName, Buffer[]> = { stdout: [], stderr: [] };

  constructor(capBytes: number, onLimit: () => void) {
    this.cap = capBytes;
    this.onLimit = onLimit;
  }

  /** Records a chunk and forwards the part within the cap to `live`, if given. */
  add(stream: StreamName, chunk: Buffer, live?: (chunk: Buffer) => void): void {
    if (this.limited) return;
    const room = this.cap - this.total;
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.total += kept.length;
    if (kept.length > 0) {
      this.chunks[stream].push(kept);
      live?.(kept);
    }
    if (chunk.length > room) {
      this.limited = true;
      this.onLimit();
    }
  }

  /** Whether the cap was crossed. */
  get overLimit(): boolean {
    return this.limited;
  }

  /** The captured text of one stream (UTF-8; a split multibyte sequence at the cap is replaced). */
  text(stream: StreamName): string {
    return Buffer.concat(this.chunks[stream]).toString('utf8');
  }
}
