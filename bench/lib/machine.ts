/** The machine a run happened on, for the JSON and the README table. */
import * as fs from 'fs';
import * as os from 'os';

export interface MachineInfo {
  cpus: number;
  model: string;
  node: string;
  platform: string;
  memoryGiB: number;
}

export function machineInfo(): MachineInfo {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) model = line.split(':').slice(1).join(':').trim();
  } catch {
    // Not Linux: os.cpus() already gave a model.
  }
  return {
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    model,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`;
}
