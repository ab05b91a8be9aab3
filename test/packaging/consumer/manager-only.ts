// The smallest game: NetworkManager alone (the bundle must hold neither Babylon nor colyseus.js).
import { NetworkManager, Result } from 'switchboard';

const manager = new NetworkManager({ relay: 'wss://relay.example.test:443' });
if (manager.flush() !== Result.Ok) console.warn('not registered yet');
