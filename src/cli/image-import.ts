/**
 * `airlock image import|rm|gc`: OCI layouts and `docker save` archives into the store, removing a
 * stored image, and collecting what nothing references. Progress goes to stderr (only on a
 * terminal); results to stdout.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { formatBytes } from './image.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { interruptibleStoreOperation, requireRoot } from './image-store-operation.ts';

/** Registers `import`, `rm` and `gc` under the `image` command. */
export function registerImageImport(image: Command, program: Command): void {
  const config = () => loadConfig(program.opts<{ config?: string }>().config);

  image
    .command('import')
    .description('Import a docker save archive (plain, gzip or zstd) or an OCI image layout directory: every blob is verified against its digest, layers are flattened with hostile entries refused or neutralised, and the image keeps its entrypoint, cmd, env and workdir (never its user: sandboxes run unprivileged).')
    .argument('<path>', 'docker save archive FILE or OCI layout DIR (skopeo copy … oci:DIR, docker buildx --output type=oci)')
    .option('--name <name>', 'store the image under this name (default: from the file name)')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: { name?: string; json?: boolean }) => {
      requireRoot('import');
      const { importImage } = await import('../images/oci/index.ts');
      // An interrupted import removes its work directory before the process ends.
      const result = await interruptibleStoreOperation('import', (signal, progress) =>
        importImage(path, {
          config: config(),
          signal,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(progress !== undefined ? { onProgress: (p) => progress.update({ phase: 'import', ...p, totalBytes: 0 }) } : {}),
        }),
      );
      if (result === undefined) return;
      if (opts.json === true) {
        process.stdout.write(`${terminalSafeJson(result)}\n`);
        return;
      }
      process.stdout.write(
        `${terminalSafe(result.name)} ${result.imageDigest}  from ${result.source.kind} ${terminalSafe(result.source.reference ?? '')} (manifest ${result.digest}); ` +
          `${result.layers} layers, ${result.files} files, ${formatBytes(result.totalBytes)}\n`,
      );
      for (const note of result.notes) process.stderr.write(`note: ${terminalSafe(note)}\n`);
    });

  image
    .command('rm')
    .description('Remove a stored image: its name, and its files unless another name or a live sandbox still uses them (then image gc removes them later).')
    .argument('<name>', 'image name')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      requireRoot('rm');
      const { removeImage } = await import('../images/remove.ts');
      const result = await removeImage(config(), name);
      if (opts.json === true) process.stdout.write(`${terminalSafeJson(result)}\n`);
      else process.stdout.write(`removed ${terminalSafe(result.name)} (${result.digest})${result.blobRemoved ? '' : `; files kept: ${result.keptBecause ?? ''}`}\n`);
    });

  image
    .command('gc')
    .description('Remove image files no name references and no live sandbox uses, abandoned build/import directories, and old builds of the in-sandbox agent and other helpers.')
    .option('--dry-run', 'only list what would be removed')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      requireRoot('gc');
      const { collectGarbage } = await import('../images/gc.ts');
      const report = await collectGarbage(config(), { dryRun: opts.dryRun === true });
      if (opts.json === true) {
        process.stdout.write(`${terminalSafeJson(report)}\n`);
        return;
      }
      const verb = report.dryRun ? 'would remove' : 'removed';
      for (const b of report.blobs) process.stdout.write(`${verb} image ${b.digest}${b.bytes === null ? '' : ` (${formatBytes(b.bytes)})`}\n`);
      for (const t of report.tmp) process.stdout.write(`${verb} ${terminalSafe(t)}\n`);
      for (const h of report.helperBuilds) process.stdout.write(`${verb} ${terminalSafe(h.kind)} build ${terminalSafe(h.path)}\n`);
      for (const d of report.inUse) process.stdout.write(`kept image ${d}: a live sandbox uses it\n`);
      const bytes = report.blobs.reduce((n, b) => n + (b.bytes ?? 0), 0);
      process.stdout.write(`${verb} ${report.blobs.length} images (${formatBytes(bytes)}), ${report.tmp.length} temporary entries, ${report.helperBuilds.length} helper builds\n`);
    });
}
