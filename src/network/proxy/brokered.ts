/**
 * Brokered credentials in plain HTTP requests. A sandbox holds only a placeholder; on a request
 * to one of the credential's bound hosts the proxy swaps the real value in (the bound header gets
 * the configured format; any other header carrying the placeholder gets the bare value). The
 * placeholder in a request to any other host (a header, the URL) is refused: it is an attempt to
 * learn which destination would be handed the key, or a sign the code is sending it astray.
 */
import { INTERNAL_SERVICE_DOMAIN } from './service-domain.ts';
import type { BrokeredCredential, InternalService } from './types.ts';

/** What to do with a request: forward it as is, forward it with these raw headers, or refuse it. */
export type BrokeredVerdict = { kind: 'none' } | { kind: 'inject'; rawHeaders: string[]; names: string[] } | { kind: 'refuse'; names: string[] };

/** The names a request reaches a destination by: its canonical host, and `NAME.airlock.internal` for a service. */
export function destinationNames(host: string, service: InternalService | undefined): string[] {
  return service === undefined ? [host] : [host, `${service.name.toLowerCase()}.${INTERNAL_SERVICE_DOMAIN}`];
}

/**
 * Judges one request's use of brokered credentials. `rawPath` is the request target as sent
 * (decoded forms are checked too: `%61irlock-…` must not slip past).
 */
export function judgeBrokered(credentials: readonly BrokeredCredential[], rawHeaders: readonly string[], rawPath: string, destinations: readonly string[]): BrokeredVerdict {
  if (credentials.length === 0) return { kind: 'none' };
  const path = decodedForms(rawPath);
  const used = credentials.filter((c) => path.some((p) => p.includes(c.placeholder)) || rawHeaders.some((h) => h.includes(c.placeholder)));
  if (used.length === 0) return { kind: 'none' };
  const names = used.map((c) => c.name);
  // Why refuse the whole request: one unbound credential in it would leave the proxy nothing safe to forward.
  const unbound = used.filter((c) => !c.hosts.some((h) => destinations.includes(h)));
  if (unbound.length > 0) return { kind: 'refuse', names: unbound.map((c) => c.name) };
  // Why the URL is refused even for a bound host: a value put in a path or query lands in upstream access logs.
  if (used.some((c) => path.some((p) => p.includes(c.placeholder)))) return { kind: 'refuse', names };
  return { kind: 'inject', rawHeaders: swapIn(used, rawHeaders), names };
}

function swapIn(used: readonly BrokeredCredential[], rawHeaders: readonly string[]): string[] {
  const out = [...rawHeaders];
  for (let i = 0; i + 1 < out.length; i += 2) {
    const name = (out[i] ?? '').toLowerCase();
    let value = out[i + 1] ?? '';
    for (const c of used) {
      if (!value.includes(c.placeholder)) continue;
      const real = c.value().toString('latin1');
      value = name === c.header.toLowerCase() ? c.format.split('{value}').join(real) : value.split(c.placeholder).join(real);
    }
    out[i + 1] = value;
  }
  // Why identity encoding: the answer is redacted of the value, which a compressed body would hide.
  return out.filter((_, i) => (out[i - (i % 2)] ?? '').toLowerCase() !== 'accept-encoding');
}

function decodedForms(rawPath: string): string[] {
  try {
    return [rawPath, decodeURIComponent(rawPath)];
  } catch {
    return [rawPath];
  }
}
