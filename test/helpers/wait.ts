/**
 * Waiting for an event with a bound: a test never sleeps and hopes. `step` runs on every turn
 * (pumping managers, say); the wait ends when `condition` holds, or fails naming what it waited for.
 */
export async function waitFor(
  what: string,
  condition: () => boolean,
  options: { timeoutMs?: number; intervalMs?: number; step?: () => void } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 2;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    options.step?.();
    if (condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first value `subscribe` hands over, or rejects after `timeoutMs` naming `what`. */
export function nextValue<T>(what: string, subscribe: (deliver: (value: T) => void) => () => void, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unsubscribe: (() => void) | null = null;
    const timer = setTimeout(() => {
      unsubscribe?.();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    unsubscribe = subscribe((value) => {
      clearTimeout(timer);
      unsubscribe?.();
      resolve(value);
    });
  });
}
