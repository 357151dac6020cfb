package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// statements are the store's SQL, its tables qualified by the schema.
type statements struct {
	version, probe, get, lookup, list, listOwner, all, checkpoints string
	// tableOID is the OID of the table named $1 (documents, the
	// sanitized name of the documents table), which tells the writer's
	// cache that a rebuilt schema was swapped in.
	tableOID, documents string
	// Update: lock serializes Updates; the rest run in its transaction.
	// Lists of rows (deletes, key lookups) are joins with unnest of one
	// array per column, kind included, and indexOnly turns off every plan
	// but a nested loop of primary-key probes: left to itself, the planner
	// scans every key of a kind, dead ones included (Updates leave them by
	// the thousand between two autovacuums), as soon as its estimates of a
	// fresh table or of a generic plan make that look cheap. Measured on
	// 2,000 keys after 40 rounds of 500 renames: 80 ms per delete of 500
	// keys by kind = $1, 15 ms by key = ANY($2), 1.3 ms like this.
	indexOnly, lock, anyDocs, loadKeys                       string
	deleteDocs, deleteKeys, insertKeys, upsertDocs, moveCkpt string
}

func newStatements(schema string) statements {
	r := strings.NewReplacer(
		"{documents}", pgx.Identifier{schema, "documents"}.Sanitize(),
		"{unique_keys}", pgx.Identifier{schema, "unique_keys"}.Sanitize(),
		"{checkpoints}", pgx.Identifier{schema, "checkpoints"}.Sanitize(),
		"{goose_db_version}", pgx.Identifier{schema, "goose_db_version"}.Sanitize(),
	)
	return statements{
		version: r.Replace(`SELECT coalesce(max(version_id), 0) FROM {goose_db_version} WHERE is_applied`),
		probe:   r.Replace(`SELECT FROM {documents}, {unique_keys}, {checkpoints} LIMIT 0`),
		get:     r.Replace(`SELECT tenant, sort, owner, keys, body FROM {documents} WHERE kind = $1 AND id = $2`),
		lookup:  r.Replace(`SELECT d.id, d.tenant, d.sort, d.owner, d.keys, d.body FROM {unique_keys} k JOIN {documents} d ON d.kind = k.kind AND d.id = k.id WHERE k.kind = $1 AND k.key = $2`),
		list: r.Replace(`SELECT id, sort, owner, keys, body FROM {documents}
			WHERE kind = $1 AND tenant = $2 AND (sort, id) > ($3, $4) ORDER BY sort, id LIMIT $5`),
		// listOwner is list of one owner's documents, on the partial index
		// documents_owner_list (owner <> '' is its predicate, written out
		// so that the planner may use it for any $6).
		listOwner: r.Replace(`SELECT id, sort, owner, keys, body FROM {documents}
			WHERE kind = $1 AND tenant = $2 AND (sort, id) > ($3, $4) AND owner = $6 AND owner <> '' ORDER BY sort, id LIMIT $5`),
		all:         r.Replace(`SELECT kind, id, tenant, sort, owner, keys, body FROM {documents} ORDER BY kind, id`),
		checkpoints: r.Replace(`SELECT stream, seq FROM {checkpoints}`),
		tableOID:    `SELECT coalesce(to_regclass($1)::oid::bigint, 0)`,
		documents:   pgx.Identifier{schema, "documents"}.Sanitize(),

		indexOnly: `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
			set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`,
		lock:    `SELECT pg_advisory_xact_lock($1)`,
		anyDocs: r.Replace(`SELECT EXISTS (SELECT FROM {documents})`),
		loadKeys: r.Replace(`SELECT k.key, k.id FROM unnest($1::text[], $2::text[]) AS x(kind, key)
			JOIN {unique_keys} k ON k.kind = x.kind AND k.key = x.key`),
		deleteDocs: r.Replace(`DELETE FROM {documents} d USING unnest($1::text[], $2::text[]) AS x(kind, id)
			WHERE d.kind = x.kind AND d.id = x.id`),
		deleteKeys: r.Replace(`DELETE FROM {unique_keys} k USING unnest($1::text[], $2::text[]) AS x(kind, key)
			WHERE k.kind = x.kind AND k.key = x.key`),
		insertKeys: r.Replace(`INSERT INTO {unique_keys} (kind, key, id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`),
		upsertDocs: r.Replace(`INSERT INTO {documents} (kind, id, tenant, sort, keys, body, owner)
			SELECT kind, id, tenant, sort, keys::text[], body, owner
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[]) AS x(kind, id, tenant, sort, keys, body, owner)
			ON CONFLICT (kind, id) DO UPDATE
			SET tenant = EXCLUDED.tenant, sort = EXCLUDED.sort, keys = EXCLUDED.keys, body = EXCLUDED.body, owner = EXCLUDED.owner`),
		moveCkpt: r.Replace(`INSERT INTO {checkpoints} (stream, seq) VALUES ($1, $2)
			ON CONFLICT (stream) DO UPDATE SET seq = EXCLUDED.seq`),
	}
}

// arrayLiteral is keys as a PostgreSQL array literal, each element quoted,
// so that one text value carries a document's keys through unnest.
func arrayLiteral(keys []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(k); j++ {
			if k[j] == '"' || k[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(k[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
