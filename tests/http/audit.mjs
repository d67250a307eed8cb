// GraphQL-over-HTTP conformance: runs graphql-http's auditServer against a running server.
//
//   node tests/http/audit.mjs http://127.0.0.1:8000/graphql [--preflight-header]
//
// Prints one line per audit (ok / notice / warn / error); exits 1 when any MUST audit fails
// (status "error"), 0 otherwise. SHOULD failures are printed as warnings and do not fail the run.
// With --preflight-header every request carries `Apollo-Require-Preflight: true`, as a client of a
// server with CSRF prevention does, so that the GET audits reach the endpoint too.
import { auditServer } from 'graphql-http';

const [url, flag] = process.argv.slice(2);
if (!url) {
  console.error('usage: node tests/http/audit.mjs <graphql url> [--preflight-header]');
  process.exit(2);
}
const fetchFn =
  flag === '--preflight-header'
    ? (input, init = {}) =>
        fetch(input, { ...init, headers: { ...(init.headers || {}), 'apollo-require-preflight': 'true' } })
    : fetch;

const results = await auditServer({ url, fetchFn });
let mustFailures = 0;
for (const result of results) {
  if (result.status === 'ok') {
    console.log(`ok     ${result.id} ${result.name}`);
    continue;
  }
  if (result.status === 'error') mustFailures += 1;
  const body = await result.response.text().catch(() => '');
  console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}: ${result.reason}`);
  console.log(`       status ${result.response.status}, body ${body.slice(0, 300)}`);
}
console.log(`${results.length} audits, ${mustFailures} MUST failures`);
process.exit(mustFailures ? 1 : 0);
