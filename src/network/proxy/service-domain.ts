/** Internal services are reached as `http://<name>.airlock.internal` (a name no public DNS has). */
export const INTERNAL_SERVICE_DOMAIN = 'airlock.internal';
