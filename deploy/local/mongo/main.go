// Command ferretdb-local runs a MongoDB-wire-compatible server for local
// development and tests: FerretDB v1 embedded as a library, storing into
// SQLite files (-handler sqlite) or a PostgreSQL database (-handler postgresql,
// the cluster of deploy/local/postgres.sh).
//
// FerretDB v1 has no authentication, so it listens on 127.0.0.1 only by
// default. It stops gracefully on SIGINT / SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with -pprof
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	handler := flag.String("handler", "sqlite", "storage: sqlite or postgresql")
	dir := flag.String("dir", "var/ferretdb", "directory holding the SQLite databases (sqlite only)")
	pgURL := flag.String("postgresql-url", "",
		"PostgreSQL URL (postgresql only), e.g. postgres://postgres@/labelvi?host=/abs/socket/dir")
	debug := flag.Bool("debug", false, "log every command and SQL statement (slow; to see what is pushed down)")
	synchronous := flag.String("synchronous", "normal",
		"SQLite synchronous pragma: normal (WAL: durable across process crashes, may lose the "+
			"last commits on power loss; several times faster) or full (fsync every commit)")
	idIndex := flag.Bool("id-index", true,
		"index the `_id` expression FerretDB's SQLite updates and deletes (idindex.go), or its "+
			"PostgreSQL equality reads (pgindex.go: every indexed field), use; false only to measure")
	pprof := flag.String("pprof", os.Getenv("FERRETDB_LOCAL_PPROF"),
		"serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060, "+
			"to see where FerretDB spends its CPU (default $FERRETDB_LOCAL_PPROF; off when empty)")
	flag.Parse()

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("ferretdb-local ")

	config := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Handler: *handler}
	if *debug {
		config.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var abs, where string
	switch *handler {
	case "sqlite":
		var err error
		if abs, err = filepath.Abs(*dir); err != nil {
			log.Fatalf("bad -dir %q: %v", *dir, err)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			log.Fatalf("cannot create %s: %v", abs, err)
		}
		config.SQLiteURL = sqliteURL(abs, *synchronous)
		where = "SQLite files in " + abs
	case "postgresql":
		if *pgURL == "" {
			log.Fatalf("-handler postgresql needs -postgresql-url")
		}
		config.PostgreSQLURL = *pgURL
		where = "PostgreSQL " + *pgURL
	default:
		log.Fatalf("bad -handler %q: sqlite or postgresql", *handler)
	}

	// Fail fast with a clear message when the port is taken (FerretDB's own
	// error arrives later, from inside Run).
	if l, err := net.Listen("tcp", *listen); err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	} else {
		l.Close()
	}

	f, err := ferretdb.New(config)
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *idIndex && *handler == "sqlite" {
		go indexIDExpressions(ctx, abs, time.Second)
	}
	if *idIndex && *handler == "postgresql" {
		go indexPostgreSQLFields(ctx, *pgURL, time.Second)
	}

	if *pprof != "" {
		host, _, err := net.SplitHostPort(*pprof)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			log.Fatalf("bad -pprof %q: a loopback address and port, e.g. 127.0.0.1:6060", *pprof)
		}
		go func() { log.Printf("pprof on %s: %v", *pprof, http.ListenAndServe(*pprof, nil)) }()
	}
	log.Printf("listening on %s, data: %s (pid %d)", *listen, where, os.Getpid())
	start := time.Now()
	err = f.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "ferretdb-local: %v\n", err)
		os.Exit(1)
	}
	log.Printf("stopped after %s", time.Since(start).Round(time.Second))
}

// sqliteURL adds our pragmas to the ones FerretDB sets by default (WAL,
// busy timeout): only `synchronous`, which decides whether every commit waits
// for an fsync.
func sqliteURL(dir, synchronous string) string {
	switch synchronous {
	case "normal", "full":
	default:
		log.Fatalf("bad -synchronous %q: normal or full", synchronous)
	}
	return "file:" + dir + "/?_pragma=synchronous(" + synchronous + ")"
}
