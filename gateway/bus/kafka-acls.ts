/**
 * Kafka ACLs that make the broker itself keep the departments apart (docs/operations.md, "Kafka
 * principals and ACLs"). departmentAclBindings() is pure: from the topic prefix, a list of department
 * codes and the principals' names it lists what each principal may do, as plain rows to print or
 * apply. applyAcls() creates the missing ones through the Kafka admin API, and can remove those of
 * connector principals whose department is no longer listed; applyAclsToCluster() does the same with
 * an admin client built like the bus's (createKafkaClient).
 */
import kafkajs, { type Admin } from 'kafkajs';
import { DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';
import { type TopicNames, topicNames } from '../protocol/topics.js';
import { createKafkaClient, type KafkaClientOptions } from './kafka-bus.js';
import { errorType, explainConnectionError } from './kafka-errors.js';

// kafkajs is CommonJS, and Node's ESM loader cannot see these among its named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export type AclResourceType = 'TOPIC' | 'GROUP' | 'CLUSTER';
export type AclPatternType = 'LITERAL' | 'PREFIXED';
export type AclOperation = 'READ' | 'WRITE' | 'CREATE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS' | 'ALTER_CONFIGS';

/** An ACL as the cluster holds it, every enum by Kafka's own name (as kafka-acls.sh prints them). */
export interface KafkaAcl {
  principal: string;
  host: string;
  resourceType: string;
  resourceName: string;
  patternType: string;
  operation: string;
  permission: string;
}

/** One ACL SiloBridge grants: an ALLOW for a `User:<name>` principal, from any host. */
export interface AclBinding extends KafkaAcl {
  host: '*';
  resourceType: AclResourceType;
  patternType: AclPatternType;
  operation: AclOperation;
  permission: 'ALLOW';
}

export interface DepartmentAclOptions {
  /** SILOBRIDGE_TOPIC_PREFIX. */
  topicPrefix: string;
  /** The departments whose connectors get their fences: their codes, the only input that varies. */
  departments: readonly string[];
  /** The gateway's SASL user name (all gateway instances share it). */
  gatewayPrincipal: string;
  /** The SASL user name of a department's connectors; default `connector-<department>`. */
  connectorPrincipal?: (department: string) => string;
}

export const DEFAULT_GATEWAY_PRINCIPAL = 'gateway';
/** The name Kafka gives the one CLUSTER resource. */
export const CLUSTER_RESOURCE = 'kafka-cluster';

export function defaultConnectorPrincipal(department: string): string {
  return `connector-${department}`;
}

/** SASL user names as SiloBridge writes them into principals: no spaces, wildcards or separators. */
const USER_NAME = /^[A-Za-z0-9._@-]{1,255}$/;

/**
 * What each principal may do. The gateway's rows do not depend on the departments: it creates and
 * describes every `<prefix>.` topic (and alters their configs, for retention), writes every request
 * topic and the dead letters, reads every reply topic and the heartbeats in its `<prefix>.gateway.`
 * groups. A department's connector reads only its own request topic in its own group, and writes
 * only replies, heartbeats and dead letters: it creates nothing, and reads no reply.
 */
export function departmentAclBindings(options: DepartmentAclOptions): AclBinding[] {
  const { topicPrefix } = options;
  // The rule SILOBRIDGE_TOPIC_PREFIX is held to (gateway/foundation/config.ts).
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(topicPrefix)) {
    throw new Error(`invalid topic prefix ${JSON.stringify(topicPrefix)} (see SILOBRIDGE_TOPIC_PREFIX).`);
  }
  const topics = topicNames(topicPrefix);
  const gateway = principalOf(options.gatewayPrincipal, 'the gateway');
  const owners = new Map([[gateway, 'the gateway']]);
  const bindings = gatewayBindings(gateway, topicPrefix, topics);
  const connectorPrincipal = options.connectorPrincipal ?? defaultConnectorPrincipal;
  for (const department of new Set(options.departments)) {
    if (!DEPARTMENT_CODE_PATTERN.test(department)) {
      throw new Error(
        `invalid department code ${JSON.stringify(department)}: use lower-case letters, digits and -, ` +
          'starting with a letter.',
      );
    }
    const owner = `department ${department}`;
    const principal = principalOf(connectorPrincipal(department), owner);
    const other = owners.get(principal);
    if (other) {
      throw new Error(
        `${principal} would be the principal of both ${other} and ${owner}: each needs its own.`,
      );
    }
    owners.set(principal, owner);
    bindings.push(...connectorBindings(principal, department, topics));
  }
  return bindings;
}

function gatewayBindings(principal: string, prefix: string, topics: TopicNames): AclBinding[] {
  return [
    ...allow(principal, 'TOPIC', 'PREFIXED', `${prefix}.`, [
      'CREATE',
      'DESCRIBE',
      'DESCRIBE_CONFIGS',
      'ALTER_CONFIGS',
    ]),
    ...allow(principal, 'TOPIC', 'PREFIXED', topics.lookupRequests(''), ['WRITE']),
    ...allow(principal, 'TOPIC', 'LITERAL', topics.deadLetters, ['WRITE']),
    // Signed audit checkpoints, for anyone who keeps a copy (docs/audit.md).
    ...allow(principal, 'TOPIC', 'LITERAL', topics.auditCheckpoints, ['WRITE']),
    ...allow(principal, 'TOPIC', 'PREFIXED', topics.lookupReplies(''), ['READ']),
    ...allow(principal, 'TOPIC', 'LITERAL', topics.heartbeats, ['READ']),
    // Every department's change events, taken in by the group all gateway instances share.
    ...allow(principal, 'TOPIC', 'PREFIXED', topics.recordChanges(''), ['READ']),
    ...allow(principal, 'GROUP', 'LITERAL', topics.recordChangesGroup, ['READ']),
    // Every gateway instance's groups (its replies, its heartbeats).
    ...allow(principal, 'GROUP', 'PREFIXED', topics.gatewayGroups(''), ['READ']),
    ...allow(principal, 'CLUSTER', 'LITERAL', CLUSTER_RESOURCE, ['DESCRIBE']),
  ];
}

/** DESCRIBE is implied by READ and WRITE in Kafka; it is listed so the table says it all. */
function connectorBindings(principal: string, department: string, topics: TopicNames): AclBinding[] {
  return [
    ...allow(principal, 'TOPIC', 'LITERAL', topics.lookupRequests(department), ['READ', 'DESCRIBE']),
    ...allow(principal, 'GROUP', 'LITERAL', topics.connectorGroup(department), ['READ', 'DESCRIBE']),
    ...allow(principal, 'TOPIC', 'PREFIXED', topics.lookupReplies(''), ['WRITE', 'DESCRIBE']),
    ...allow(principal, 'TOPIC', 'LITERAL', topics.heartbeats, ['WRITE', 'DESCRIBE']),
    ...allow(principal, 'TOPIC', 'LITERAL', topics.deadLetters, ['WRITE', 'DESCRIBE']),
    // Changes of records the department holds: its own topic only.
    ...allow(principal, 'TOPIC', 'LITERAL', topics.recordChanges(department), ['WRITE', 'DESCRIBE']),
    // Departments keep copies of the signed audit checkpoints (silobridge audit checkpoints --from-kafka).
    ...allow(principal, 'TOPIC', 'LITERAL', topics.auditCheckpoints, ['READ', 'DESCRIBE']),
    ...allow(principal, 'GROUP', 'PREFIXED', `${topics.auditCheckpoints}.`, ['READ']),
  ];
}

function allow(
  principal: string,
  resourceType: AclResourceType,
  patternType: AclPatternType,
  resourceName: string,
  operations: AclOperation[],
): AclBinding[] {
  return operations.map((operation) => ({
    principal,
    host: '*',
    resourceType,
    resourceName,
    patternType,
    operation,
    permission: 'ALLOW',
  }));
}

function principalOf(name: string, owner: string): string {
  if (!USER_NAME.test(name)) {
    throw new Error(
      `invalid principal name ${JSON.stringify(name)} for ${owner}: a SASL user name of letters, ` +
        'digits, ., _, @ and -.',
    );
  }
  return `User:${name}`;
}

/** The part of the kafkajs admin client applyAcls() uses. */
export type AclAdmin = Pick<Admin, 'createAcls' | 'describeAcls' | 'deleteAcls'>;

export interface ApplyAclsOptions {
  /**
   * Also delete the ACLs on `<topicPrefix>.` topics and groups that belong to connector principals
   * (those `isConnectorPrincipal` accepts, given `User:<name>`) not among the bindings' principals:
   * the fences of departments no longer listed. ACLs of listed principals are never deleted.
   */
  removeStale?: { topicPrefix: string; isConnectorPrincipal: (principal: string) => boolean };
}

export interface ApplyAclsReport {
  /** Bindings the cluster did not have, created now. */
  added: AclBinding[];
  alreadyPresent: AclBinding[];
  /** ACLs deleted under `removeStale`. */
  removed: KafkaAcl[];
}

/** A refusal of the admin API calls that manage ACLs, said so an operator knows what to change. */
export class KafkaAclError extends Error {
  override readonly name = 'KafkaAclError';
}

/**
 * Makes the cluster hold every binding: reads its ACLs once, creates the missing bindings (Kafka
 * ignores duplicates, so running it again changes nothing), and, with `removeStale`, deletes the
 * stale connector ACLs. Needs a principal that may describe and alter the cluster's ACLs.
 */
export async function applyAcls(
  admin: AclAdmin,
  bindings: readonly AclBinding[],
  options: ApplyAclsOptions = {},
): Promise<ApplyAclsReport> {
  try {
    const existing = await describeAllAcls(admin);
    const present = new Set(existing.map(aclKey));
    const added = bindings.filter((binding) => !present.has(aclKey(binding)));
    const alreadyPresent = bindings.filter((binding) => present.has(aclKey(binding)));
    if (added.length > 0) {
      await admin.createAcls({ acl: added.map(toKafkajsAcl) });
      await untilVisible(admin, added);
    }

    const removed = options.removeStale ? staleConnectorAcls(existing, bindings, options.removeStale) : [];
    if (removed.length > 0) await admin.deleteAcls({ filters: removed.map(toKafkajsAcl) });
    return { added, alreadyPresent, removed };
  } catch (error) {
    throw explainAclError(error);
  }
}

/** How long applyAcls waits for the ACLs it created to show (KRaft applies them asynchronously). */
const ACL_VISIBLE_TIMEOUT_MS = 10_000;

/**
 * createAcls answers once the controller accepted the ACLs; brokers apply them a moment later. Waits
 * until they show, so whoever applied them (a test, an operator running --apply twice, a connector
 * started right after) sees them in force.
 */
async function untilVisible(admin: AclAdmin, created: readonly AclBinding[]): Promise<void> {
  const deadline = Date.now() + ACL_VISIBLE_TIMEOUT_MS;
  for (;;) {
    const present = new Set((await describeAllAcls(admin)).map(aclKey));
    if (created.every((binding) => present.has(aclKey(binding))) || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** applyAcls() through an admin client built from the brokers and security the gateway uses. */
export async function applyAclsToCluster(
  client: KafkaClientOptions,
  bindings: readonly AclBinding[],
  options: ApplyAclsOptions = {},
): Promise<ApplyAclsReport> {
  const admin = createKafkaClient(client).admin();
  try {
    await admin.connect();
    return await applyAcls(admin, bindings, options);
  } catch (error) {
    throw explainConnectionError(error, client.security?.sasl);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function staleConnectorAcls(
  existing: KafkaAcl[],
  bindings: readonly AclBinding[],
  { topicPrefix, isConnectorPrincipal }: NonNullable<ApplyAclsOptions['removeStale']>,
): KafkaAcl[] {
  const listed = new Set(bindings.map((binding) => binding.principal));
  return existing.filter(
    (acl) =>
      isConnectorPrincipal(acl.principal) &&
      !listed.has(acl.principal) &&
      (acl.resourceType === 'TOPIC' || acl.resourceType === 'GROUP') &&
      acl.resourceName.startsWith(`${topicPrefix}.`),
  );
}

async function describeAllAcls(admin: AclAdmin): Promise<KafkaAcl[]> {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  return resources.flatMap((resource) =>
    resource.acls.map((acl) => ({
      principal: acl.principal,
      host: acl.host,
      resourceType: kafkajsName(AclResourceTypes, resource.resourceType),
      resourceName: resource.resourceName,
      patternType: kafkajsName(ResourcePatternTypes, resource.resourcePatternType),
      operation: kafkajsName(AclOperationTypes, acl.operation),
      permission: kafkajsName(AclPermissionTypes, acl.permissionType),
    })),
  );
}

function aclKey(acl: KafkaAcl): string {
  return JSON.stringify([
    acl.principal,
    acl.host,
    acl.resourceType,
    acl.resourceName,
    acl.patternType,
    acl.operation,
    acl.permission,
  ]);
}

/** An ACL in kafkajs's terms: an entry to create, or the exact filter that deletes only it. */
function toKafkajsAcl(acl: KafkaAcl) {
  return {
    principal: acl.principal,
    host: acl.host,
    resourceType: kafkajsValue(AclResourceTypes, acl.resourceType),
    resourceName: acl.resourceName,
    resourcePatternType: kafkajsValue(ResourcePatternTypes, acl.patternType),
    operation: kafkajsValue(AclOperationTypes, acl.operation),
    permissionType: kafkajsValue(AclPermissionTypes, acl.permission),
  };
}

function kafkajsName(values: Record<string, number | string>, value: number): string {
  return Object.keys(values).find((name) => values[name] === value) ?? `UNKNOWN(${value})`;
}

function kafkajsValue<T extends Record<string, number | string>>(values: T, name: string): T[keyof T] {
  if (!(name in values)) throw new Error(`kafkajs knows no ACL value named ${name}.`);
  return values[name as keyof T];
}

function explainAclError(error: unknown): unknown {
  const type = errorType(error);
  if (type === 'SECURITY_DISABLED') {
    return new KafkaAclError(
      'The Kafka brokers enforce no ACLs (no authorizer.class.name), so none can be created: set it to ' +
        'org.apache.kafka.metadata.authorizer.StandardAuthorizer on every broker and controller first.',
      { cause: error },
    );
  }
  if (type === 'CLUSTER_AUTHORIZATION_FAILED') {
    return new KafkaAclError(
      'Kafka refused to list or change ACLs for this user: that needs DESCRIBE and ALTER on the ' +
        'cluster. Run it as a super user (super.users) or a principal granted them.',
      { cause: error },
    );
  }
  return error;
}
