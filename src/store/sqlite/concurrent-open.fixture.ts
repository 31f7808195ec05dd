// Opens the store given as argv[2] and registers principal argv[3] with the public key argv[4]:
// run by the store's tests as several processes at once.
import { SqliteStore } from './sqlite-store.ts';

const [path, name, pem] = process.argv.slice(2) as [string, string, string];
const store = await SqliteStore.open({ path });
await store.addPrincipal({ name, role: 'agent', publicKeyPem: pem });
await store.close();
