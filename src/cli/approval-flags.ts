/**
 * The approval options of commands whose request policy may send to an approver: `--approval ID`
 * and `--wait`. No heavy imports: commands register these at start-up; approval-retry.ts acts on
 * them when the command runs.
 */

/** Help of `--approval`. */
export const APPROVAL_HELP = 'run on this approval once an approver has approved it: repeat exactly the command that was sent for approval';
/** Help of `--wait`. */
export const WAIT_HELP = 'when the request needs an approval, wait for the decision and run it once approved';

/** The approval options of a command. */
export interface ApprovalFlags {
  /** `--approval ID`: run on this approved approval. */
  approval?: string | undefined;
  /** `--wait`: wait for the decision and run once approved. */
  wait?: boolean | undefined;
  /** `--json`: the pending approval is also printed to stdout as JSON. */
  json?: boolean | undefined;
  raw?: boolean | undefined;
}
