/** A throwaway self-signed TLS certificate for a test's listener (made by openssl in a temp dir). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Certificate and key files for CN=localhost (valid one day), and how to remove them. */
export function selfSignedCert(): { certFile: string; keyFile: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-test-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { certFile, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
