/**
 * Image references as docker and skopeo write them: `[REGISTRY/]REPOSITORY[:TAG][@sha256:HEX]`.
 * Without a registry the reference is Docker Hub's (`docker.io`, one-part names under `library/`);
 * without a tag or digest it is `:latest`.
 */
import { ControlError } from '../../host/control-error.ts';
import { isDigest } from '../manifest.ts';

/** A parsed reference. */
export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path inside the registry (`library/alpine`). */
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
}

/** Docker Hub's name in references, and the host its API answers on. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

// The distribution spec's grammar for path components and tags.
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

function refused(ref: string, why: string): ControlError {
  return new ControlError('image_reference', `invalid image reference "${ref}": ${why}`);
}

/**
 * One spelling per registry: lower case, IPv4 and IPv6 in their canonical forms, no default HTTPS
 * port (kept on loopback, where plain HTTP may be spoken). Why: the image policy matches origins
 * as text, so `GHCR.IO` or `ghcr.io:443` must not escape a rule written for `ghcr.io`.
 */
function canonicalRegistry(registry: string): string | null {
  let url: URL;
  try {
    url = new URL(`https://${registry}/`);
  } catch {
    return null;
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname);
  return loopback && url.port === '' && registry.endsWith(':443') ? `${url.hostname}:443` : url.host;
}

/** Parses a reference; throws naming what is wrong. */
export function parseReference(ref: string): ImageReference {
  if (ref.length === 0 || ref.length > 512) throw refused(ref, 'empty or longer than 512 characters');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw refused(ref, 'a digest must be sha256:<64 lowercase hex>');
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw refused(ref, `tag "${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  // The first part is a registry when it looks like a host: a dot, a port, or localhost.
  if (parts.length > 1 && (/[.:]/.test(parts[0] ?? '') || parts[0] === 'localhost' || parts[0]?.startsWith('['))) {
    registry = parts.shift() as string;
    if (!REGISTRY_RE.test(registry)) throw refused(ref, `registry "${registry}" is not a host[:port]`);
    const canonical = canonicalRegistry(registry);
    if (canonical === null) throw refused(ref, `registry "${registry}" is not a host[:port]`);
    registry = canonical;
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!COMPONENT_RE.test(p)) throw refused(ref, `repository component "${p}" must be lowercase letters and digits, separated by '.', '_', '__' or '-'`);
  }
  const repository = parts.join('/');
  if (repository.length > 255) throw refused(ref, 'repository longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** `REGISTRY/REPOSITORY`: the origin the image policy matches. */
export function originOf(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The reference written back out (`REGISTRY/REPOSITORY[:TAG][@DIGEST]`). */
export function formatReference(ref: ImageReference): string {
  return `${originOf(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The host:port the registry's API answers on. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}
