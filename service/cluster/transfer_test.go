package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkMove32MiB moves 32 MiB from one NATS connection to another
// through one embedded nats-server (1 MiB max payload), in parts as nodes
// do (send and assemble), and, for comparison, through a JetStream object
// store (put, get, delete) in memory and on file: the numbers behind the
// choice of parts.
//
//	go test -run '^$' -bench Move32MiB -benchtime 20x ./service/cluster
func BenchmarkMove32MiB(b *testing.B) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats-server did not start")
	}
	connect := func() *nats.Conn {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	data := make([]byte, 32<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("parts", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		sender := &Node{nc: connect()}
		var asm assemblies
		got := make(chan int, 1)
		sub, err := connect().Subscribe("move", func(m *nats.Msg) {
			if whole, ok := asm.assemble(m, 1<<30); ok {
				got <- len(whole.Data)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		for b.Loop() {
			m := nats.NewMsg("move")
			m.Data = data
			if err := sender.send(m); err != nil {
				b.Fatal(err)
			}
			if n := <-got; n != len(data) {
				b.Fatalf("assembled %d bytes", n)
			}
		}
	})
	for _, storage := range []jetstream.StorageType{jetstream.MemoryStorage, jetstream.FileStorage} {
		b.Run("objectstore-"+storage.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			ctx := context.Background()
			put, err := jetstream.New(connect())
			if err != nil {
				b.Fatal(err)
			}
			get, err := jetstream.New(connect())
			if err != nil {
				b.Fatal(err)
			}
			bucket := "move-" + storage.String()
			store, err := put.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: storage})
			if err != nil {
				b.Fatal(err)
			}
			defer put.DeleteObjectStore(ctx, bucket)
			reader, err := get.ObjectStore(ctx, bucket)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				name := fmt.Sprint("x", i)
				i++
				if _, err := store.PutBytes(ctx, name, data); err != nil {
					b.Fatal(err)
				}
				out, err := reader.GetBytes(ctx, name)
				if err != nil || len(out) != len(data) {
					b.Fatalf("get: %d bytes, %v", len(out), err)
				}
				if err := store.Delete(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
