package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Bounds of a scrape: a client gets this long to send its request and read
// the answer, and an idle keep-alive connection is closed after a minute
// (Prometheus scrapes every 15 s to 1 min by default and reuses it).
const (
	readTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
	idleTimeout  = time.Minute
	maxHeader    = 8 << 10
	stopWait     = 2 * time.Second
)

// ContentType is the text format's, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Server serves Path on one listener. Between scrapes it only waits in
// accept: no goroutine of its own wakes, no timer runs.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	done   chan struct{}
	log    *slog.Logger
	served bool // Serve was called; Serve and Close are the owner's, one goroutine
}

// Listen binds addr (host:port; port 0 picks a free one), so that a bad
// address or a port in use is known at start, before anything runs. Serve
// starts answering.
func Listen(addr string, write func(*Writer), log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w: choose a free port, or leave metrics_listen empty to serve no metrics", addr, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		var mw Writer
		write(&mw)
		w.Header().Set("Content-Type", ContentType)
		w.Write(mw.Bytes())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nothing here: the metrics are at "+Path, http.StatusNotFound)
	})
	return &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: readTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeader,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
		log:  log,
	}, nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve starts answering scrapes on a goroutine that Close stops.
func (s *Server) Serve() {
	s.log.Info("serving metrics", "url", "http://"+s.Addr()+Path)
	s.served = true
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
}

// Close stops the server: a scrape under way gets stopWait to finish,
// then its connection is closed; Close returns once Serve's goroutine has.
// A Server that never served just closes its listener.
func (s *Server) Close() {
	if !s.served {
		s.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopWait)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}
