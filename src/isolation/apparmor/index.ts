export { SANDBOX_PROFILE, BWRAP_USERNS_PROFILE, renderSandboxProfile, renderBwrapUsernsProfile, globsExcept } from './profile.ts';
export { detectAppArmor, loadedProfiles, parseLoadedProfiles, processLabel, usernsRestricted, KERNEL_PATHS, type AppArmorPaths, type AppArmorState } from './detect.ts';
export { checkSyntax, loadProfile, prepareConfinement, type Confinement } from './load.ts';
export { appArmorFacts, type AppArmorFact } from './report.ts';
export { bwrapUsernsStatus } from './bwrap-userns.ts';

/** How the agent's `--apparmor-stack` mode starts its message when it refuses to run a command (exit 126). */
export const APPARMOR_REFUSAL = 'airlock-agent: apparmor: ';
