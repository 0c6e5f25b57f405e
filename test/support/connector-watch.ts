/**
 * For tests of connectors run as their own process: collects, from the beginning, every heartbeat
 * (parsed) and every dead letter a department's connector writes, as an operator watching the topics
 * would see them.
 */
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { topicNames } from '../../gateway/protocol/topics.js';

export async function collectHeartbeatsAndDeadLetters(
  bus: Bus,
  topicPrefix: string,
  into: { heartbeats: unknown[]; deadLetters: IncomingMessage[] },
): Promise<Array<() => Promise<void>>> {
  const topics = topicNames(topicPrefix);
  const stops: Array<() => Promise<void>> = [];
  for (const [topic, collect] of [
    [topics.heartbeats, (message: IncomingMessage) => into.heartbeats.push(JSON.parse(message.value))],
    [topics.deadLetters, (message: IncomingMessage) => into.deadLetters.push(message)],
  ] as const) {
    const subscription = await bus.subscribe({
      topics: [topic],
      groupId: `${topicPrefix}.watch.${topic}`,
      fromBeginning: true,
      handle: async (message) => void collect(message),
    });
    stops.push(() => subscription.stop());
  }
  return stops;
}
