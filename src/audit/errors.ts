/** The audit log's own failure: the store could not take a record, so what it would record must not proceed. */

/** Thrown by `AuditLog.append` when the store refused the write; `cause` holds the store's error. */
export class AuditUnavailable extends Error {
  override readonly name = 'AuditUnavailable';
  readonly code = 'audit_unavailable' as const;
}
