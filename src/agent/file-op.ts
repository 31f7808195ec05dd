/**
 * The channel of one file operation (or ping): frames are handed to a collector until END (or
 * PONG) resolves it or ERROR rejects it with an AgentFileError carrying the errno name.
 */
import { AgentFileError, AgentProtocolError } from './errors.ts';
import { decodeError } from './messages.ts';
import { Ev, type Frame } from './protocol.ts';

/** What the client routes a channel's frames to. */
export interface Channel {
  handle(frame: Frame): void;
  fail(err: Error): void;
}

/** Takes one frame that is neither END nor ERROR; throws to refuse it. */
export type Collect = (frame: Frame, id: number) => void;

/** A channel for one operation on `path`; `forget` removes it from the client's table. */
export function fileOpChannel<T>(path: string, collect: (frame: Frame) => void, finish: () => T, forget: () => void): { channel: Channel; result: Promise<T> } {
  const state = Promise.withResolvers<T>();
  const channel: Channel = {
    handle: (frame) => {
      try {
        if (frame.type === Ev.end || frame.type === Ev.pong) {
          forget();
          state.resolve(finish());
        } else if (frame.type === Ev.error) {
          forget();
          const e = decodeError(frame.payload);
          state.reject(new AgentFileError(e.code, path, e.message, { errno: e.errno }));
        } else {
          collect(frame);
        }
      } catch (err) {
        forget();
        state.reject(err);
        // A malformed or out-of-place frame breaks the whole channel, not just this operation.
        if (err instanceof AgentProtocolError) throw err;
      }
    },
    fail: (err) => state.reject(err),
  };
  return { channel, result: state.promise };
}

/** A collector for operations that expect nothing but END. */
export function rejectFrame(frame: Frame): never {
  throw unexpected(frame);
}

/** The error for an event that has no place on its channel. */
export function unexpected(frame: Frame): AgentProtocolError {
  return new AgentProtocolError(`unexpected event 0x${frame.type.toString(16)} on channel ${frame.channel}`);
}
