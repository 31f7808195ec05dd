/** Scan severities, lowest first: the order thresholds compare against. */
export const SCAN_SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

/** How serious a finding is. */
export type ScanSeverity = (typeof SCAN_SEVERITIES)[number];

/** The rank of `severity` (LOW = 0). */
export function severityRank(severity: ScanSeverity): number {
  return SCAN_SEVERITIES.indexOf(severity);
}

/** The highest severity among `findings`, or null when there are none. */
export function highestSeverity(findings: readonly { severity: ScanSeverity }[]): ScanSeverity | null {
  let best: ScanSeverity | null = null;
  for (const finding of findings) if (best === null || severityRank(finding.severity) > severityRank(best)) best = finding.severity;
  return best;
}
