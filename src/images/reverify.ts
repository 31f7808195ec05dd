/**
 * Scheduled re-verification of the images a controller uses: every `intervalSeconds` each image a
 * sandbox was started from is re-walked and re-hashed with the full verification (verifyImage,
 * the same check as `airlock image verify`). An image that fails is out of service from then on:
 * `refusal` names it, and the owner refuses new sandboxes with it.
 *
 * Why: per-start resolution checks the manifest and ownership but not every file's content (too
 * slow for each start); a file changed under the store after its build would go unnoticed until
 * the next manual verify. Re-hashing on a schedule bounds that window.
 */
import type { AirlockConfig } from '../config/config.ts';
import { verifyImage, type VerifyResult } from './verify.ts';

/** A failed re-verification: which image, and what differed (or why it could not be checked). */
export interface ReverifyFailure {
  readonly name: string;
  readonly digest: string;
  readonly differences: readonly string[];
  /** When the check failed (ISO 8601). */
  readonly at: string;
}

/** Options of {@link ImageReverifier}. */
export interface ReverifierOptions {
  readonly config: Pick<AirlockConfig, 'stateDir'> & { service: Pick<AirlockConfig['service'], 'imageReverifySeconds'> };
  /** Called once per image that fails (the first failure takes it out of service). */
  readonly onFailure: (failure: ReverifyFailure) => void;
  /** Called with each finished check (pass or fail), e.g. for logs. */
  readonly onChecked?: ((result: VerifyResult) => void) | undefined;
}

/** Tracks the images in use, re-verifies them on a timer, and remembers which are out of service. */
export class ImageReverifier {
  readonly #options: ReverifierOptions;
  /** digest → name of every image a sandbox was started from. */
  readonly #inUse = new Map<string, string>();
  readonly #failed = new Map<string, ReverifyFailure>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReverifyFailure[]> | undefined;

  constructor(options: ReverifierOptions) {
    this.#options = options;
  }

  /** Records that a sandbox uses this image (so the schedule re-verifies it). */
  noteInUse(image: { name: string; digest: string }): void {
    if (!this.#inUse.has(image.digest)) this.#inUse.set(image.digest, image.name);
  }

  /** Why the image is out of service (a message naming it and the control), or undefined if it is not. */
  refusal(digest: string): string | undefined {
    const failure = this.#failed.get(digest);
    if (failure === undefined) return undefined;
    return `image_integrity: image ${failure.name} (${failure.digest}) is out of service: its contents failed re-verification at ${failure.at} (${failure.differences.slice(0, 3).join('; ')}); rebuild it (airlock image build) or check it (airlock image verify)`;
  }

  /** Starts the schedule (no-op when the interval is 0); the timer never keeps the process alive. */
  start(): void {
    const seconds = this.#options.config.service.imageReverifySeconds;
    if (seconds <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.runOnce(), seconds * 1000);
    this.#timer.unref();
  }

  /** Stops the schedule. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Re-verifies every image in use that is still in service, one at a time (the hashing is heavy;
   * one image at once keeps the host's disk and cores for sandboxes). Resolves with the new
   * failures. A run already under way is joined, never doubled.
   */
  runOnce(): Promise<ReverifyFailure[]> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<ReverifyFailure[]> {
    const failures: ReverifyFailure[] = [];
    for (const [digest, name] of [...this.#inUse]) {
      if (this.#failed.has(digest)) continue;
      let differences: readonly string[];
      try {
        const result = await verifyImage(this.#options.config, digest);
        this.#options.onChecked?.(result);
        differences = result.differences;
        if (result.ok) continue;
      } catch (err) {
        // Why fail closed: an image whose manifest or tree can no longer be read can't be vouched for.
        differences = [`could not be verified: ${(err as Error).message}`];
      }
      const failure: ReverifyFailure = { name, digest, differences, at: new Date().toISOString() };
      this.#failed.set(digest, failure);
      failures.push(failure);
      this.#options.onFailure(failure);
    }
    return failures;
  }
}
