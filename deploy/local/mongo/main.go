// Command ferretdb-local runs a MongoDB-wire-compatible server for local
// development and tests: FerretDB v1 embedded as a library, SQLite storage.
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
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	dir := flag.String("dir", "var/ferretdb", "directory holding the SQLite databases")
	synchronous := flag.String("synchronous", "normal",
		"SQLite synchronous pragma: normal (WAL: durable across process crashes, may lose the "+
			"last commits on power loss; several times faster) or full (fsync every commit)")
	idIndex := flag.Bool("id-index", true,
		"index the `_id` expression FerretDB's updates and deletes use (see idindex.go); "+
			"false only to measure the difference")
	flag.Parse()

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("ferretdb-local ")

	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatalf("bad -dir %q: %v", *dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatalf("cannot create %s: %v", abs, err)
	}

	// Fail fast with a clear message when the port is taken (FerretDB's own
	// error arrives later, from inside Run).
	if l, err := net.Listen("tcp", *listen); err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	} else {
		l.Close()
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(abs, *synchronous),
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *idIndex {
		go indexIDExpressions(ctx, abs, time.Second)
	}

	log.Printf("listening on %s, data in %s (pid %d)", *listen, abs, os.Getpid())
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
