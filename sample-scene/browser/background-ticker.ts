/**
 * Calls `onTick` every `intervalMs` even in a hidden tab. Browsers stop animation frames there
 * and throttle page timers to about one per second, which would make a background player answer
 * the network once a second; a worker's timer is not throttled that way, and its messages wake
 * the page. Falls back to a page timer where workers from blob URLs are not allowed.
 */
export interface Ticker {
  dispose(): void;
}

const WORKER_SOURCE = 'let t=null;onmessage=(e)=>{clearInterval(t);t=e.data>0?setInterval(()=>postMessage(0),e.data):null;};';

export function startBackgroundTicker(intervalMs: number, onTick: () => void): Ticker {
  try {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const worker = new Worker(url);
    URL.revokeObjectURL(url);
    worker.onmessage = () => onTick();
    worker.postMessage(intervalMs);
    return {
      dispose() {
        worker.terminate();
      },
    };
  } catch {
    const timer = setInterval(onTick, intervalMs);
    return {
      dispose() {
        clearInterval(timer);
      },
    };
  }
}
