// The GraphQL-over-HTTP audit of the npm package graphql-http, against a running server.
//
//   node tools/http_audit.mjs <graphql url> <dir with node_modules/graphql-http>
//
// Runs every audit anonymously and, when CRM_AUDIT_TOKEN is set, again with
// `Authorization: Bearer $CRM_AUDIT_TOKEN`. Prints each audit that did not pass and exits
// 1 when a MUST or a SHOULD failed (MAY failures are listed, and allowed), except, without
// a token, the two audits that introspect: introspection is for signed-in callers.
// tools/http_audit.sh installs the package, starts a server and runs this.

import { createRequire } from 'node:module';
import { join } from 'node:path';

const [url, depsDir] = process.argv.slice(2);
if (!url || !depsDir) {
  console.error('usage: node tools/http_audit.mjs <graphql url> <dir with node_modules>');
  process.exit(2);
}
const require = createRequire(join(depsDir, 'package.json'));
const { auditServer } = require('graphql-http');

function withToken(token) {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

// Audits that query `__type`: anonymous callers get UNAUTHENTICATED, by design.
const INTROSPECTING = new Set(['28B9', '2EA1']);

const runs = [['without a token', fetch, INTROSPECTING]];
if (process.env.CRM_AUDIT_TOKEN) {
  runs.push(['with a token', withToken(process.env.CRM_AUDIT_TOKEN), new Set()]);
}

let failed = 0;
for (const [label, fetchFn, expected] of runs) {
  const results = await auditServer({ url, fetchFn });
  const counts = { ok: 0, notice: 0, warn: 0, error: 0, expected: 0 };
  for (const result of results) {
    const status = result.status !== 'ok' && expected.has(result.id) ? 'expected' : result.status;
    counts[status] += 1;
    if (status !== 'ok') {
      const body = await result.response.text().catch(() => '');
      console.log(`  [${status}] ${result.id} ${result.name}: ${result.reason}`);
      console.log(`      ${result.response.status} ${body.slice(0, 160)}`);
    }
  }
  failed += counts.error + counts.warn;
  console.log(
    `${label}: ${results.length} audits, ${counts.ok} ok, ${counts.error} MUST failed, ` +
      `${counts.warn} SHOULD failed, ${counts.notice} MAY not done` +
      (counts.expected ? `, ${counts.expected} refused by design (introspection)` : ''),
  );
}
process.exit(failed ? 1 : 0);
