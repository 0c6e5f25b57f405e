/**
 * Records a connector cannot process go to the dead-letter topic with their original key, value and
 * headers plus the reason, so the department can inspect and replay them; the request itself is then
 * committed, so one bad record never blocks its partition.
 */
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import type { Logger } from '../../gateway/protocol/logger.js';
import { DEAD_LETTER_REASON_HEADER } from '../../gateway/protocol/topics.js';

/** Header values are kept short: a reason is a hint for a human, not a report. */
const MAX_REASON_LENGTH = 1000;

export async function publishDeadLetter(
  bus: Bus,
  topic: string,
  message: IncomingMessage,
  reason: string,
  logger: Logger,
): Promise<void> {
  logger.warn(
    { topic: message.topic, partition: message.partition, offset: message.offset, reason },
    'request dead-lettered',
  );
  await bus.publish(topic, [
    {
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DEAD_LETTER_REASON_HEADER]: reason.slice(0, MAX_REASON_LENGTH),
        silobridge_dead_letter_source: `${message.topic}/${message.partition}/${message.offset}`,
      },
    },
  ]);
}
