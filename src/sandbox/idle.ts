/**
 * The idle timeout of a persistent sandbox (`idle_timeout_seconds`): it ends (`idle_timeout`) once
 * that long has passed with no exec running and no operation on it. Any operation on the sandbox
 * (exec, file read, write or listing) extends it; a running exec holds it off until it finishes.
 * The TTL (`ttl_seconds`) is separate: a hard deadline whatever the activity.
 */
export class IdleTimer {
  readonly idleMs: number;
  private lastActivity: number;
  private running = 0;

  constructor(idleSeconds: number, now = Date.now()) {
    this.idleMs = idleSeconds * 1000;
    this.lastActivity = now;
  }

  /** An operation on the sandbox: the idle time starts again. */
  touch(now = Date.now()): void {
    this.lastActivity = now;
  }

  /** An exec: not idle while it runs, and the idle time starts again when it ends. */
  hold(done: Promise<unknown>): void {
    this.running += 1;
    this.touch();
    const release = (): void => {
      this.running -= 1;
      this.touch();
    };
    done.then(release, release);
  }

  /** Whether the sandbox has been idle for its whole idle timeout at `now`. */
  expired(now = Date.now()): boolean {
    return this.running === 0 && now - this.lastActivity >= this.idleMs;
  }
}
