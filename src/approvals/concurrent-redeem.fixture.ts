// Redeems approval argv[3] (digest argv[4]) as the caller argv[5] (JSON) in the store argv[2], and
// prints `redeemed` or the refusal's code: run by the gate's tests as several processes at once.
import type { Caller } from '../admission/caller.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { ApprovalRefusal, StoreApprovalGate } from './gate.ts';

const [path, approvalId, actionDigest, callerJson] = process.argv.slice(2) as [string, string, string, string];
const store = await SqliteStore.open({ path });
try {
  await new StoreApprovalGate({ store }).redeem({ approvalId, actionDigest, requester: JSON.parse(callerJson) as Caller });
  process.stdout.write('redeemed');
} catch (err) {
  if (!(err instanceof ApprovalRefusal)) throw err;
  process.stdout.write(err.code);
} finally {
  await store.close();
}
