/**
 * Waits for the first bytes of a CONNECT tunnel and judges them as a TLS ClientHello, buffering at
 * most 16 KiB and at most `timeoutMs`. The socket is left paused with nothing consumed beyond the
 * returned bytes, ready to be piped upstream.
 */
import type { Duplex } from 'node:stream';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type SniVerdict } from './tls-sni.ts';

export type HelloOutcome = { verdict: SniVerdict | { kind: 'timeout' } | { kind: 'closed' }; bytes: Buffer };

export function awaitClientHello(socket: Duplex, head: Buffer, timeoutMs: number): Promise<HelloOutcome> {
  return new Promise((resolve) => {
    let bytes = head;
    const finish = (verdict: HelloOutcome['verdict']) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      socket.pause();
      resolve({ verdict, bytes });
    };
    const judge = () => {
      const verdict = parseClientHello(bytes);
      if (verdict.kind !== 'need_more') finish(verdict);
    };
    const onData = (chunk: Buffer) => {
      // Why: never hold more than one maximal ClientHello per client, whatever it sends.
      bytes = Buffer.concat([bytes, chunk.subarray(0, MAX_CLIENT_HELLO_BYTES + 1 - Math.min(bytes.length, MAX_CLIENT_HELLO_BYTES))]);
      judge();
    };
    const onClose = () => finish({ kind: 'closed' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    if (bytes.length > 0) {
      const verdict = parseClientHello(bytes);
      if (verdict.kind !== 'need_more') {
        clearTimeout(timer);
        resolve({ verdict, bytes });
        return;
      }
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
    socket.resume();
  });
}
