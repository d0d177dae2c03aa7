package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
)

// clusterFlags are serve's NATS flags (docs/CLUSTER.md).
type clusterFlags struct {
	url, listen, name, creds, tlsCA *string
	slots, queue                    *int
	spill                           *bool
	emb                             *cluster.Embedded
}

func natsFlags(fs *flag.FlagSet) *clusterFlags {
	return &clusterFlags{
		url:    fs.String("nats", "", "join the NATS system at this URL (nats://host:4222): requests with exec=cluster run on whichever node has a free slot, and this node runs other nodes' work"),
		listen: fs.String("nats-listen", "", "also run a NATS server here (host:port) that other nodes join with --nats nats://host:port; this node joins it unless --nats says otherwise"),
		name:   fs.String("nats-name", "", "this node's name in replies' stats.node (default: host name and --addr's port)"),
		creds:  fs.String("nats-creds", "", "NATS credentials file (JWT and seed) for --nats"),
		tlsCA:  fs.String("nats-tls-ca", "", "CA certificate (PEM) that the NATS servers' certificates are checked with (tls:// URLs)"),
		slots:  fs.Int("nats-slots", 0, "cluster jobs this node runs at once (0: --pool-workers; -1: none, the node only sends work to others)"),
		queue:  fs.Int("nats-queue", 1024, "cluster jobs that may wait here for a node with a free slot (overloaded beyond)"),
		spill:  fs.Bool("nats-spill", false, "exec=auto: a job the pool refuses because its queue is full runs on the cluster instead"),
	}
}

// join starts the embedded NATS server and joins the cluster, when the
// flags ask for it; otherwise it returns nil and nothing changes.
func (f *clusterFlags) join(addr string, execs map[string]executor.Executor, log *slog.Logger) (*cluster.Node, error) {
	if *f.url == "" && *f.listen == "" {
		return nil, nil
	}
	url := *f.url
	if *f.listen != "" {
		emb, err := cluster.Embed(*f.listen)
		if err != nil {
			return nil, err
		}
		f.emb = emb
		log.Info("cluster: NATS server listening", "url", emb.URL())
		if url == "" {
			url = emb.URL()
		}
	}
	name := *f.name
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		_, port, _ := net.SplitHostPort(addr)
		name = net.JoinHostPort(host, port)
	}
	slots := *f.slots
	if slots == 0 {
		slots = execs[executor.NamePool].Load().Slots
	}
	own := make(map[string]executor.Executor, len(execs)) // a copy: execs gains "cluster" below
	for k, v := range execs {
		own[k] = v
	}
	node, err := cluster.Join(cluster.Config{URL: url, Name: name, Creds: *f.creds, TLSCA: *f.tlsCA,
		Exec: execs[executor.NamePool], Slots: slots, Queue: *f.queue, Executors: own, Log: log})
	if err != nil {
		if f.emb != nil {
			f.emb.Close()
		}
		return nil, err
	}
	execs[executor.NameCluster] = node.Executor()
	return node, nil
}

// nodeName is what replies' stats.node say ("" outside a cluster).
func (f *clusterFlags) nodeName(node *cluster.Node) string {
	if node == nil {
		return ""
	}
	return node.Name()
}

// spillExec is the server's AutoSpill: nil unless --nats-spill.
func (f *clusterFlags) spillExec(node *cluster.Node, execs map[string]executor.Executor) executor.Executor {
	if node == nil || !*f.spill {
		return nil
	}
	return cluster.Spill(execs[executor.NamePool], node)
}

// drain starts the node's graceful leave (jobs it runs for others get
// grace to finish, then go back to their origins); the returned function
// waits for it.
func (f *clusterFlags) drain(node *cluster.Node, grace time.Duration) func() {
	if node == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		node.Drain(ctx)
	}()
	return func() { <-done }
}

// close leaves the cluster and stops the embedded NATS server, if any.
func (f *clusterFlags) close(node *cluster.Node, log *slog.Logger) {
	if err := node.Close(); err != nil {
		log.Warn("cluster: leaving", "err", err)
	}
	if f.emb != nil {
		f.emb.Close()
	}
}
