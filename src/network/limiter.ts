/**
 * Bounds how many network set-ups or teardowns run at once. nftables serializes on one netlink
 * lock and every `nft` call reads the whole ruleset, so a burst of 100 parallel calls only makes
 * each one slower (up to timing out); a short queue keeps each call fast and the order fair.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
