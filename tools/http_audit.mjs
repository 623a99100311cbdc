// GraphQL-over-HTTP audit (npm graphql-http) against a running server, with a bearer token.
// Usage: node tools/http_audit.mjs http://127.0.0.1:8000/graphql TOKEN
import { auditServer } from "graphql-http";

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  if (token) headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
let failed = 0;
for (const result of results) {
  if (result.status === "ok") continue;
  const level = result.name.split(" ")[0];
  if (level === "MUST" || level === "SHOULD") failed += 1;
  console.log(`${result.status.toUpperCase()} ${result.name}: ${result.reason}`);
}
console.log(`${results.length} audits, ${failed} MUST/SHOULD not ok`);
process.exit(failed ? 1 : 0);
