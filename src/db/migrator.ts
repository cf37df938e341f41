import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
import { FileMigrationProvider, Migrator, type MigrationResult } from 'kysely/migration'
import type { Database } from './database.js'

// migrations/ sits two levels above this file both in the sources and in dist/.
const migrationFolder = fileURLToPath(new URL('../../migrations', import.meta.url))

export class MigrationError extends Error {
  override name = 'MigrationError'
  constructor(
    message: string,
    readonly results: MigrationResult[],
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

function migratorFor(db: Kysely<unknown>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
    // Kept in the service's schema; every run holds Postgres' advisory lock, so two instances
    // starting at once apply each migration exactly once.
    migrationTableSchema: 'app',
  })
}

async function run(
  step: Promise<{ error?: unknown; results?: MigrationResult[] }>,
): Promise<MigrationResult[]> {
  const { error, results = [] } = await step
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')
    // kysely reports what a migration threw, always an Error from the driver or the migration.
    const reason = (error as Error).message
    throw new MigrationError(
      failed ? `migration ${failed.migrationName} failed: ${reason}` : `migrations failed: ${reason}`,
      results,
      { cause: error },
    )
  }
  return results
}

/** Applies every pending migration; returns what ran (empty when already up to date). */
export function migrateToLatest(db: Kysely<Database>): Promise<MigrationResult[]> {
  return run(migratorFor(db as Kysely<unknown>).migrateToLatest())
}

/**
 * Applies the pending migrations up to and including `name`, so that rows can be loaded in bulk
 * before the indexes of the later ones are built (a benchmark's seed).
 */
export function migrateTo(db: Kysely<Database>, name: string): Promise<MigrationResult[]> {
  return run(migratorFor(db as Kysely<unknown>).migrateTo(name))
}

/** Reverts the most recent migration. */
export function migrateDown(db: Kysely<Database>): Promise<MigrationResult[]> {
  return run(migratorFor(db as Kysely<unknown>).migrateDown())
}

export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const all = await migratorFor(db as Kysely<unknown>).getMigrations()
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name)
}
