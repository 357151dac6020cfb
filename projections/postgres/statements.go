package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// statements are the store's SQL, its tables qualified by the schema.
type statements struct {
	probe, get, lookup, list, all, checkpoints string
	// Update: lock serializes Updates; the rest run in its transaction.
	lock, anyDocs, loadKeys                                  string
	deleteDocs, deleteKeys, insertKeys, upsertDocs, moveCkpt string
}

func newStatements(schema string) statements {
	r := strings.NewReplacer(
		"{documents}", pgx.Identifier{schema, "documents"}.Sanitize(),
		"{unique_keys}", pgx.Identifier{schema, "unique_keys"}.Sanitize(),
		"{checkpoints}", pgx.Identifier{schema, "checkpoints"}.Sanitize(),
	)
	return statements{
		probe:  r.Replace(`SELECT 1 FROM {documents}, {unique_keys}, {checkpoints} LIMIT 1`),
		get:    r.Replace(`SELECT tenant, sort, keys, body FROM {documents} WHERE kind = $1 AND id = $2`),
		lookup: r.Replace(`SELECT d.id, d.tenant, d.sort, d.keys, d.body FROM {unique_keys} k JOIN {documents} d ON d.kind = k.kind AND d.id = k.id WHERE k.kind = $1 AND k.key = $2`),
		list: r.Replace(`SELECT id, sort, keys, body FROM {documents}
			WHERE kind = $1 AND tenant = $2 AND (sort, id) > ($3, $4) ORDER BY sort, id LIMIT $5`),
		all:         r.Replace(`SELECT kind, id, tenant, sort, keys, body FROM {documents} ORDER BY kind, id`),
		checkpoints: r.Replace(`SELECT stream, seq FROM {checkpoints}`),

		lock:       `SELECT pg_advisory_xact_lock($1)`,
		anyDocs:    r.Replace(`SELECT EXISTS (SELECT FROM {documents})`),
		loadKeys:   r.Replace(`SELECT key, id FROM {unique_keys} WHERE kind = $1 AND key = ANY($2::text[])`),
		deleteDocs: r.Replace(`DELETE FROM {documents} WHERE kind = $1 AND id = ANY($2::text[])`),
		deleteKeys: r.Replace(`DELETE FROM {unique_keys} WHERE kind = $1 AND key = ANY($2::text[])`),
		insertKeys: r.Replace(`INSERT INTO {unique_keys} (kind, key, id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`),
		upsertDocs: r.Replace(`INSERT INTO {documents} (kind, id, tenant, sort, keys, body)
			SELECT kind, id, tenant, sort, keys::text[], body
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) AS x(kind, id, tenant, sort, keys, body)
			ON CONFLICT (kind, id) DO UPDATE
			SET tenant = EXCLUDED.tenant, sort = EXCLUDED.sort, keys = EXCLUDED.keys, body = EXCLUDED.body`),
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
