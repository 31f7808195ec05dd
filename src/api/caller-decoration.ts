/**
 * The authenticated caller on every Fastify request. Set by the authentication hook
 * (src/api/authentication.ts) before any route handler runs; routes read it and never a name
 * from the request itself.
 */
import type { Caller } from '../admission/caller.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent this request; undefined only on the unauthenticated routes (/health, /metrics, /openapi.json). */
    caller: Caller | undefined;
  }
}

export type { Caller };
