#!/usr/bin/env node
'use strict';
// The `switchboard` command: compiles the TypeScript sources on the fly (ts-node, transpile only)
// and runs server/cli.ts.
const path = require('path');

require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.json'),
});
require('./cli.ts').main();
