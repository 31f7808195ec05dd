/** Pull progress on a terminal: one line on stderr, rewritten in place, only when stderr is a TTY. */

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** What a pull reports as it goes. */
export interface PullProgress {
  phase: 'download' | 'import';
  layers: number;
  layersDone: number;
  bytes: number;
  totalBytes: number;
}

/** A progress printer for `stream`, or undefined when it is not a terminal (logs and pipes get no control codes). */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): { update(p: PullProgress): void; done(): void } | undefined {
  if (stream.isTTY !== true) return undefined;
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      // At most ten redraws a second: a fast registry would otherwise spend the CPU on the terminal.
      if (now - last < 100 && p.layersDone < p.layers) return;
      last = now;
      shown = true;
      const verb = p.phase === 'download' ? 'downloading' : 'importing';
      stream.write(`\r\x1b[K${verb}: layer ${p.layersDone}/${p.layers}, ${mib(p.bytes)}${p.totalBytes > 0 ? ` of ${mib(p.totalBytes)}` : ''}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
