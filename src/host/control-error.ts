/**
 * The error every hardening control fails with (fail closed: the sandbox does not start and the
 * error names the control). Used by the drivers, images, network and the host helpers alike.
 */
/** Raised when a hardening control cannot be applied; the sandbox does not start. */
export class ControlError extends Error {
  readonly control: string;
  constructor(control: string, message: string, options?: { cause?: unknown }) {
    super(`${control}: ${message}`, options);
    this.name = 'ControlError';
    this.control = control;
  }
}

/** The controls that refuse what a request asks for (as opposed to failing on the host). */
export type RefusingControl = 'filesystem_access' | 'workdir';

/**
 * A control refused the request itself (a host path that may not be granted, a mount target or
 * workdir the image can't have): the caller's to fix, nothing ran. Callers answer it as a refusal
 * (`<control>_refused`), never as a sandbox result; other ControlErrors are host faults.
 */
export class RefusedControlError extends ControlError {
  declare readonly control: RefusingControl;
  constructor(control: RefusingControl, message: string, options?: { cause?: unknown }) {
    super(control, message, options);
    this.name = 'RefusedControlError';
  }
}
