// Node CommonJS: a relay and two managers (udp:// on 127.0.0.1), one reliable message delivered.
const { startRelay } = require('switchboard-server');
const { NetworkManager, Result } = require('switchboard');
const { deliverOne } = require('./deliver-one.cjs');

deliverOne({ startRelay, NetworkManager, Result }, 'hello from CJS').catch((error) => {
  console.error(error);
  process.exit(1);
});
