/** A malformed or out-of-range option: reported with the option's name, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
