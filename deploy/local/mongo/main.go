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
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("listening on %s, data in %s (pid %d)", *listen, abs, os.Getpid())
	start := time.Now()
	err = f.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "ferretdb-local: %v\n", err)
		os.Exit(1)
	}
	log.Printf("stopped after %s", time.Since(start).Round(time.Second))
}
