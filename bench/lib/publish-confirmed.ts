// Publishing N messages with confirms through amqplib: at most `window` unconfirmed at a
// time (topped up once half are back), pausing while the channel's write buffer is full
// ('drain'). One loop for the amqplib benches and the scale tests.

import type { ConfirmChannel } from 'amqplib';

/** Sends message i (0-based) with `ch.publish(..., onConfirm)`; returns what publish returned. */
export type SendOne = (i: number, onConfirm: (err: unknown) => void) => boolean;

/** Resolves when all n are confirmed; rejects on the first nack. */
export function publishConfirmed(ch: ConfirmChannel, n: number, window: number, send: SendOne): Promise<void> {
  if (n === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let sent = 0;
    let confirmed = 0;
    let waitingForDrain = false;
    let failed = false;
    const onConfirm = (err: unknown): void => {
      if (failed) return;
      if (err) {
        failed = true;
        reject(err instanceof Error ? err : new Error('a publish was nacked'));
        return;
      }
      if (++confirmed === n) resolve();
      else if (sent - confirmed < window / 2) pump();
    };
    const pump = (): void => {
      if (waitingForDrain || failed) return;
      while (sent < n && sent - confirmed < window) {
        if (!send(sent++, onConfirm)) {
          waitingForDrain = true;
          ch.once('drain', () => {
            waitingForDrain = false;
            pump();
          });
          return;
        }
      }
    };
    pump();
  });
}
