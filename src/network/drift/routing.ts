/**
 * Which watched sandboxes a host event could concern, and whether the event by itself proves a
 * change of theirs. Pure: the watch looks the names up in its own index.
 */
import type { HostEvent } from './host-events.ts';

/** The facets a comparison reads: the sandbox's own namespace, its host side (slot link, routes, table), or both. */
export type Scope = 'sandbox' | 'host' | 'all';

/** The scope that reads what both `a` (if any) and `b` read. */
export function widen(a: Scope | undefined, b: Scope): Scope {
  return a === undefined || a === b ? b : 'all';
}

export type EventRoute =
  /** The sandbox whose slot table this is. `evidence`: the event is itself a change to report. */
  | { to: 'table'; name: string; scope: 'all'; evidence: string }
  /** The sandbox whose host link this is. */
  | { to: 'host-link'; name: string; scope: 'all' }
  /**
   * The sandbox living in the namespace the host knows by this id, sandbox side only; the watch
   * resolves the id, and sends it to every sandbox when the id names no namespace it can identify.
   */
  | { to: 'namespace'; nsid: number; scope: 'sandbox' }
  /** Every watched sandbox, sandbox side only (a link moved to a namespace the event does not name). */
  | { to: 'every'; scope: 'sandbox' };

const EVERY: EventRoute = { to: 'every', scope: 'sandbox' };

/** The routes of one event (none: it concerns no sandbox's facets). */
export function routeEvent(event: HostEvent): EventRoute[] {
  if (event.source === 'nft') {
    // Every slot table is `inet`; nothing of ours lives in another family. Nothing airlock does
    // changes a table while its sandbox runs, so any event naming it (after the watch's sync
    // marker: see DriftWatch) is a change, even if reverted before anyone compares.
    if (event.family !== 'inet') return [];
    return [{ to: 'table', name: event.table, scope: 'all', evidence: `firewall rules: ${event.text} (seen by nft monitor)` }];
  }
  // Namespace ids come and go (a slot built or deleted): the watch drops what it resolved, nothing to compare.
  if (event.kind === 'nsid') return [];
  // A namespace the host has an id for changed: the sandbox living there, sandbox side (reads of
  // /proc only). Why: an id names one namespace, so no other sandbox's state can be in the event.
  // A link leaving that namespace names where it went in that namespace's own ids, which the host
  // can't resolve: every sandbox (fail closed).
  if (event.nsid !== 'current') return [{ to: 'namespace', nsid: event.nsid, scope: 'sandbox' }, ...(event.movedOut ? [EVERY] : [])];
  const routes: EventRoute[] = [];
  // A host link moved into another namespace may now be inside a sandbox: the one it went to when
  // the event names it; every sandbox when it doesn't (fail closed).
  if (event.movedOut) routes.push(event.peer === undefined ? EVERY : { to: 'namespace', nsid: event.peer, scope: 'sandbox' });
  // Link, address and route messages also come from the kernel itself (carrier changes, linkdown
  // flags) and arrive late under load (a slot's own build): they only trigger a comparison of the
  // configured state, never count as a change by themselves.
  if (event.dev !== undefined) routes.push({ to: 'host-link', name: event.dev, scope: 'all' });
  return routes;
}
