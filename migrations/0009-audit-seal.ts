import { sql, type Kysely } from 'kysely'

// The audit chain without a lock on the way in. Until now every insert took the chain's
// advisory lock and held it until commit, so audited transactions ran one at a time and a
// transaction holding it could wait for a row another one held while waiting for the lock.
// Now an event commits with its transaction and no lock: it gets its id (insertion order)
// from a sequence, its time, and the id of the transaction that wrote it. Sealing happens
// afterwards (app.audit_seal): one sealer at a time gives committed events their chain
// position (seq) and hash, in order of writing transaction then id, once every transaction
// that began before theirs ended, so no event can later turn up in front of a sealed one.
// The hash is still SHA-256 of the previous event's hash and the event's canonical content
// (app.audit_canonical, unchanged), computed here: the only change the log allows is giving an
// unsealed event the next position, and the database then computes the hash itself. DELETE
// and TRUNCATE stay refused. Existing events keep their hashes; their position is their id.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- app.audit_event_chain() stays, unused, for down() to put back.
    drop trigger audit_event_chain on app.audit_event;
    drop trigger audit_event_no_change on app.audit_event;

    alter table app.audit_event
      add column xact_id xid8,
      add column seq bigint,
      alter column prev_hash drop not null,
      alter column hash drop not null;
    grant update (seq) on app.audit_event to current_user;
    update app.audit_event set seq = id;
    create unique index audit_event_seq_idx on app.audit_event (seq);
    create index audit_event_unsealed_idx on app.audit_event (xact_id, id) where seq is null;
    alter table app.audit_event add constraint audit_event_sealed_check
      check ((seq is null) = (hash is null) and (seq is null) = (prev_hash is null));

    create sequence app.audit_event_id_seq owned by app.audit_event.id;
    select setval('app.audit_event_id_seq', coalesce(max(id), 0) + 1, false) from app.audit_event;

    -- Whatever a caller sends, the database sets these.
    create function app.audit_event_stamp() returns trigger
    language plpgsql as $$
    begin
      new.id := nextval('app.audit_event_id_seq');
      new.at := clock_timestamp();
      new.xact_id := pg_current_xact_id();
      -- Given by the sealer.
      new.seq := null; new.prev_hash := null; new.hash := null;
      return new;
    end
    $$;
    -- The one change allowed: an unsealed event, its content untouched, takes the position
    -- after the last sealed one; its link and hash are then computed here, never taken.
    create function app.audit_event_seal_only() returns trigger
    language plpgsql as $$
    declare
      prev bytea;
    begin
      if old.seq is not null or new.seq is null
        or (to_jsonb(new) - '{seq,prev_hash,hash}'::text[]) <> (to_jsonb(old) - '{seq,prev_hash,hash}'::text[]) then
        raise exception 'app.audit_event is append-only: % is not allowed', tg_op
          using errcode = 'insufficient_privilege';
      end if;
      if new.seq = 1 then
        prev := decode(repeat('00', 32), 'hex');
      else
        select hash into prev from app.audit_event where seq = new.seq - 1;
        if not found then
          raise exception 'app.audit_event: position % does not follow the last sealed event', new.seq
            using errcode = 'insufficient_privilege';
        end if;
      end if;
      new.prev_hash := prev;
      new.hash := sha256(prev || convert_to(app.audit_canonical(new), 'UTF8'));
      return new;
    end
    $$;
    create trigger audit_event_stamp before insert on app.audit_event
      for each row execute function app.audit_event_stamp();
    create trigger audit_event_seal_only before update on app.audit_event
      for each row execute function app.audit_event_seal_only();
    create trigger audit_event_no_delete before delete on app.audit_event
      for each row execute function app.audit_event_refuse();

    -- Seals up to max_events events; null when another sealer has the turn (it takes turns
    -- instead of waiting, so instances never queue behind each other). Runs as the log's owner,
    -- the one role that may set seq, whoever calls it.
    create function app.audit_seal(max_events integer) returns integer
    language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
    declare
      horizon xid8;
      head bigint;
      event record;
      sealed integer := 0;
    begin
      if not pg_try_advisory_xact_lock(hashtext('oauth-to-app audit seal')) then
        return null;
      end if;
      -- Transactions older than this have all ended: their events are visible (or never will be).
      horizon := pg_snapshot_xmin(pg_current_snapshot());
      select coalesce(max(seq), 0) into head from app.audit_event;
      for event in
        select id from app.audit_event
        where seq is null and xact_id < horizon
        order by xact_id, id
        limit max_events
      loop
        head := head + 1;
        update app.audit_event set seq = head where id = event.id;
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
      if exists (select 1 from app.audit_event where seq is distinct from id) then
        raise exception 'app.audit_event cannot go back to one lock per insert: it holds unsealed events or ids out of chain order';
      end if;
    end
    $$;
    drop function app.audit_seal(integer);
    drop trigger audit_event_no_delete on app.audit_event;
    drop trigger audit_event_seal_only on app.audit_event;
    drop function app.audit_event_seal_only();
    drop trigger audit_event_stamp on app.audit_event;
    drop function app.audit_event_stamp();
    drop sequence app.audit_event_id_seq;
    revoke update (seq) on app.audit_event from current_user;
    alter table app.audit_event
      drop constraint audit_event_sealed_check,
      drop column seq,
      drop column xact_id,
      alter column prev_hash set not null,
      alter column hash set not null;

    create trigger audit_event_chain before insert on app.audit_event
      for each row execute function app.audit_event_chain();
    create trigger audit_event_no_change before update or delete on app.audit_event
      for each row execute function app.audit_event_refuse();
  `.execute(db)
}
