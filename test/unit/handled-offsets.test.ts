/**
 * HandledOffsets (gateway/bus/handled-offsets.ts): the commit points a Kafka subscription keeps between
 * its commits. The Kafka side (when it commits, against a real broker) is in
 * test/integration/kafka-offset-commits.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HandledOffsets } from '../../gateway/bus/handled-offsets.js';

describe('HandledOffsets', () => {
  it('commits past the last handled message of each partition, as a decimal string', () => {
    const offsets = new HandledOffsets();
    offsets.handled('requests', 0, '41');
    offsets.handled('requests', 0, '42');
    offsets.handled('requests', 3, '9007199254740993');
    expect(offsets.uncommitted()).toEqual([
      { topic: 'requests', partition: 0, offset: '43' },
      { topic: 'requests', partition: 3, offset: '9007199254740994' },
    ]);
  });

  it('offers a position again only once it moved past what the broker acknowledged', () => {
    const offsets = new HandledOffsets();
    offsets.handled('t', 0, '5');
    offsets.committed([{ topic: 't', partition: 0, offset: '6' }]);
    expect(offsets.hasUncommitted()).toBe(false);
    expect(offsets.isCommitted([{ topic: 't', partition: 0, offset: '6' }])).toBe(true);
    offsets.handled('t', 0, '6');
    expect(offsets.uncommitted()).toEqual([{ topic: 't', partition: 0, offset: '7' }]);
    expect(offsets.isCommitted([{ topic: 't', partition: 0, offset: '7' }])).toBe(false);
  });

  it('never moves a commit point back when messages handled before come again', () => {
    const offsets = new HandledOffsets();
    offsets.handled('t', 0, '10');
    offsets.handled('t', 0, '4');
    expect(offsets.uncommitted()).toEqual([{ topic: 't', partition: 0, offset: '11' }]);
  });

  it('forgets partitions outside a new assignment, and everything on clear()', () => {
    const offsets = new HandledOffsets();
    offsets.handled('a', 0, '1');
    offsets.handled('a', 1, '1');
    offsets.handled('b', 0, '1');
    offsets.retainOnly({ a: [1] });
    expect(offsets.uncommitted()).toEqual([{ topic: 'a', partition: 1, offset: '2' }]);
    // An acknowledgement for a forgotten partition is ignored, not revived.
    offsets.committed([{ topic: 'b', partition: 0, offset: '2' }]);
    expect(offsets.uncommitted()).toHaveLength(1);
    expect(offsets.clear()).toEqual([{ topic: 'a', partition: 1, offset: '2' }]);
    expect(offsets.hasUncommitted()).toBe(false);
  });
});
