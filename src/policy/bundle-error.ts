/** The error of a policy bundle that cannot be used: every problem found, each with its place. */

/** One problem in one bundle file, at a 1-based line and column (0 when the file as a whole is meant). */
export interface BundleIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Formats an issue as `file:line:column: message`, the form editors jump to. */
export function formatIssue(issue: BundleIssue): string {
  const place = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${place}: ${issue.message}`;
}

/** A policy bundle that failed to load or validate; `issues` lists every problem found. */
export class PolicyBundleError extends Error {
  override readonly name = 'PolicyBundleError';
  readonly code = 'policy_bundle_invalid';
  readonly issues: readonly BundleIssue[];

  constructor(dir: string, issues: readonly BundleIssue[]) {
    super(`invalid policy bundle ${dir}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
    this.issues = issues;
  }
}
