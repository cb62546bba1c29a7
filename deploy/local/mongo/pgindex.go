package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FerretDB v1.24's PostgreSQL backend pushes an equality filter on a
// top-level field down as `_jsonb->$1 @> $2` (not a dotted path, unless
// started with its nested pushdown, off by default), but indexes the
// fields of a collection's indexes (`_id`'s and those the services declare
// with create_index) with btree indexes on `_jsonb->'field'`, which cannot
// serve `@>`: every read, even by `_id`, scans the whole table (14 ms at
// 5,000 emails, measured; only its updates and deletes by `_id`, which
// compare with `=`, use an index). A GIN index on the same expression serves
// `@>` once PostgreSQL plans with the parameters' values (its custom plans,
// kept because the index makes them cheaper): 0.02 ms. So for every top-level
// field of every index FerretDB lists in a schema's metadata we add one. FerretDB keeps
// its own index list, so ours stay invisible to clients; dropping the
// collection (or the index's table) drops them with it. They only make reads
// faster: results are FerretDB's either way.
func indexPostgreSQLFields(ctx context.Context, url string, every time.Duration) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		log.Printf("postgresql field indexes: %v (not indexing)", err)
		return
	}
	defer pool.Close()
	for {
		if err := indexPostgreSQLSchemas(ctx, pool); err != nil && ctx.Err() == nil {
			log.Printf("postgresql field indexes: %v (will retry)", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

type ginIndex struct{ schema, table, name, expr string }

func indexPostgreSQLSchemas(ctx context.Context, pool *pgxpool.Pool) error {
	schemas, err := queryStrings(ctx, pool,
		`SELECT table_schema FROM information_schema.tables WHERE table_name = '_ferretdb_database_metadata'`)
	if err != nil {
		return err
	}
	var missing []ginIndex
	for _, schema := range schemas {
		wanted, err := wantedIndexes(ctx, pool, schema)
		if err != nil {
			continue // a database being dropped right now
		}
		existing, err := queryStrings(ctx, pool,
			`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = $1 AND c.relkind = 'i'`, schema)
		if err != nil {
			continue
		}
		have := map[string]bool{}
		for _, name := range existing {
			have[name] = true
		}
		for _, index := range wanted {
			if !have[index.name] {
				missing = append(missing, index)
			}
		}
	}
	for _, index := range missing {
		stmt := `CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{index.name}.Sanitize() +
			` ON ` + pgx.Identifier{index.schema, index.table}.Sanitize() +
			` USING gin ((` + index.expr + `) jsonb_path_ops)`
		// A table being dropped right now: the next round no longer lists it.
		if _, err := pool.Exec(ctx, stmt); err != nil && ctx.Err() == nil {
			log.Printf("postgresql index %s.%s: %v (will retry)", index.schema, index.name, err)
		}
	}
	return nil
}

// wantedIndexes: one GIN index per field of every index of every collection
// of the schema (FerretDB's metadata: {"table": ..., "indexes": [{"key": {...}}]}).
func wantedIndexes(ctx context.Context, pool *pgxpool.Pool, schema string) ([]ginIndex, error) {
	docs, err := queryStrings(ctx, pool, `SELECT _jsonb::text FROM `+
		pgx.Identifier{schema, "_ferretdb_database_metadata"}.Sanitize())
	if err != nil {
		return nil, err
	}
	var out []ginIndex
	for _, doc := range docs {
		var meta struct {
			Table   string `json:"table"`
			Indexes []struct {
				Key map[string]json.RawMessage `json:"key"`
			} `json:"indexes"`
		}
		if json.Unmarshal([]byte(doc), &meta) != nil || meta.Table == "" {
			continue
		}
		seen := map[string]bool{}
		for _, index := range meta.Indexes {
			for field := range index.Key {
				if seen[field] || field == "" || strings.ContainsAny(field, ".$") {
					continue
				}
				seen[field] = true
				expr := "_jsonb->'" + strings.ReplaceAll(field, "'", "''") + "'"
				out = append(out, ginIndex{schema, meta.Table, ginName(meta.Table, field), expr})
			}
		}
	}
	return out, nil
}

// ginName: unique in the schema, within PostgreSQL's 63 bytes.
func ginName(table, field string) string {
	h := fnv.New32a()
	h.Write([]byte(field))
	return fmt.Sprintf("%s_%08x_gin", table[:min(len(table), 50)], h.Sum32())
}

func queryStrings(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) ([]string, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
