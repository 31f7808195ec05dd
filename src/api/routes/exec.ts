/**
 * `POST /api/v1/sandboxes/{id}/exec`: runs a command in a persistent sandbox. Output streams as
 * it happens (NDJSON by default, SSE on `Accept: text/event-stream`), ending with one exit frame;
 * or, with `?stream=false` / `Accept: application/json`, comes back collected in one JSON body.
 * `GET …/execs` lists the commands running, `DELETE …/execs/{exec_id}` kills one.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ExecOptions, ExecResult, ExecSession } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { BoundedCollector, chooseExecMode, type StreamFormat } from '../exec-stream.ts';
import { FrameStream } from '../frame-stream.ts';
import { checkPath, commandOf, decodeStdin, toLimits } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import { admit, targetOf } from '../admit.ts';
import type { ExecCollectedResponse } from '../schemas-sandboxes.ts';
import type { AuditReceipt } from '../../audit/receipt.ts';
import { execReceipt } from '../receipts.ts';
import { withImageCommand } from '../image-defaults.ts';

/** Registers the exec route. */
export function registerExecRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const spec = ROUTES.exec;

  app.post(spec.url, async (request, reply) => {
    const { id } = parseOrThrow(spec.params, request.params, 'params');
    const query = parseOrThrow(spec.query, request.query, 'query');
    const parsed = parseOrThrow(spec.body.schema, request.body, 'body');
    const stdin = decodeStdin(parsed.stdin, parsed.stdin_encoding);
    if (parsed.timeout_seconds !== undefined) toLimits({ timeout_seconds: parsed.timeout_seconds }, 'body.', ctx.policy);
    const info = ctx.service.get(id);
    // No command named: the default command of the image the sandbox runs, before policy sees it.
    const body = await withImageCommand(ctx.service, info.image_digest, parsed);
    const what = commandOf(body);
    const options: ExecOptions = {
      env: body.environment ?? {},
      stdin: stdin !== undefined,
      timeoutMs: Math.round((body.timeout_seconds ?? info.limits.timeout_seconds) * 1000),
    };
    if (what.command !== undefined) {
      options.argv = what.command;
    } else {
      options.code = what.code;
      options.language = what.language;
    }
    if (body.cwd !== undefined) options.cwd = checkPath('body.cwd', body.cwd);
    const mode = chooseExecMode(query.stream, request.headers.accept);
    const target = targetOf(ctx, id);
    await admit(ctx, request, { action: 'exec', sandbox: target, parameters: { ...options, stdin: stdin?.toString('base64') } });

    let session: ExecSession | undefined;
    let finished = false;
    let clientGone = false;
    const kill = () => {
      if (finished || session === undefined) return;
      try {
        session.kill();
      } catch (err) {
        reply.log.warn({ err }, 'could not kill an exec whose client left');
      }
    };
    // A client that goes away must not leave its command running unattended; listened for before
    // the exec starts, so a client gone while it was starting is caught too.
    reply.raw.on('close', () => {
      clientGone = true;
      kill();
    });
    session = await ctx.service.exec(id, options);
    const done = session.result.finally(() => {
      finished = true;
    });
    // Marked handled here; each mode still awaits it and reports a failure its own way.
    done.catch(() => undefined);
    // How it ended, after its admission record; its receipt goes with the exit.
    const execId = session.execId;
    const receipt = done.then((result) => execReceipt(ctx, request.log, target.owner, id, execId, result), () => undefined);
    if (clientGone) kill();
    reply.header('x-airlock-exec-id', session.execId).header('cache-control', 'no-store');

    if (mode === 'json') {
      const out = { stdout: new BoundedCollector(ctx.maxCollectedOutputBytes), stderr: new BoundedCollector(ctx.maxCollectedOutputBytes) };
      session.onStdout((c) => out.stdout.push(c));
      session.onStderr((c) => out.stderr.push(c));
      feedStdin(session, stdin);
      const result = await done;
      const stdoutData = out.stdout.result();
      const stderrData = out.stderr.result();
      const response: ExecCollectedResponse = {
        exec_id: session.execId,
        stdout: stdoutData.data,
        stderr: stderrData.data,
        stdout_encoding: stdoutData.encoding,
        stderr_encoding: stderrData.encoding,
        stdout_truncated: out.stdout.truncated,
        stderr_truncated: out.stderr.truncated,
        ...exitFields(result),
      };
      const final = await receipt;
      return final === undefined ? response : { ...response, receipt: final };
    }
    return streamSession(reply, session, done, receipt, mode, stdin, request.id);
  });

  const { listExecs, killExec } = ROUTES;
  app.get(listExecs.url, async (request) => {
    const { id } = parseOrThrow(listExecs.params, request.params, 'params');
    await admit(ctx, request, { action: 'read', sandbox: targetOf(ctx, id), parameters: {} });
    return { execs: ctx.service.listExecs(id) };
  });

  app.delete(killExec.url, async (request) => {
    const { id, exec_id } = parseOrThrow(killExec.params, request.params, 'params');
    // Why the exec action: ending a command is within what running one allows, no more.
    await admit(ctx, request, { action: 'exec', sandbox: targetOf(ctx, id), parameters: { kill_exec_id: exec_id } });
    ctx.service.killExec(id, exec_id);
    return { exec_id };
  });
}

function exitFields(r: ExecResult): Pick<ExecCollectedResponse, 'exit_code' | 'signal' | 'termination_reason' | 'duration_ms'> {
  return { exit_code: r.exit_code, signal: r.signal, termination_reason: r.termination_reason, duration_ms: r.duration_ms };
}

function feedStdin(session: ExecSession, stdin: Buffer | undefined): void {
  if (stdin === undefined) return;
  try {
    if (stdin.length > 0) session.writeStdin(stdin);
    session.closeStdin();
  } catch {
    // The command ended before reading its input; its exit frame says how it ended.
  }
}

function streamSession(reply: FastifyReply, session: ExecSession, done: Promise<ExecResult>, receipt: Promise<AuditReceipt | null | undefined>, format: StreamFormat, stdin: Buffer | undefined, requestId: string): FastifyReply {
  const stream = new FrameStream(format);
  session.onStdout((chunk) => stream.output('stdout', chunk));
  session.onStderr((chunk) => stream.output('stderr', chunk));
  feedStdin(session, stdin);
  done
    .then(async (result) => {
      const final = await receipt;
      stream.close({ type: 'exit', ...exitFields(result), ...(final === undefined ? {} : { receipt: final }) });
    })
    .catch((err: unknown) => stream.fail(reply, err, requestId, 'exec'));
  return stream.send(reply);
}
