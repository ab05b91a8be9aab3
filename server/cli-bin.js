#!/usr/bin/env node
'use strict';
// The `switchboard` command. Installed from the switchboard-server package it runs the compiled
// dist/cli.cjs with plain node. In the repository (the TypeScript sources sit next to this file)
// it compiles server/cli.ts on the fly with ts-node, so no build step is needed while developing.
const fs = require('fs');
const path = require('path');

if (fs.existsSync(path.join(__dirname, 'cli.ts'))) {
  require('ts-node').register({
    transpileOnly: true,
    project: path.join(__dirname, '..', 'tsconfig.json'),
  });
  require('./cli.ts').main();
} else {
  require('./dist/cli.cjs').main();
}
