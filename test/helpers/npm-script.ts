/** Running package.json scripts the way npm does, in tests that start and stop them. */
import { expect } from 'chai';
import { readFileSync } from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** A package.json script as argv, with `node` replaced by this Node binary. */
export function npmScriptCommand(name: string): { command: string; args: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = (pkg.scripts[name] ?? '').split(/\s+/).filter(Boolean);
  // `exec node …`: the shell npm runs the script in replaces itself with node (see README).
  if (words[0] === 'exec') words.shift();
  expect(words[0], `the ${name} script runs node`).to.equal('node');
  return { command: process.execPath, args: words.slice(1) };
}

/** Whether any process of the group led by `pid` is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
