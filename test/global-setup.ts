import { buildWebPage } from '../scripts/build-web.ts';

/**
 * Once before every test run: the web page the gateways serve is built from web/ as it is
 * now (rebuilt when any input changed), so no test sees a stale page.
 */
export default async function setup(): Promise<void> {
  await buildWebPage();
}
