// The game's servers on 127.0.0.1: a relay with a fresh secret, a lobby that hands out tokens
// for it, and a static server for public/ plus /config.json. Ctrl-C stops everything.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { generateRelaySecret, startLobbyServer, startRelay } from 'switchboard-server';

const HOST = '127.0.0.1';
const secret = generateRelaySecret();
const relay = await startRelay({ host: HOST, port: 7777, secret });
const lobby = await startLobbyServer({ host: HOST, port: 2567, relaySecret: secret });
const config = JSON.stringify({ relay: relay.wsUrl, lobbyUrl: lobby.url });
const files = { '/': ['public/index.html', 'text/html'], '/app.js': ['public/app.js', 'text/javascript'] };

const http = createServer(async (request, response) => {
  if (request.url === '/config.json') return void response.writeHead(200, { 'content-type': 'application/json' }).end(config);
  const file = files[request.url ?? ''];
  if (file === undefined) return void response.writeHead(404).end();
  response.writeHead(200, { 'content-type': file[1] }).end(await readFile(new URL(file[0], import.meta.url)));
});
http.listen(8080, HOST, () => console.log(`open http://${HOST}:8080/ in two tabs (arrow keys move your cube)`));

process.once('SIGINT', async () => {
  http.close();
  await lobby.close();
  await relay.close();
  process.exit(0);
});
