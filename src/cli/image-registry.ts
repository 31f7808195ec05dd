/**
 * `airlock image pull` and `airlock image sign`: images from an OCI registry, and airlock's own
 * signature over a stored image. Progress goes to stderr (only on a terminal); results to stdout.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { interruptibleStoreOperation, requireRoot } from './image-store-operation.ts';

/** Registers `pull` and `sign` under the `image` command. */
export function registerImageRegistry(image: Command, program: Command): void {
  image
    .command('pull')
    .description('Pull an image from an OCI registry (layers fetched by digest, verified as they stream) and store it. Credentials: AIRLOCK_REGISTRY_USERNAME/PASSWORD or an auth file (AIRLOCK_REGISTRY_AUTH_FILE, REGISTRY_AUTH_FILE, /etc/airlock/registry-auth.json), never the command line.')
    .argument('<ref>', 'image reference: [REGISTRY/]REPOSITORY[:TAG][@sha256:HEX] (Docker Hub when no registry is named)')
    .option('--name <name>', 'store the image under this name (default: the repository\'s last component, and its tag unless latest)')
    .option('--insecure-registry', 'speak plain HTTP to the registry: accepted for a loopback registry only')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, opts: { name?: string; insecureRegistry?: boolean; json?: boolean }) => {
      requireRoot('pull');
      const { pullImage } = await import('../images/registry/pull.ts');
      // An interrupted pull removes its download and import directories before the process ends.
      const result = await interruptibleStoreOperation('pull', (signal, progress) =>
        pullImage(loadConfig(program.opts<{ config?: string }>().config), ref, {
          name: opts.name,
          insecureRegistry: opts.insecureRegistry === true,
          onProgress: progress === undefined ? undefined : (p) => progress.update(p),
          signal,
        }),
      );
      if (result === undefined) return;
      if (opts.json === true) {
        process.stdout.write(`${terminalSafeJson(result)}\n`);
        return;
      }
      const signer = result.signer === null ? 'no verified signature' : `signed by ${terminalSafe(result.signer)}`;
      process.stdout.write(`${terminalSafe(result.name)} ${result.digest}  from ${terminalSafe(result.reference)}; ${result.layers} layers, ${result.downloadedBytes} bytes; ${signer}\n`);
      for (const note of result.notes) process.stderr.write(`note: ${terminalSafe(note)}\n`);
    });

  image
    .command('sign')
    .description('Sign a stored image with a private key (ECDSA P-256 or Ed25519, PEM): the signature is kept beside the image and accepted by imagePolicy rules that trust the public key.')
    .argument('<image>', 'image name or sha256:<hex> digest')
    .requiredOption('--key <file>', 'PEM private key file (the key is read from the file, never given on the command line)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { key: string; json?: boolean }) => {
      requireRoot('sign');
      const { signStoredImage } = await import('../images/signatures/sign.ts');
      const result = await signStoredImage(loadConfig(program.opts<{ config?: string }>().config), name, opts.key);
      if (opts.json === true) process.stdout.write(`${terminalSafeJson(result)}\n`);
      else process.stdout.write(`signed ${terminalSafe(result.name)} ${result.digest} with key ${result.keyFingerprint}\n`);
    });
}
