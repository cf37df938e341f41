import { sql, type Kysely } from 'kysely'

// The audit chain without a lock on the way in. Until now every insert took the chain's
// advisory lock and held it until commit, so audited transactions ran one at a time, and a
// transaction holding it could wait for a row that another one held while waiting for it.
// Now an event commits with its transaction and takes no lock: it gets its id (the order of
// writing) from a sequence, its time, and the id of the transaction that wrote it. It is
// sealed afterwards (app.audit_seal()): one sealer at a time gives committed events their
// chain position, in order of writing transaction then id, once every transaction that began
// before theirs has ended, so no event can turn up later in front of a sealed one. The chain
// moves to its own table, app.audit_chain (position, event, link, hash), so an event is never
// updated: both tables only grow. A chain row's link and hash are computed here when it is
// inserted, from the row before it and the event's canonical content (app.audit_canonical,
// unchanged: SHA-256 of the previous hash and that content); whatever a caller sends for them
// is replaced. UPDATE, DELETE and TRUNCATE of either table are refused (by triggers, even for
// the owner, and by privileges). Existing events keep their hashes, at the position of their id.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- app.audit_event_chain() stays, unused, for down() to put back.
    drop trigger audit_event_chain on app.audit_event;

    create table app.audit_chain (
      seq bigint primary key,
      -- No foreign key: its check locks the event row, which needs a privilege the owner gave up;
      -- an event gone from under its chain row is what audit:verify reports.
      event_id bigint not null unique,
      prev_hash bytea not null,
      hash bytea not null
    );
    insert into app.audit_chain (seq, event_id, prev_hash, hash) select id, id, prev_hash, hash from app.audit_event;
    alter table app.audit_event drop column prev_hash, drop column hash, add column xact_id xid8;
    create index audit_event_xact_idx on app.audit_event (xact_id, id);

    create sequence app.audit_event_id_seq owned by app.audit_event.id;
    select setval('app.audit_event_id_seq', coalesce(max(id), 0) + 1, false) from app.audit_event;

    -- Whatever a caller sends, the database sets these.
    create function app.audit_event_stamp() returns trigger
    language plpgsql as $$
    begin
      new.id := nextval('app.audit_event_id_seq');
      new.at := clock_timestamp();
      new.xact_id := pg_current_xact_id();
      return new;
    end
    $$;
    create trigger audit_event_stamp before insert on app.audit_event
      for each row execute function app.audit_event_stamp();

    -- A chain row takes the position after the last one; its link and hash are computed here.
    create function app.audit_chain_link() returns trigger
    language plpgsql as $$
    declare
      event app.audit_event;
    begin
      if new.seq = 1 then
        new.prev_hash := decode(repeat('00', 32), 'hex');
      else
        select hash into new.prev_hash from app.audit_chain where seq = new.seq - 1;
        if not found then
          raise exception 'app.audit_chain: position % does not follow the last one', new.seq
            using errcode = 'insufficient_privilege';
        end if;
      end if;
      select * into strict event from app.audit_event where id = new.event_id;
      new.hash := sha256(new.prev_hash || convert_to(app.audit_canonical(event), 'UTF8'));
      return new;
    end
    $$;
    create trigger audit_chain_link before insert on app.audit_chain
      for each row execute function app.audit_chain_link();
    create trigger audit_chain_no_change before update or delete on app.audit_chain
      for each row execute function app.audit_event_refuse();
    create trigger audit_chain_no_truncate before truncate on app.audit_chain
      for each statement execute function app.audit_event_refuse();
    revoke update, delete, truncate on app.audit_chain from public;
    revoke update, delete, truncate on app.audit_chain from current_user;

    -- Where sealing stands, in sealing order: the last event sealed (0, 0 before any; the
    -- events from before sealing have no transaction and count as 0).
    create function app.audit_sealed_up_to(out xact_id xid8, out id bigint)
    language sql stable as $$
      select coalesce(last.xact_id, '0'::xid8), coalesce(last.id, 0)
      from (select 1) one left join lateral (
        select e.xact_id, e.id
        from app.audit_chain c join app.audit_event e on e.id = c.event_id
        order by c.seq desc limit 1
      ) last on true
    $$;

    create function app.audit_pending() returns bigint
    language plpgsql stable as $$
    declare
      last record;
    begin
      last := app.audit_sealed_up_to();
      return (select count(*) from app.audit_event e
        where (e.xact_id, e.id) > (last.xact_id, last.id));
    end
    $$;

    -- Seals up to max_events events; null when another sealer has the turn (it takes turns
    -- instead of waiting, so instances never queue behind each other). Runs as the log's owner,
    -- whoever calls it.
    create function app.audit_seal(max_events integer) returns integer
    language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
    declare
      horizon xid8;
      last record;
      head bigint;
      event record;
      sealed integer := 0;
    begin
      if not pg_try_advisory_xact_lock(hashtext('oauth-to-app audit seal')) then
        return null;
      end if;
      -- Transactions older than this have all ended: their events are visible (or never will be).
      horizon := pg_snapshot_xmin(pg_current_snapshot());
      last := app.audit_sealed_up_to();
      select coalesce(max(seq), 0) into head from app.audit_chain;
      for event in
        select e.id from app.audit_event e
        where (e.xact_id, e.id) > (last.xact_id, last.id)
          and e.xact_id < horizon
        order by e.xact_id, e.id
        limit max_events
      loop
        head := head + 1;
        insert into app.audit_chain (seq, event_id) values (head, event.id);
        sealed := sealed + 1;
      end loop;
      return sealed;
    end
    $$;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$
    begin
      if exists (select 1 from app.audit_event e left join app.audit_chain c on c.event_id = e.id where c.seq is distinct from e.id) then
        raise exception 'app.audit_event cannot go back to one lock per insert: it holds unsealed events or ids out of chain order';
      end if;
    end
    $$;
    drop function app.audit_seal(integer);
    drop function app.audit_pending();
    drop function app.audit_sealed_up_to();
    drop trigger audit_event_stamp on app.audit_event;
    drop function app.audit_event_stamp();
    drop sequence app.audit_event_id_seq;
    alter table app.audit_event drop column xact_id, add column prev_hash bytea, add column hash bytea;
    grant update (prev_hash, hash) on app.audit_event to current_user;
    alter table app.audit_event disable trigger audit_event_no_change;
    update app.audit_event e set prev_hash = c.prev_hash, hash = c.hash from app.audit_chain c where c.event_id = e.id;
    alter table app.audit_event enable trigger audit_event_no_change;
    revoke update (prev_hash, hash) on app.audit_event from current_user;
    alter table app.audit_event alter column prev_hash set not null, alter column hash set not null;
    drop table app.audit_chain;
    drop function app.audit_chain_link();
    create trigger audit_event_chain before insert on app.audit_event
      for each row execute function app.audit_event_chain();
  `.execute(db)
}
