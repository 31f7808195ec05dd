/** The error every refused or failed import ends with: the message names the blob or entry at fault. */
import { ControlError } from '../../host/control-error.ts';

/** An image was refused (hostile or malformed input, a limit crossed) or could not be stored. */
export class ImportError extends ControlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('image import', message, options);
    this.name = 'ImportError';
  }
}
