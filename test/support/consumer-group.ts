/**
 * A consumer group as the broker's coordinator sees it (kafkajs admin `describeGroups`): its state and
 * which partitions each member holds. Fault drills poll it to time a rebalance from the outside.
 */
import { type Admin, AssignerProtocol, Kafka, logLevel } from 'kafkajs';

export interface GroupView {
  state: string;
  /** One entry per member: its client id and the partitions it was assigned. */
  members: Array<{ memberId: string; clientId: string; partitions: number[] }>;
}

export interface GroupWatcher {
  describe(): Promise<GroupView>;
  close(): Promise<void>;
}

export async function watchConsumerGroup(brokers: string[], groupId: string): Promise<GroupWatcher> {
  const admin: Admin = new Kafka({
    clientId: `group-watch-${process.pid}`,
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  return {
    async describe() {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      return {
        state: group?.state ?? 'Unknown',
        members: (group?.members ?? []).map((member) => {
          const assignment =
            member.memberAssignment.length > 0
              ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment)
              : null;
          return {
            memberId: member.memberId,
            clientId: member.clientId,
            partitions: Object.values(assignment?.assignment ?? {}).flat(),
          };
        }),
      };
    },
    close: () => admin.disconnect(),
  };
}
