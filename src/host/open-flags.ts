/**
 * open(2) flags Node's `fs.constants` lacks (O_PATH, O_CLOEXEC), beside the ones it has, for code
 * that opens paths one component at a time without following links. The two values are Linux's
 * generic ABI, the same on x86-64 and arm64 (the architectures the project builds for).
 * grants/no-follow.ts and grants/as-sandbox-user.ts keep copies of their own: their functions are
 * serialized into a child process and may import nothing.
 */
import { constants } from 'node:fs';

/** A descriptor that names a file without opening it for I/O: enough to walk below it or mount it. */
export const O_PATH = 0o10000000;
/** Why explicit: a descriptor opened here must never outlive an exec (Node's own opens set it, raw flags don't). */
export const O_CLOEXEC = 0o2000000;
export const O_NOFOLLOW: number = constants.O_NOFOLLOW;
export const O_DIRECTORY: number = constants.O_DIRECTORY;
