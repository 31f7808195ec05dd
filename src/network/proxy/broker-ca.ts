/**
 * The per-sandbox certificate authority the egress proxy terminates TLS with, for hosts a brokered
 * secret is bound to (and no other). It is made in memory when the sandbox starts: an ECDSA P-256
 * key that can't be exported, and a certificate the sandbox is told to trust. Leaves are minted
 * for one exact host each, on first use, and kept for the sandbox's life.
 *
 * Why one per sandbox: a CA another sandbox trusts can't mint for this one, and one sandbox's trust
 * ends with it. Why the key is not extractable: it never leaves the controller process, not even
 * to a file or a log by mistake.
 */
import 'reflect-metadata';
import { webcrypto, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

type WebCrypto = webcrypto.Crypto;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** What @peculiar/x509 takes as its crypto provider (its typings name the DOM's Crypto). */
type X509Crypto = Parameters<typeof x509.X509CertificateGenerator.create>[1];

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Clock skew a sandbox may have against the controller. */
const BACKDATE_MS = 60 * 60 * 1000;
/** Longer than any sandbox lives: both are dropped with the sandbox. */
const LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

/** A leaf certificate and its key, PEM, for `tls.createSecureContext`. */
export interface LeafCredentials {
  cert: string;
  key: string;
}

/** One sandbox's broker CA. */
export interface BrokerCa {
  /** The CA certificate (PEM) added to the sandbox's trust store. */
  readonly certificatePem: string;
  /** The leaf for exactly `host` (a canonical name or an IP literal), minted once per host. */
  leafFor(host: string): Promise<LeafCredentials>;
  /** Forgets the key and every minted leaf; leafFor fails afterwards. */
  dispose(): void;
}

/** Makes a fresh CA. `label` names the sandbox in the certificate's subject (for people reading it). */
export async function createBrokerCa(label: string): Promise<BrokerCa> {
  const crypto: WebCrypto = webcrypto;
  // Why extractable false: the private key can sign here and nowhere else.
  const keys = (await crypto.subtle.generateKey(EC_KEY, false, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const subject = `CN=airlock broker CA ${commonNameSafe(label)}, O=airlock`;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + LIFETIME_MS),
      keys: keys as never,
      signingAlgorithm: SIGNING,
      extensions: [
        // Why pathLength 0: it can sign leaves only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never, false, crypto as unknown as X509Crypto),
      ],
    },
    crypto as unknown as X509Crypto,
  );
  let signingKey: CryptoKey | undefined = keys.privateKey;
  const leaves = new Map<string, Promise<LeafCredentials>>();
  return {
    certificatePem: certificate.toString('pem'),
    leafFor(host: string) {
      const key = signingKey;
      if (key === undefined) return Promise.reject(new Error('the broker CA was disposed'));
      let leaf = leaves.get(host);
      if (leaf === undefined) {
        leaf = mintLeaf(crypto, certificate, key, host);
        leaves.set(host, leaf);
        leaf.catch(() => leaves.delete(host));
      }
      return leaf;
    },
    dispose() {
      signingKey = undefined;
      leaves.clear();
    },
  };
}

async function mintLeaf(crypto: WebCrypto, ca: x509.X509Certificate, caKey: CryptoKey, host: string): Promise<LeafCredentials> {
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const ip = isIP(host) !== 0;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: ip ? 'CN=airlock brokered host' : `CN=${commonNameSafe(host)}`,
      issuer: ca.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + LIFETIME_MS),
      publicKey: keys.publicKey as never,
      signingKey: caKey as never,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        // Why this one name only: the leaf must be good for the host it was minted for and no other.
        new x509.SubjectAlternativeNameExtension([{ type: ip ? 'ip' : 'dns', value: host }], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never, false, crypto as unknown as X509Crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto as unknown as X509Crypto),
      ],
    },
    crypto as unknown as X509Crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

/** A positive 128-bit serial (hex, top bit clear so DER never reads it as negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function commonNameSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 60);
}
