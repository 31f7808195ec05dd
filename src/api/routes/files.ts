/**
 * Files inside a persistent sandbox: `GET|PUT /api/v1/sandboxes/{id}/files?path=` (raw bytes) and
 * `GET /api/v1/sandboxes/{id}/files/list?path=`. Paths are checked here (absolute, no NUL, no
 * `..`, length cap) before the service sees them; the service confines them to the sandbox by doing
 * the I/O through an agent inside it.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteContext } from '../context.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { checkPath } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import { admit, targetOf } from '../admit.ts';

/** Registers the file routes in their own scope: only they accept application/octet-stream. */
export function registerFilesRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { readFile, writeFile, listFiles } = ROUTES;

  app.get(readFile.url, async (request, reply) => {
    const { id } = parseOrThrow(readFile.params, request.params, 'params');
    const query = parseOrThrow(readFile.query, request.query, 'query');
    const path = checkPath('query.path', query.path);
    await admit(ctx, request, { action: 'files.read', sandbox: targetOf(ctx, id), parameters: { path } });
    const data = await ctx.service.readFile(id, path);
    // Served as an opaque download: a browser must never render sandbox-written bytes as a page.
    reply
      .type('application/octet-stream')
      .header('content-disposition', 'attachment')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store');
    return data;
  });

  app.get(listFiles.url, async (request) => {
    const { id } = parseOrThrow(listFiles.params, request.params, 'params');
    const query = parseOrThrow(listFiles.query, request.query, 'query');
    const path = checkPath('query.path', query.path);
    await admit(ctx, request, { action: 'files.read', sandbox: targetOf(ctx, id), parameters: { path } });
    return { path, entries: await ctx.service.listFiles(id, path) };
  });

  void app.register(async (scope) => {
    // In this scope only raw bytes are accepted: JSON (or anything else) is a 415, not a file.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: ctx.fileBodyLimit }, (_req, body, done) => done(null, body));
    const takeUploadSlot = async (_request: FastifyRequest, reply: FastifyReply) => {
      // Taken before the body is read: concurrent uploads, each buffered, must not add up unbounded.
      reply.raw.once('close', ctx.uploadGate.acquire());
    };
    scope.put(writeFile.url, { bodyLimit: ctx.fileBodyLimit, onRequest: takeUploadSlot }, async (request) => {
      const { id } = parseOrThrow(writeFile.params, request.params, 'params');
      const query = parseOrThrow(writeFile.query, request.query, 'query');
      const path = checkPath('query.path', query.path);
      const contentType = request.headers['content-type'];
      if (contentType === undefined || !/^application\/octet-stream\s*(;|$)/i.test(contentType)) {
        throw new ApiError('unsupported_media_type', 'file content must be sent as application/octet-stream');
      }
      const data = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      // Three octal digits at most (schema): setuid, setgid and sticky bits can't be requested.
      const mode = query.mode === undefined ? undefined : Number.parseInt(query.mode, 8);
      // An approval covers the content by its digest, not its bytes.
      const content = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      await admit(ctx, request, { action: 'files.write', sandbox: targetOf(ctx, id), parameters: { path, mode: mode ?? null, content } });
      await ctx.service.writeFile(id, path, data, mode);
      return { path, size: data.length };
    });
  });
}
