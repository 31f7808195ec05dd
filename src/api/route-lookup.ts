/**
 * Lookups in the route table for answers about routes rather than from them: which methods a path
 * has (405 with `Allow`) and which route a request matched (its body content type for a 415).
 */
import { ROUTES, type RouteSpec } from './route-table.ts';

const SPECS = Object.values(ROUTES) as RouteSpec[];

/** `/api/v1/sandboxes/:id/files` → a RegExp matching concrete paths (a parameter is one segment). */
function pathPattern(url: string): RegExp {
  const escaped = url.split(/:[A-Za-z_][A-Za-z0-9_]*/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('[^/]+')}$`);
}

const PATTERNS = SPECS.map((spec) => ({ spec, pattern: pathPattern(spec.url) }));

/** The methods a concrete path has (HEAD wherever GET is: Fastify serves it), or none for an unknown path. */
export function allowedMethods(path: string): string[] {
  const methods = new Set<string>();
  for (const { spec, pattern } of PATTERNS) {
    if (!pattern.test(path)) continue;
    methods.add(spec.method);
    if (spec.method === 'GET') methods.add('HEAD');
  }
  return [...methods];
}

/** The route spec with this method and Fastify url (`request.routeOptions.url`), if any. */
export function routeOf(method: string, url: string | undefined): RouteSpec | undefined {
  return SPECS.find((spec) => spec.method === method && spec.url === url);
}
