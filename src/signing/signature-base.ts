/**
 * The signature base (RFC 9421 §2.5) and the signature parameters it ends with.
 */
import { serializeInnerList, serializeItem, type InnerList, type Item, type Parameters } from 'structured-headers';
import { ComponentError, componentValue } from './components.ts';
import type { SignableRequest } from './message.ts';

/** One covered component: its identifier name and (unsupported, so normally empty) parameters. */
export interface CoveredComponent {
  readonly name: string;
  readonly parameters: Parameters;
}

/** The covered components with the signature parameters: the value of one Signature-Input member. */
export interface SignatureParameters {
  readonly components: readonly CoveredComponent[];
  /** created, expires, nonce, alg, keyid, tag — in the order they are serialized. */
  readonly parameters: Parameters;
}

/** The `@signature-params` value: the serialized inner list, as it appears in Signature-Input. */
export function serializeSignatureParams(params: SignatureParameters): string {
  return serializeInnerList(toInnerList(params));
}

/** The structured-field inner list for `params`. */
export function toInnerList(params: SignatureParameters): InnerList {
  return [params.components.map((c): Item => [c.name, new Map(c.parameters)]), new Map(params.parameters)];
}

/**
 * Builds the signature base of `request` for `params` exactly per RFC 9421 §2.5: one line per covered
 * component (`"id": value`), then `"@signature-params": …` with no trailing newline.
 * Throws ComponentError when a component is repeated, unsupported or absent.
 */
export function signatureBase(request: SignableRequest, params: SignatureParameters): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const component of params.components) {
    const identifier = serializeItem(component.name, component.parameters);
    // §2.5: a component identifier may occur only once.
    if (seen.has(identifier)) throw new ComponentError('invalid', `component ${identifier} is covered twice`);
    seen.add(identifier);
    // §2.3: @signature-params is the last line by construction and never a covered component.
    if (component.name === '@signature-params') throw new ComponentError('invalid', '@signature-params cannot be a covered component');
    lines.push(`${identifier}: ${componentValue(component.name, component.parameters, request)}\n`);
  }
  return `${lines.join('')}"@signature-params": ${serializeSignatureParams(params)}`;
}
