/**
 * Plain HTTP through the proxy (absolute-form requests). Each request, keep-alive or not, is
 * judged on its own: target canonicalized, Host header checked against it, then either an
 * internal service (method and path checks) or the allowlist plus a pinned, checked address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { decisionOnce, type DecisionFields, type ProxyContext } from './context.ts';
import { denyResponse, printable } from './deny.ts';
import { destinationContext, judgeDestination, judgeServiceAddress } from './destination.ts';
import { formatHost, isIpHost } from './host-name.ts';
import { forwardUpstream } from './http-upstream.ts';
import { destinationNames, judgeBrokered } from './brokered.ts';
import { lateRefusal, screenBody } from './body-screen.ts';
import { checkServiceRequest, findService, serviceAddress, serviceUpstreamUrl } from './services.ts';
import { parseAbsoluteTarget, parseHostHeader, type HttpTarget } from './target.ts';
import type { InternalService } from './types.ts';

export async function handleHttpRequest(context: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const recorder = decisionOnce(context);
  const method = req.method ?? '';
  let base: DecisionFields = { kind: 'http', host: printable(req.headers.host ?? ''), port: 0, allowed: false, reason: '', method };
  res.once('close', () => recorder.decide({ ...base, allowed: false, reason: 'client_closed' }));
  const refuse = (reason: string, address?: string) => {
    recorder.decide({ ...base, allowed: false, reason, ...(address ? { address } : {}) });
    req.resume(); // Why: drain the refused body so the connection can carry the next request.
    denyResponse(res, base.host, base.port, reason, hasBody(req));
  };
  const parsed = parseAbsoluteTarget(req.url ?? '');
  if (!parsed.ok) return refuse(parsed.reason);
  const target = parsed.value;
  base = { ...base, host: target.host, port: target.port, path: printable(target.pathname, 2048) };
  if (!hostHeaderMatches(req, target)) return refuse('host_header_mismatch');
  const service = findService(context.services, target.host, target.port);
  if (service.kind === 'unknown_service') return refuse('unknown_service');
  // Why before any connection: a placeholder bound elsewhere never leaves the proxy, whatever the allowlist says.
  const names = destinationNames(target.host, service.kind === 'service' ? service.service : undefined);
  const brokered = judgeBrokered(context.brokered, req.rawHeaders, req.url ?? '', names);
  if (brokered.kind !== 'none') base = { ...base, brokered: brokered.names };
  if (brokered.kind === 'refuse') return refuse('brokered_secret_unbound');
  // Why: over plain HTTP to an outside host the real key would cross the network in the clear.
  if (brokered.kind === 'inject' && service.kind !== 'service' && !cleartextAllowed(context.brokered, brokered.names)) return refuse('brokered_secret_cleartext');
  const screened = await screenBody(context.brokered, req, names, lateRefusal(context, recorder, res, () => base));
  if (screened.kind === 'refuse') {
    base = { ...base, brokered: screened.names };
    return refuse('brokered_secret_unbound');
  }
  const rawHeaders = {
    ...(brokered.kind === 'inject' ? { rawHeaders: brokered.rawHeaders } : {}),
    ...(screened.body === undefined ? {} : { body: screened.body }),
  };
  if (service.kind === 'service') {
    base = { ...base, kind: 'service' };
    return await forwardToService(context, req, res, target, service.service, base, recorder.decide, refuse, rawHeaders);
  }
  const destination = await judgeDestination(target.host, target.port, destinationContext(context));
  if (!destination.allowed) return refuse(destination.reason, destination.address);
  if (res.destroyed || context.isClosed()) return;
  const upstream = {
    protocol: 'http:' as const,
    connectHost: destination.address,
    pinned: { address: destination.address, family: destination.family },
    port: target.port,
    hostHeader: target.port === 80 ? formatHost(target.host) : `${formatHost(target.host)}:${target.port}`,
    pathAndQuery: target.pathAndQuery,
    ...rawHeaders,
  };
  forwardUpstream(context, req, res, upstream, { ...base, allowed: true, reason: 'allowlisted', address: destination.address }, recorder.decide);
}

async function forwardToService(
  context: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: HttpTarget,
  service: InternalService,
  base: DecisionFields,
  decide: (d: DecisionFields) => void,
  refuse: (reason: string, address?: string) => void,
  rawHeaders: { rawHeaders?: string[]; body?: Readable },
): Promise<void> {
  const refusal = checkServiceRequest(service, req.method ?? '', target.pathname, target.rawPath);
  const address = serviceAddress(service);
  if (refusal !== null || address === null) return refuse(refusal ?? 'bad_service_url');
  const destination = await judgeServiceAddress(address.host, address.port, destinationContext(context));
  if (!destination.allowed) return refuse(destination.reason, destination.address);
  if (res.destroyed || context.isClosed()) return;
  const url = serviceUpstreamUrl(service, target.pathAndQuery);
  const upstream = {
    protocol: url.protocol === 'https:' ? ('https:' as const) : ('http:' as const),
    connectHost: url.hostname.replace(/^\[|\]$/g, ''),
    // Why: connect to the address that was checked, never to a second answer for the service's name.
    pinned: { address: destination.address, family: destination.family },
    port: address.port,
    hostHeader: url.host,
    pathAndQuery: `${url.pathname}${url.search}`,
    ...(url.protocol === 'https:' && !isIpHost(address.host) ? { servername: address.host } : {}),
    ...(service.ca ? { ca: service.ca } : {}),
    ...rawHeaders,
  };
  forwardUpstream(context, req, res, upstream, { ...base, allowed: true, reason: 'service' }, decide);
}

/** Exactly one Host header, equal to the URL's host and port after the same normalization. */
function hostHeaderMatches(req: IncomingMessage, target: HttpTarget): boolean {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') count += 1;
  // Why: two Host headers may be read differently by the upstream than by us; a missing one is not ours to invent.
  if (count !== 1 || req.headers.host === undefined) return false;
  const header = parseHostHeader(req.headers.host, 80);
  return header !== null && header.host === target.host && header.port === target.port;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/** Whether every credential `names` injects may go over plain HTTP to an outside host. */
function cleartextAllowed(credentials: ProxyContext['brokered'], names: readonly string[]): boolean {
  return credentials.filter((c) => names.includes(c.name)).every((c) => c.plainHttp === true);
}
