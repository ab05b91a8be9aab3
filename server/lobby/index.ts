export { startLobbyServer, type LobbyServer, type LobbyServerOptions, type LobbyServerStats } from './lobby-server';
export { runLobbyCli, parseLobbyCliArgs, LOBBY_CLI_USAGE } from './lobby-cli';
