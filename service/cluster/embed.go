package cluster

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a nats-server running inside this process, for a cluster
// that needs nothing else: other nodes join it with --nats nats://ADDR.
type Embedded struct {
	srv *server.Server
}

// Embed starts a nats-server listening on addr (host:port; port 0 picks
// one) with NATS's defaults, among them the 1 MiB max payload, and waits
// until it takes connections.
func Embed(addr string) (*Embedded, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS listen address %q: port: %w", addr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "crunch-" + addr,
		Host:       host,
		Port:       port,
		NoSigs:     true, // the crunch process owns its signals
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS server on %s did not start", addr)
	}
	return &Embedded{srv: s}, nil
}

// URL is where nodes connect to the embedded server.
func (e *Embedded) URL() string {
	a, ok := e.srv.Addr().(*net.TCPAddr)
	if !ok {
		return "nats://" + e.srv.Addr().String()
	}
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "nats://" + net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// Close stops the server: every node connected to it loses its link and
// keeps trying to reconnect.
func (e *Embedded) Close() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
