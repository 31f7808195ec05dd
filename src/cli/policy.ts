/**
 * `airlock policy check [DIR] [--request FILE]`: validates a Cedar policy bundle (default: the
 * configured `policy.dir`, else the shipped `policies/`) and prints its hash, or every error with its
 * file and line (exit 1). With `--request`, also decides the sample requests in FILE and prints each
 * decision with the policies that made it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import type { AirlockConfig } from '../config/config.ts';
import type { PolicyDecision, PolicyEngine } from '../policy/index.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';

interface CheckOptions {
  request?: string;
  json: boolean;
}

/** Registers `policy check` on the program. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Check the Cedar authorization policies.');
  policy
    .command('check')
    .description('validate a policy bundle and print its hash; with --request, decide sample requests')
    .argument('[dir]', 'bundle directory (default: config policy.dir, else the shipped policies/)')
    .option('--request <file>', 'JSON file with a request (or an array of them) to decide')
    .option('--json', 'print the result as JSON', false)
    .action(async (dir: string | undefined, opts: CheckOptions) => {
      // Why lazily: loading Cedar compiles 4 MB of WebAssembly that other commands never need.
      const policyModule = await import('../policy/index.ts');
      const { PolicyBundleError, formatIssue, policyDirOf } = policyModule;
      const config = loadConfig(program.opts<{ config?: string }>().config);
      const bundleDir = dir ?? policyDirOf(config.policy);
      let engine: PolicyEngine;
      try {
        engine = await policyModule.PolicyEngine.load(bundleDir);
      } catch (err) {
        if (!(err instanceof PolicyBundleError)) throw err;
        if (opts.json) {
          process.stdout.write(`${terminalSafeJson({ ok: false, dir: bundleDir, issues: err.issues })}\n`);
        } else {
          // Policy text is quoted in Cedar's messages: escaped like everything the CLI prints.
          process.stderr.write(`invalid policy bundle ${terminalSafe(bundleDir)}\n`);
          for (const issue of err.issues) process.stderr.write(`  ${terminalSafe(formatIssue(issue))}\n`);
        }
        process.exitCode = 1;
        return;
      }
      const decisions = opts.request === undefined ? [] : await decide(engine, opts.request, config);
      if (opts.json) {
        process.stdout.write(`${terminalSafeJson({ ok: true, dir: bundleDir, hash: engine.hash, policies: engine.policies.map((p) => p.id), decisions })}\n`);
        return;
      }
      process.stdout.write(`OK ${terminalSafe(bundleDir)}: ${engine.policies.length} policies, ${engine.hash}\n`);
      for (const d of decisions) {
        process.stdout.write(`${terminalSafe(`${d.request}: ${d.decision}`)}\n`);
        process.stdout.write(`  policies: ${terminalSafe(d.policyIds.join(', ') || '(none)')}\n`);
        for (const reason of d.reasons) process.stdout.write(`  reason: ${terminalSafe(reason)}\n`);
        for (const error of d.errors) process.stdout.write(`  error: ${terminalSafe(error)}\n`);
      }
    });
}

/** A decided sample request, labelled for printing. */
interface SampleDecision extends PolicyDecision {
  request: string;
}

async function decide(engine: PolicyEngine, file: string, config: AirlockConfig): Promise<SampleDecision[]> {
  const { parseRequestFile } = await import('../policy/request-file.ts');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`request file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const requests = parseRequestFile(raw, { settings: { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots }, runtime: 'namespace', limits: config.defaults }, file);
  return requests.map((r) => {
    const target = r.action === 'admin' ? 'controller' : r.secret !== undefined ? `secret ${r.secret} for sandbox ${r.sandbox?.id ?? '?'}` : `sandbox ${r.sandbox?.id ?? '?'}`;
    return { request: `${r.principal.role} ${r.principal.id} ${r.action} ${target}`, ...engine.evaluate(r) };
  });
}
