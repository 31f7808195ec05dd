/** Authorization with Cedar: the policy bundle, its hash, and the evaluator. */
export { PolicyEngine } from './engine.ts';
export type { PolicyDecision } from './engine.ts';
export { PolicyBundleError, formatIssue } from './bundle-error.ts';
export type { BundleIssue } from './bundle-error.ts';
export { SHIPPED_POLICY_DIR, bundleHash, policyDirOf, readBundleFiles, readBundleHash } from './bundle-files.ts';
export type { BundleFile } from './bundle-files.ts';
export { POLICY_ACTIONS, PRINCIPAL_ROLES, rootOf, SECRET_ACTION } from './request.ts';
export type { PolicyAction, PolicyPrincipal, PolicyRequest, PolicySettings, PrincipalRole, SandboxSpec } from './request.ts';
