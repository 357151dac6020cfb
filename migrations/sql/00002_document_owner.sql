-- The owner of a document within its tenant (projections.Doc.Owner: a
-- webhook's app), so that one owner's documents are listed from an index
-- instead of by reading every document of the tenant (an app's own
-- GET /v1/webhooks, its quota check, GraphQL's App.webhooks).

-- +goose Up

-- A constant default: PostgreSQL 11 and later add the column without
-- rewriting the table.
ALTER TABLE documents ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';

-- Backfill: the webhooks stored before this migration are owned by the
-- app their body names (the projector writes the same from now on). Only
-- webhook rows are read and rewritten.
UPDATE documents SET owner = coalesce(convert_from(body, 'UTF8')::jsonb ->> 'app_id', '')
WHERE kind = 'webhook';

-- One owner's documents in (sort, id) order, as documents_list orders a
-- tenant's. Partial: the documents without an owner (all but webhooks,
-- most of them tokens) are not in it and cost it nothing.
CREATE INDEX documents_owner_list ON documents (kind, tenant, owner, sort, id) WHERE owner <> '';

-- An instance of an earlier build (a rolling upgrade) writes webhook rows
-- without an owner, and would leave them out of their app's list until a
-- rebuild: this trigger gives such a row the owner its body names, as the
-- projector of this build does itself. Rows written with an owner, and
-- rows of other kinds, do not call it (the WHEN clause is checked first).
-- +goose StatementBegin
CREATE FUNCTION documents_webhook_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner := coalesce(convert_from(NEW.body, 'UTF8')::jsonb ->> 'app_id', '');
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER documents_webhook_owner BEFORE INSERT OR UPDATE ON documents
    FOR EACH ROW WHEN (NEW.kind = 'webhook' AND NEW.owner = '') EXECUTE FUNCTION documents_webhook_owner();
