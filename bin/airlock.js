#!/usr/bin/env node
// Entry point: Node 24 runs the TypeScript sources directly (type stripping), so there is no build
// step. The compile cache keeps stripped and compiled modules between runs (start-up is most of a
// short `airlock run`); it lives beside the code, never in a shared world-writable directory,
// because a planted cache entry would be code run by the controller.
import module from 'node:module';
import { fileURLToPath } from 'node:url';

module.enableCompileCache?.(fileURLToPath(new URL('../node_modules/.cache/airlock-compile/', import.meta.url)));
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
