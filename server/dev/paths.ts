/** Where the dev stack finds the repository's files. */
import * as path from 'node:path';

export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');
