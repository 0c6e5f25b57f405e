/**
 * `silobridge init`, `keys`, `token`, `departments` and `systems`: bootstrap the first administrator,
 * let a department team generate key pairs and sign tokens, and give operators the registry's admin
 * tasks on the command line (working on the database directly; with the embedded database, stop the
 * gateway first, or use the HTTP API). Private keys are written to files (0600) and never stored.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { departmentOf, ROLES, type Role } from '../access/caller.js';
import { readableByOthers, readKeyFile, writePrivateKeyFile } from '../identity/key-files.js';
import {
  generateKeyPair,
  isSigningAlgorithm,
  privateSigningKey,
  publicHalf,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '../identity/system-keys.js';
import { signToken } from '../identity/token-signer.js';
import { DEPARTMENT_CODE_PATTERN, SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import { keyView, systemView } from '../registry/registry-routes.js';
import { createRegistryCli, type IdentityCliContext } from './registry-cli.js';

export type { IdentityCliConfig, IdentityCliContext } from './registry-cli.js';

function algorithm(value: string): SigningAlgorithm {
  if (!isSigningAlgorithm(value)) throw new Error(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}.`);
  return value;
}

function systemId(value: string): string {
  if (!SYSTEM_ID_PATTERN.test(value))
    throw new Error(`'${value}' is not a system id (<department>/<system>).`);
  return value;
}

function roles(values: string[]): Role[] {
  const bad = values.filter((value) => !(ROLES as readonly string[]).includes(value));
  if (bad.length > 0) throw new Error(`Unknown role(s) ${bad.join(', ')}; roles are ${ROLES.join(', ')}.`);
  return values as Role[];
}

export function registerIdentityCommands(program: Command, context: IdentityCliContext): void {
  const { out, err, actor, json, run, withRegistry } = createRegistryCli(context);

  program
    .command('init')
    .description('create the first admin system and its key pair (private key written to a 0600 file)')
    .option('--system <id>', 'the admin system id', 'data-office/gateway-admin')
    .option('--name <name>', 'its display name', 'Gateway administration')
    .option(
      '--department-name-en <name>',
      'department name, if the department is new',
      'Government Services and Data Administration',
    )
    .option('--department-name-zh <name>', '部门名称 (if the department is new)', '政务服务和数据管理局')
    .option('--key-out <file>', 'where to write the private key (default ./<department>.<system>.jwk)')
    .addOption(
      new Option('--alg <alg>', 'signing algorithm').choices([...SIGNING_ALGORITHMS]).default('ES256'),
    )
    .action(
      run(async (options: Record<string, string>) => {
        const id = systemId(options.system ?? '');
        const keyFile = path.resolve(options.keyOut ?? `${id.replace('/', '.')}.jwk`);
        await withRegistry(
          async (registry) => {
            const admins = await registry.countAdmins();
            if (admins > 0) {
              throw new Error(
                `already initialised: ${admins} admin system(s) exist. Use the API or 'systems add'.`,
              );
            }
            const pair = await generateKeyPair(algorithm(options.alg ?? 'ES256'));
            await writePrivateKeyFile(keyFile, pair.privateJwk);
            try {
              await registry.ensureDepartment(actor, {
                code: departmentOf(id),
                nameEn: options.departmentNameEn ?? '',
                nameZh: options.departmentNameZh ?? '',
              });
              await registry.createSystem(actor, {
                id,
                name: options.name ?? id,
                roles: ['admin'],
                keys: [{ jwk: pair.publicJwk }],
              });
            } catch (error) {
              // A key for a system that was never created would only confuse.
              await rm(keyFile, { force: true });
              throw error;
            }
            out(
              `Created admin system ${id} (key ${pair.kid}, ${pair.alg}).\n` +
                `Private key: ${keyFile} (mode 0600; the gateway keeps only the public key).\n` +
                `Get a token:  silobridge token --system ${id} --key ${keyFile}\n`,
            );
          },
          { migrate: true },
        );
      }),
    );

  const keys = program.command('keys').description('key pairs of systems');

  keys
    .command('generate')
    .description('generate a key pair: private JWK to --out (0600), public JWK to stdout or --public-out')
    .requiredOption('--out <file>', 'where to write the private key')
    .option('--public-out <file>', 'also write the public JWK here')
    .option('--kid <kid>', 'key id (default: the RFC 7638 thumbprint)')
    .addOption(
      new Option('--alg <alg>', 'signing algorithm').choices([...SIGNING_ALGORITHMS]).default('ES256'),
    )
    .action(
      run(async (options: { out: string; publicOut?: string; kid?: string; alg: string }) => {
        const pair = await generateKeyPair(algorithm(options.alg), options.kid);
        await writePrivateKeyFile(path.resolve(options.out), pair.privateJwk);
        const publicJson = `${JSON.stringify(pair.publicJwk, null, 2)}\n`;
        if (options.publicOut) {
          await writeFile(path.resolve(options.publicOut), publicJson, { flag: 'wx' });
          err(`Private key: ${options.out} (0600). Public key: ${options.publicOut}. kid ${pair.kid}\n`);
        } else {
          out(publicJson);
          err(`Private key: ${options.out} (0600). Register the public key above. kid ${pair.kid}\n`);
        }
      }),
    );

  keys
    .command('add <system> <jwkFile>')
    .description(
      'register a public key for a system (a private JWK file is accepted: only its public half is used)',
    )
    .addOption(
      new Option('--alg <alg>', "pin this algorithm (default: the key's alg, or RS256/ES256)").choices([
        ...SIGNING_ALGORITHMS,
      ]),
    )
    .action(
      run(async (system: string, jwkFile: string, options: { alg?: string }) => {
        const jwk = await publicHalfOrPublic(await readKeyFile(jwkFile));
        await withRegistry(async (registry) => {
          json(
            keyView(
              await registry.addKey(actor, systemId(system), {
                jwk,
                ...(options.alg ? { alg: options.alg } : {}),
              }),
            ),
          );
        });
      }),
    );

  keys
    .command('retire <system> [kid]')
    .description('retire a key: tokens signed with it are refused from the next request on')
    // A thumbprint kid may start with '-', which a positional argument cannot: `--kid -Ku...` can.
    .option('--kid <kid>', "the key id (use this form when it starts with '-')")
    .option('--force', "allow retiring the system's last active key (locks it out)")
    .action(
      run(
        async (
          system: string,
          positionalKid: string | undefined,
          options: { kid?: string; force?: boolean },
        ) => {
          const kid = options.kid ?? positionalKid;
          if (!kid) throw new Error('Which key? Give its kid: keys retire <system> --kid <kid>.');
          await withRegistry(async (registry) => {
            json(
              keyView(
                await registry.retireKey(actor, systemId(system), kid, {
                  allowLastKey: options.force === true,
                }),
              ),
            );
          });
        },
      ),
    );

  keys
    .command('list <system>')
    .description("a system's keys, active and retired")
    .action(
      run(async (system: string) => {
        await withRegistry(async (registry) => {
          const found = await registry.getSystem(systemId(system));
          if (!found) throw new Error(`no system '${system}' is registered.`);
          json(found.keys.map(keyView));
        });
      }),
    );

  program
    .command('token')
    .description('sign a bearer token for a system with its private key (prints only the token)')
    .requiredOption('--system <id>', 'the system id (iss and sub)')
    .requiredOption('--key <file>', 'the private JWK file')
    .option('--audience <aud>', 'aud (default: the configured SILOBRIDGE_AUDIENCE)')
    .option('--lifetime <seconds>', 'seconds until it expires', '300')
    .option('--kid <kid>', "key id (default: the file's kid)")
    .action(
      run(
        async (options: {
          system: string;
          key: string;
          audience?: string;
          lifetime: string;
          kid?: string;
        }) => {
          const lifetime = Number(options.lifetime);
          const config = options.audience ? undefined : context.config();
          const maximum = config?.maxTokenLifetimeSeconds ?? Number.POSITIVE_INFINITY;
          if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > maximum) {
            throw new Error(`--lifetime must be a whole number of seconds from 1 to ${maximum}.`);
          }
          if (await readableByOthers(options.key)) {
            err(`warning: ${options.key} is readable by other users; chmod 600 it.\n`);
          }
          const key = await privateSigningKey(
            await readKeyFile(options.key),
            options.kid ? { kid: options.kid } : {},
          );
          const audience = options.audience ?? config?.audience ?? 'silobridge';
          out(
            `${signToken({ systemId: systemId(options.system), key, audience, lifetimeSeconds: lifetime })}\n`,
          );
        },
      ),
    );

  const departments = program.command('departments').description('departments in the registry');
  departments
    .command('list')
    .action(run(async () => withRegistry(async (registry) => json(await registry.listDepartments()))));
  departments
    .command('add <code>')
    .requiredOption('--name-en <name>', 'English name')
    .requiredOption('--name-zh <name>', '中文名称')
    .action(
      run(async (code: string, options: { nameEn: string; nameZh: string }) => {
        if (!DEPARTMENT_CODE_PATTERN.test(code)) throw new Error(`'${code}' is not a department code.`);
        await withRegistry(async (registry) =>
          json(
            await registry.createDepartment(actor, { code, nameEn: options.nameEn, nameZh: options.nameZh }),
          ),
        );
      }),
    );

  const systems = program.command('systems').description('systems in the registry');
  systems
    .command('list')
    .option('--department <code>', 'only this department')
    .action(
      run(async (options: { department?: string }) =>
        withRegistry(async (registry) =>
          json((await registry.listSystems(options.department)).map(systemView)),
        ),
      ),
    );
  systems
    .command('add <id>')
    .requiredOption('--name <name>', 'display name')
    .option('--role <role...>', `roles (${ROLES.join(', ')})`, [])
    .option('--key <jwkFile>', 'its public key (or a private JWK file: only the public half is used)')
    .action(
      run(async (id: string, options: { name: string; role: string[]; key?: string }) => {
        const keyJwk = options.key ? await publicHalfOrPublic(await readKeyFile(options.key)) : undefined;
        await withRegistry(async (registry) =>
          json(
            systemView(
              await registry.createSystem(actor, {
                id: systemId(id),
                name: options.name,
                roles: roles(options.role),
                ...(keyJwk ? { keys: [{ jwk: keyJwk }] } : {}),
              }),
            ),
          ),
        );
      }),
    );
  systems
    .command('set <id>')
    .description("change a system's roles, name, or enable/disable it")
    .option('--role <role...>', 'replace its roles')
    .option('--name <name>', 'new display name')
    .option('--enable', 'enable it')
    .option('--disable', 'disable it: its tokens are refused')
    .action(
      run(
        async (
          id: string,
          options: { role?: string[]; name?: string; enable?: boolean; disable?: boolean },
        ) => {
          if (options.enable && options.disable)
            throw new Error('--enable and --disable exclude each other.');
          await withRegistry(async (registry) =>
            json(
              systemView(
                await registry.updateSystem(actor, systemId(id), {
                  ...(options.role ? { roles: roles(options.role) } : {}),
                  ...(options.name ? { name: options.name } : {}),
                  ...(options.enable ? { enabled: true } : options.disable ? { enabled: false } : {}),
                }),
              ),
            ),
          );
        },
      ),
    );
}

async function publicHalfOrPublic(raw: unknown): Promise<unknown> {
  return typeof raw === 'object' && raw !== null && 'd' in raw ? (await publicHalf(raw)).jwk : raw;
}
