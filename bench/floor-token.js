// FLOOR for token issuance (static user and anonymous): a bare node:http server that does the
// work every token server must do, without Purser's logic. It parses the query, takes the
// account from the Basic header (no password check, no ACL: every requested action is
// granted), and signs the same claims the same way Purser does (ES256, raw r||s via
// crypto.sign with dsaEncoding 'ieee-p1363', the same header and claims shape), and returns
// the same JSON. Configuration comes as JSON in the BENCH_FLOOR environment variable.
import { createServer } from 'node:http';
import { cfg, HEADERS, issue, respond, scopes } from './floor-common.js';

function basicUser(header) {
  if (!header?.startsWith('Basic ')) return '';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(0, decoded.indexOf(':'));
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if ((q < 0 ? url : url.slice(0, q)) !== '/token') {
    res.writeHead(404).end();
    return;
  }
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const body = issue(
    basicUser(req.headers.authorization),
    query.get('service') ?? cfg.service,
    scopes(query),
  );
  respond(res, 200, HEADERS, JSON.stringify(body));
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
