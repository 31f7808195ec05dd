/**
 * The Cedar engine (@cedar-policy/cedar-wasm, its Node.js build). Loading it compiles 4 MB of
 * WebAssembly (about 50 ms), so it is imported on first use: commands that never authorize
 * anything do not pay for it.
 */
import { createRequire } from 'node:module';
import type * as CedarModule from '@cedar-policy/cedar-wasm/nodejs';

export type * as CedarTypes from '@cedar-policy/cedar-wasm/nodejs';

/** The functions of the Cedar module this project uses. */
export type Cedar = typeof CedarModule;

/** Imports the Cedar module (Node caches it after the first call). */
export async function loadCedar(): Promise<Cedar> {
  return import('@cedar-policy/cedar-wasm/nodejs');
}

/**
 * The Cedar module, loaded synchronously (its Node.js build is CommonJS and instantiates its
 * WebAssembly synchronously): for an engine that defers Cedar until a decision it has not
 * remembered must really be evaluated.
 */
export function requireCedar(): Cedar {
  return createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as Cedar;
}
