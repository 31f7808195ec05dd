/**
 * A sandbox's TLS trust store when it must trust more than its image does (the broker CA of its
 * egress proxy): the image's own bundle with the extra certificates appended, placed read-only
 * over TRUST_STORE_PATH by the driver, and the variables that point common clients (OpenSSL,
 * curl, Python requests, Node) at it. A failure is the control `secrets.broker_ca`: the sandbox
 * does not start.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ControlError } from '../host/control-error.ts';
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH } from '../host/open-flags.ts';

/** The Debian/Ubuntu/Alpine bundle path; drivers bind the composed bundle here. */
export const TRUST_STORE_PATH = '/etc/ssl/certs/ca-certificates.crt';

/** The control a trust store failure names. */
export const TRUST_STORE_CONTROL = 'secrets.broker_ca';

/**
 * Why every variable: each client family reads its own (Node adds NODE_EXTRA_CA_CERTS to its
 * built-in roots, Python requests and curl ignore the system path when theirs is set elsewhere).
 */
export const TRUST_STORE_ENV: Readonly<Record<string, string>> = Object.freeze({
  SSL_CERT_FILE: TRUST_STORE_PATH,
  NODE_EXTRA_CA_CERTS: TRUST_STORE_PATH,
  REQUESTS_CA_BUNDLE: TRUST_STORE_PATH,
  CURL_CA_BUNDLE: TRUST_STORE_PATH,
});

/** The most of an image's bundle that is read (Debian's is about 220 KiB). */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/**
 * The image's bundle (read below `rootfs` without following any link) followed by `anchors`.
 * Refuses an image without a bundle file there: the driver could not place one over it on a
 * read-only root, and its clients would not look for one.
 */
export function composeTrustBundle(rootfs: string, anchors: string): string {
  const image = readImageFile(rootfs, TRUST_STORE_PATH);
  const base = image.endsWith('\n') || image.length === 0 ? image : `${image}\n`;
  return `${base}${anchors.endsWith('\n') ? anchors : `${anchors}\n`}`;
}

/** A regular file of the image, each component opened with O_NOFOLLOW below the root's descriptor. */
function readImageFile(rootfs: string, path: string): string {
  const names = path.split('/').filter((n) => n.length > 0);
  let fd: number;
  try {
    fd = openSync(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  } catch (err) {
    throw new ControlError(TRUST_STORE_CONTROL, `cannot open the image root ${rootfs}: ${(err as Error).message}`, { cause: err });
  }
  let walked = '';
  try {
    for (const name of names) {
      // Why no-follow at each step: a link in the image (to a host file) must never be read as root.
      const next = openSync(`/proc/self/fd/${fd}/${name}`, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      closeSync(fd);
      fd = next;
      walked += `/${name}`;
      if (fstatSync(fd).isSymbolicLink()) throw new Error(`${walked} is a symbolic link`);
    }
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${walked} is not a regular file`);
    if (st.size > MAX_BUNDLE_BYTES) throw new Error(`${walked} is larger than ${MAX_BUNDLE_BYTES} bytes`);
    const file = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | O_CLOEXEC);
    try {
      const bytes = Buffer.alloc(st.size);
      let read = 0;
      while (read < bytes.length) {
        const n = readSync(file, bytes, read, bytes.length - read, read);
        if (n === 0) break;
        read += n;
      }
      return bytes.subarray(0, read).toString('utf8');
    } finally {
      closeSync(file);
    }
  } catch (err) {
    const detail = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `the image has no ${path} to add the broker CA to` : `cannot read the image's ${path}: ${(err as Error).message}`;
    throw new ControlError(TRUST_STORE_CONTROL, detail, { cause: err });
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Already closed by a failing step.
    }
  }
}
