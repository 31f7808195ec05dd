/**
 * `airlock image build|ls|verify` (and import|rm|gc, pull|sign): content-addressed root filesystem images.
 * Progress goes to stderr; results (digest, table, JSON) to stdout.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import type { AirlockConfig } from '../config/config.ts';
import type { ImageSummary } from '../images/list.ts';
import { registerImageImport } from './image-import.ts';
import { registerImageRegistry } from './image-registry.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

function config(program: Command): AirlockConfig {
  return loadConfig(program.opts<{ config?: string }>().config);
}

/** Human-readable byte count (powers of 1024). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Renders `image ls` rows as an aligned text table. */
export function formatImageTable(rows: readonly ImageSummary[]): string {
  const table = [['NAME', 'DIGEST', 'SOURCE', 'SIZE', 'FILES', 'CREATED']];
  for (const r of rows) {
    table.push([
      r.name,
      r.digest.slice('sha256:'.length, 'sha256:'.length + 12),
      // The source names a file or reference the importing user chose.
      terminalSafe(r.source ?? '-'),
      r.size === null ? '-' : formatBytes(r.size),
      r.files === null ? '-' : String(r.files),
      r.problem !== null ? `BROKEN: ${r.problem}` : (r.created ?? '-'),
    ]);
  }
  return formatTable(table);
}

function parsePackages(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError('--include needs at least one package name');
  return [...previous, ...names];
}

/** Registers `image build`, `image ls` and `image verify` on the root program. */
export function registerImage(program: Command): void {
  const image = program.command('image').description('Build, list and verify content-addressed root filesystem images.');

  image
    .command('build')
    .description('Build an image with mmdebstrap from the configured Debian mirror (requires root).')
    .argument('<name>', 'image name, e.g. default')
    .option('--suite <suite>', 'Debian suite (default: config debianSuite)')
    .option('--mirror <url>', 'Debian mirror URL (default: config debianMirror)')
    .option('--include <pkg,pkg>', 'extra packages on top of the base set (repeatable)', parsePackages)
    .option('--json', 'print the build result as JSON')
    .action(async (name: string, opts: { suite?: string; mirror?: string; include?: string[]; json?: boolean }) => {
      // mmdebstrap --mode=root needs root, and the store must stay root-owned.
      if (process.getuid?.() !== 0) throw new Error('image build must run as root (mmdebstrap --mode=root; the store is root-owned)');
      // Each subcommand loads its implementation only when it runs (keeps `airlock run` start-up small).
      const { buildImage } = await import('../images/build.ts');
      const result = await buildImage(config(program), {
        name,
        ...(opts.suite !== undefined ? { suite: opts.suite } : {}),
        ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}),
        ...(opts.include !== undefined ? { include: opts.include } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      if (opts.json === true) {
        process.stdout.write(`${terminalSafeJson(result)}\n`);
        return;
      }
      process.stdout.write(
        `${terminalSafe(result.name)} ${result.digest}  ${result.files} files, ${formatBytes(result.totalBytes)}; ` +
          `built in ${(result.totalMs / 1000).toFixed(1)} s (hashing ${(result.hashMs / 1000).toFixed(2)} s)\n`,
      );
    });

  image
    .command('ls')
    .description('List stored images.')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const { listImages } = await import('../images/list.ts');
      const rows = await listImages(config(program));
      if (opts.json === true) process.stdout.write(`${terminalSafeJson(rows)}\n`);
      else process.stdout.write(formatImageTable(rows));
    });

  image
    .command('verify')
    .description('Re-walk and re-hash an image and compare it with its manifest (exit 1 on mismatch).')
    .argument('[image]', 'image name or sha256:<hex> digest (default: config defaultImage)')
    .option('--json', 'print the verification result as JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const cfg = config(program);
      const { verifyImage } = await import('../images/verify.ts');
      const result = await verifyImage(cfg, name ?? cfg.defaultImage);
      if (opts.json === true) process.stdout.write(`${terminalSafeJson(result)}\n`);
      else if (result.ok) {
        process.stdout.write(`ok ${terminalSafe(result.name)} ${result.digest} (${result.files} files, ${formatBytes(result.totalBytes)}, hashed in ${(result.hashMs / 1000).toFixed(2)} s)\n`);
      } else {
        process.stderr.write(`image ${terminalSafe(result.name)} (${result.digest}) does not match its manifest:\n`);
        // Differences name files inside the image, which its packages chose.
        for (const d of result.differences) process.stderr.write(`  ${terminalSafe(d)}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    });

  registerImageRegistry(image, program);
  registerImageImport(image, program);
}
