// Command demo is berth's demo web app: a tiny JSON API backed by Postgres.
//
//	demo            serve HTTP on $PORT (default 8080)
//	demo migrate    create the schema and exit (release-phase command)
//	demo healthcheck  GET http://127.0.0.1:$PORT/api/health, exit 0 on 200
//
// Environment: PORT, DATABASE_URL, DEMO_FORCE_UNHEALTHY=1 (health never 200),
// DEMO_MIGRATE_FAIL=1 (migrate exits 1).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// version is baked in at build time: -ldflags "-X main.version=v1".
var version = "dev"

const schemaSQL = `CREATE TABLE IF NOT EXISTS demo_rows (
	id         BIGSERIAL PRIMARY KEY,
	value      TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`

type row struct {
	ID        int64     `json:"id"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
}

type app struct {
	pool           *pgxpool.Pool // nil when DATABASE_URL is unset or invalid
	forceUnhealthy bool
	schemaReady    atomic.Bool
}

func main() {
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "migrate":
			os.Exit(migrate())
		case "healthcheck":
			os.Exit(healthcheck())
		case "version", "--version":
			fmt.Println(version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [migrate|healthcheck|version]\n", os.Args[0])
			os.Exit(2)
		}
	}
	os.Exit(serve())
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newPool() (*pgxpool.Pool, error) {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	// pgxpool connects lazily, so this succeeds even if the database is down.
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

func migrate() int {
	if os.Getenv("DEMO_MIGRATE_FAIL") == "1" {
		fmt.Fprintln(os.Stderr, "migrate: failing on purpose (DEMO_MIGRATE_FAIL=1)")
		return 1
	}
	pool, err := newPool()
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 1
	}
	defer pool.Close()
	timeout, _ := time.ParseDuration(env("DEMO_MIGRATE_TIMEOUT", "30s"))
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = pool.Exec(ctx, schemaSQL)
		cancel()
		if err == nil {
			fmt.Printf("migrate: schema ready (version %s)\n", version)
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "migrate: giving up:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "migrate: database not ready, retrying:", err)
		time.Sleep(time.Second)
	}
}

func healthcheck() int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + env("PORT", "8080") + "/api/health")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

func serve() int {
	a := &app{forceUnhealthy: os.Getenv("DEMO_FORCE_UNHEALTHY") == "1"}
	pool, err := newPool()
	if err != nil {
		log.Printf("database: %v (health will report unreachable)", err)
	} else {
		a.pool = pool
		defer pool.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if a.pool != nil {
		go a.ensureSchemaLoop(ctx)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", a.health)
	mux.HandleFunc("GET /api/version", a.versionHandler)
	mux.HandleFunc("GET /api/rows", a.listRows)
	mux.HandleFunc("POST /api/rows", a.createRow)
	mux.HandleFunc("GET /api/slow", a.slow)
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
	})

	addr := ":" + env("PORT", "8080")
	srv := &http.Server{
		Addr:              addr,
		Handler:           logRequests(mux),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("demo %s listening on %s (force_unhealthy=%v)", version, addr, a.forceUnhealthy)

	select {
	case err := <-errc:
		log.Printf("server error: %v", err)
		return 1
	case <-ctx.Done():
	}
	log.Printf("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Printf("shutdown: %v", err)
		return 1
	}
	log.Printf("shutdown complete")
	return 0
}

// ensureSchemaLoop creates the table at startup, retrying until the database
// answers (the app starts even when the database is down).
func (a *app) ensureSchemaLoop(ctx context.Context) {
	for attempt := 1; ; attempt++ {
		if err := a.ensureSchema(ctx); err == nil {
			log.Printf("database: schema ready")
			return
		} else if attempt == 1 || attempt%15 == 0 {
			log.Printf("database: not ready (attempt %d): %v", attempt, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (a *app) ensureSchema(ctx context.Context) error {
	if a.schemaReady.Load() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.pool.Exec(cctx, schemaSQL); err != nil {
		return err
	}
	a.schemaReady.Store(true)
	return nil
}

func (a *app) dbOK(ctx context.Context) bool {
	if a.pool == nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one int
	return a.pool.QueryRow(cctx, "SELECT 1").Scan(&one) == nil && one == 1
}

type healthBody struct {
	OK              bool   `json:"ok"`
	Database        string `json:"database"`
	Version         string `json:"version"`
	ForcedUnhealthy bool   `json:"forced_unhealthy,omitempty"`
}

func (a *app) health(w http.ResponseWriter, r *http.Request) {
	ok := a.dbOK(r.Context())
	body := healthBody{OK: ok && !a.forceUnhealthy, Database: "unreachable", Version: version,
		ForcedUnhealthy: a.forceUnhealthy}
	if ok {
		body.Database = "connected"
	}
	status := http.StatusOK
	if !body.OK {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

func (a *app) versionHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": version})
}

func (a *app) dbError(w http.ResponseWriter, err error) {
	log.Printf("database error: %v", err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "database unavailable", "version": version})
}

func (a *app) createRow(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Value *string `json:"value"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Value == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": `expected JSON body {"value":"..."}`})
		return
	}
	if a.pool == nil {
		a.dbError(w, errors.New("no database configured"))
		return
	}
	if err := a.ensureSchema(r.Context()); err != nil {
		a.dbError(w, err)
		return
	}
	var out row
	err := a.pool.QueryRow(r.Context(),
		`INSERT INTO demo_rows (value) VALUES ($1) RETURNING id, value, created_at`, *in.Value).
		Scan(&out.ID, &out.Value, &out.CreatedAt)
	if err != nil {
		a.dbError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *app) listRows(w http.ResponseWriter, r *http.Request) {
	if a.pool == nil {
		a.dbError(w, errors.New("no database configured"))
		return
	}
	if err := a.ensureSchema(r.Context()); err != nil {
		a.dbError(w, err)
		return
	}
	rs, err := a.pool.Query(r.Context(), `SELECT id, value, created_at FROM demo_rows ORDER BY id`)
	if err != nil {
		a.dbError(w, err)
		return
	}
	out, err := pgx.CollectRows(rs, func(rr pgx.CollectableRow) (row, error) {
		var x row
		err := rr.Scan(&x.ID, &x.Value, &x.CreatedAt)
		return x, err
	})
	if err != nil {
		a.dbError(w, err)
		return
	}
	if out == nil {
		out = []row{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	ms = max(0, min(ms, 5000))
	// Deliberately not cancelled by shutdown: graceful reloads must let it finish.
	time.Sleep(time.Duration(ms) * time.Millisecond)
	writeJSON(w, http.StatusOK, map[string]any{"slept_ms": ms, "version": version})
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v := html.EscapeString(version)
	fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>berth demo %s</title></head>\n"+
		"<body><h1>berth demo</h1><p>version <strong id=\"version\">%s</strong></p></body></html>\n", v, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.Printf("%s %s %s %d %dB %s %q", start.UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI(),
			rec.status, rec.bytes, time.Since(start).Round(time.Microsecond), r.RemoteAddr)
	})
}
