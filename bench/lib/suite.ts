/** What a benchmark module exports, and what the runner hands it. */
import type { BenchResult } from './report';

export interface SuiteContext {
  /** `--quick`: shorter windows and fewer configurations; under 2 minutes for the whole run. */
  quick: boolean;
  /** Extra node flags for role children (e.g. --cpu-prof for profiling), from `--child-flags`. */
  childFlags: string[];
  /** `--profile DIR`: benchmarks that support it write .cpuprofile files of their measurement window here. */
  profileDir: string | null;
  log(line: string): void;
}

export interface Suite {
  name: string;
  /** One line for --list. */
  title: string;
  run(context: SuiteContext): Promise<BenchResult>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Relay options for benchmarks: every simulated client shares 127.0.0.1, so the per-IP registration limit is lifted. */
export const BENCH_RELAY_OPTIONS = {
  registrationsPerIpPerSecond: 100_000,
  registrationBurstPerIp: 100_000,
};
