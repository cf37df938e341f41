import { LEGACY_CSV_COLUMNS, type LegacyCsvColumn } from './csv-records.js'
import { HOOK_FIELDS, USER_FIELDS } from './csv-typed-rows.js'

// The SQL of `legacy:import`, over the COPY's staging table pg_temp.import_row (all text).
//
// Two ways to check a file. The fast one folds every rule into the merge's own SELECT, where a
// broken rule raises an error, because a vendor's export is normally clean and a million rows
// must import in seconds. When it raises, the import rolls back to before the merge and the
// thorough one names every problem of every row. Both apply the same rules, and so does the
// scanner of a first import's fast path (csv-typed-rows.ts, LegacyCsvTypedRows.fits): change
// one, change all three (the tests import every bad case through all of them).


export const CREATE_STAGING = `
  create temp table import_row (line bigint not null, problem text,
    ${LEGACY_CSV_COLUMNS.map((c) => `${c} text`).join(', ')}) on commit drop;
  create temp table import_problem (id bigint generated always as identity, line bigint not null, reason text not null) on commit drop;
  create or replace function pg_temp.reject(anyelement) returns anyelement language plpgsql as
    $$ begin raise exception using errcode = 'P0001', message = 'legacy import: a row breaks a rule'; end $$;
  create or replace function pg_temp.is_timestamptz(value text) returns boolean language plpgsql as
    $$ begin perform value::timestamptz; return true; exception when others then return false; end $$;`

// Rules. An id is a positive whole number in canonical form that fits a bigint; a timestamp
// starts like ISO 8601 (YYYY-MM-DD) and is one Postgres can read; a URL is http(s).
const fastId = (c: string): string => `(${c}::bigint > 0 and ${c}::bigint::text = ${c})`
const slowId = (c: string): string =>
  `(${c} ~ '^[1-9][0-9]*$' and (length(${c}) < 19 or (length(${c}) = 19 and ${c} <= '9223372036854775807')))`
const URL_OK = `(hook_url like 'http://_%' or hook_url like 'https://_%')`
const TIMESTAMP_SHAPE = `created_at like '____-__-__%'`

const reject = (type: string): string => `pg_temp.reject(null::${type})`
const castId = (c: string): string => `case when ${fastId(c)} then ${c}::bigint else ${reject('bigint')} end`

/** Every row, checked and cast; raises at the first broken rule. */
const CHECKED_ROWS = `
  select line,
    ${castId('github_user_id')} as github_user_id,
    case when login is not null then login else ${reject('text')} end as login,
    oauth_token, scopes,
    case when kind in ('repo', 'org') then kind else ${reject('text')} end as kind,
    ${castId('owner_id')} as owner_id,
    case when owner_login is not null then owner_login else ${reject('text')} end as owner_login,
    case when owner_type = 'Organization' or (owner_type = 'User' and kind = 'repo') then owner_type else ${reject('text')} end as owner_type,
    case when kind = 'repo' and repo_id is not null then ${castId('repo_id')}
      when kind = 'org' and repo_id is null then null else ${reject('bigint')} end as repo_id,
    case when kind = 'org' and repo_name is not null then ${reject('text')} else repo_name end as repo_name,
    ${castId('hook_id')} as hook_id,
    case when ${URL_OK} then hook_url else ${reject('text')} end as hook_url,
    case when created_at is null then null when ${TIMESTAMP_SHAPE} then created_at::timestamptz else ${reject('timestamptz')} end as created_at
  from pg_temp.import_row
  where problem is null`

/** The thorough check: one problem row per broken rule of every row. */
export const FIND_PROBLEMS = `
  insert into pg_temp.import_problem (line, reason)
  select line, reason from (
    select line, unnest(array[
      ${slowMessages('github_user_id')},
      case when login is null then 'login is missing' end,
      case when kind is null then 'kind is missing'
        when kind not in ('repo', 'org') then 'kind must be repo or org' end,
      ${slowMessages('owner_id')},
      case when owner_login is null then 'owner_login is missing' end,
      case when owner_type is null then 'owner_type is missing'
        when owner_type not in ('User', 'Organization') then 'owner_type must be User or Organization'
        when owner_type = 'User' and kind = 'org' then 'kind org needs owner_type Organization' end,
      case when kind = 'repo' and repo_id is null then 'repo_id is missing for kind repo'
        when kind = 'org' and repo_id is not null then 'repo_id must be empty for kind org'
        when repo_id is not null and not ${slowId('repo_id')} then 'repo_id is not a positive whole number' end,
      case when kind = 'org' and repo_name is not null then 'repo_name must be empty for kind org' end,
      ${slowMessages('hook_id')},
      case when hook_url is null then 'hook_url is missing'
        when not ${URL_OK} then 'hook_url is not an http:// or https:// URL' end,
      case when created_at is not null and not (${TIMESTAMP_SHAPE} and pg_temp.is_timestamptz(created_at))
        then 'created_at is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)' end
    ]) as reason
    from pg_temp.import_row
    where problem is null
    union all
    select line, 'the line ' || problem from pg_temp.import_row where problem is not null
  ) checked
  where reason is not null`

function slowMessages(c: string): string {
  return `case when ${c} is null then '${c} is missing' when not ${slowId(c)} then '${c} is not a positive whole number' end`
}

// The hook's own columns: two lines with one hook_id must agree on all of them. The user's
// columns may differ (the latest line wins), as they describe the user, not the hook.
const HOOK_COLUMNS = ['github_user_id', 'kind', 'owner_id', 'owner_login', 'owner_type', 'repo_id', 'repo_name', 'hook_url', 'created_at']
const hookRow = (alias: string): string => `(${HOOK_COLUMNS.map((c) => `${alias}.${c}`).join(', ')})`

export const FIND_CONFLICTS = `
  insert into pg_temp.import_problem (line, reason)
  select line, 'hook_id ' || hook_id || ' is also on line ' || first_line || ' with different contents'
  from (
    select r.line, r.hook_id, first_value(r.line) over w as first_line,
      ${hookRow('r')} is distinct from first_value(${hookRow('r')}) over w as differs
    from pg_temp.import_row r
    where r.problem is null and r.hook_id is not null
    window w as (partition by r.hook_id order by r.line)
  ) d
  where differs`

export interface MergeCounts {
  total: number
  inserted: number
  updated: number
}

interface Merge {
  table: string
  key: string
  columns: string[]
  /** A query of one row per key, with the key and the columns. */
  source: string
}

// New rows are inserted and changed rows updated; rows equal to what is stored are not
// touched at all, so importing a file twice writes nothing. Imports hold an advisory lock and
// the service never writes legacy.*, so no one inserts a row between the two steps.
// Into an empty table (a first import) every row is new: a plain insert, with nothing to
// compare against, is the fast path for the largest imports.
function mergeSql({ table, key, columns, source }: Merge, empty: boolean): string {
  if (empty) {
    return `
  with inserted as (
    insert into ${table} (${key}, ${columns.join(', ')})
    select ${key}, ${columns.join(', ')} from (${source}) s
    returning 1
  )
  select count(*) as total, count(*) as inserted, 0 as updated from inserted`
  }
  const row = (alias: string): string => `(${columns.map((c) => `${alias}.${c}`).join(', ')})`
  return `
  with source as materialized (${source}),
  inserted as (
    insert into ${table} (${key}, ${columns.join(', ')})
    select s.${key}, ${columns.map((c) => `s.${c}`).join(', ')} from source s
    where not exists (select 1 from ${table} t where t.${key} = s.${key})
    returning 1
  ), updated as (
    update ${table} t set ${columns.map((c) => `${c} = s.${c}`).join(', ')}
    from source s
    where t.${key} = s.${key} and ${row('t')} is distinct from ${row('s')}
    returning 1
  )
  select (select count(*) from source) as total, (select count(*) from inserted) as inserted,
    (select count(*) from updated) as updated`
}

/** Checks every row on the way (see CHECKED_ROWS); one hook per hook_id, its first line. */
export const mergeHooks = (empty: boolean): string =>
  mergeSql(
    {
      table: 'legacy.webhooks',
      key: 'hook_id',
      columns: HOOK_COLUMNS,
      source: `select distinct on (hook_id) * from (${CHECKED_ROWS}) checked order by hook_id, line`,
    },
    empty,
  )

const mergeUsersFrom = (empty: boolean, source: string): string =>
  mergeSql({ table: 'legacy.oauth_users', key: 'github_user_id', columns: ['login', 'oauth_token', 'scopes'], source }, empty)

/** Runs after MERGE_HOOKS has checked every row, so its casts cannot fail. A user's last line wins. */
export const mergeUsers = (empty: boolean): string =>
  mergeUsersFrom(
    empty,
    `select distinct on (github_user_id::bigint) github_user_id::bigint as github_user_id, login, oauth_token, scopes
    from pg_temp.import_row order by github_user_id::bigint, line desc`,
  )

// The fast path of a first import (csv-typed-rows.ts): COPY straight into legacy.webhooks, and
// the user columns into a small typed table, then merged as above. Columns in the header's
// order, so that the scanner copies a record's adjacent fields in one go.

export const CREATE_USER_STAGING = `
  create temp table import_user (line bigint not null, github_user_id bigint not null, login text, oauth_token text, scopes text)
  on commit drop`

const copyInto = (table: string, columns: string[]): string =>
  `copy ${table} (${columns.join(', ')}) from stdin with (format csv, force_null (${columns.join(', ')}))`

export const copyHooksSql = (header: LegacyCsvColumn[]): string =>
  copyInto('legacy.webhooks', header.filter((c) => (HOOK_FIELDS as string[]).includes(c)))

export const copyUsersSql = (header: LegacyCsvColumn[]): string =>
  copyInto('pg_temp.import_user', ['line', ...header.filter((c) => (USER_FIELDS as readonly string[]).includes(c))])

/** A user's last line wins, as in mergeUsers. */
export const mergeStagedUsers = (empty: boolean): string =>
  mergeUsersFrom(
    empty,
    `select distinct on (github_user_id) github_user_id, login, oauth_token, scopes
    from pg_temp.import_user order by github_user_id, line desc`,
  )
