/**
 * Why an integration test can't run on this host (or false when it can): root, the default image,
 * and the runtime's own probe. A skipped test says why; it is never counted as passed.
 */
import { execFileSync } from 'node:child_process';
import type { AirlockConfig } from '../../src/config/config.ts';
import { isImplementedRuntime } from '../../src/isolation/drivers.ts';

/** Returns a function giving the skip reason for a runtime, or false. Probes run once, synchronously. */
export function skipReason(config: AirlockConfig): (runtime: string) => string | false {
  const cache = new Map<string, string | false>();
  return (runtime) => {
    const known = cache.get(runtime);
    if (known !== undefined) return known;
    const reason = probe(config, runtime);
    cache.set(runtime, reason);
    return reason;
  };
}

function probe(config: AirlockConfig, runtime: string): string | false {
  if (process.getuid?.() !== 0) return 'needs root (cgroups and per-sandbox host uids)';
  if (!isImplementedRuntime(runtime)) return `unknown runtime ${runtime}`;
  const script = `
    const { loadConfig } = await import('./src/config/config.ts');
    const { createDriver } = await import('./src/isolation/drivers.ts');
    const { resolveImage } = await import('./src/images/store.ts');
    const config = JSON.parse(process.argv[1]);
    try { await resolveImage(config, config.defaultImage); } catch (e) { console.log('image: ' + e.message); process.exit(0); }
    const a = await createDriver(${JSON.stringify(runtime)}, config).probe();
    console.log(a.available ? '' : a.reason);
    void loadConfig;`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(config)], { encoding: 'utf8' }).trim();
  return out === '' ? false : `${runtime} unavailable: ${out}`;
}
