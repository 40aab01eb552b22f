// The userspace floor for a proxy: a bare Node TCP relay (`net` sockets piped both ways), no
// HTTP parsing at all. Usage: node bench/proxy/relay.js UPSTREAM_PORT; prints its port.
import { connect, createServer } from 'node:net';

const upstreamPort = Number(process.argv[2]);
const server = createServer((client) => {
  const up = connect(upstreamPort, '127.0.0.1');
  client.pipe(up);
  up.pipe(client);
  const end = () => {
    client.destroy();
    up.destroy();
  };
  client.on('error', end);
  up.on('error', end);
  client.on('close', end);
  up.on('close', end);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
