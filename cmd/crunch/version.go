package main

import (
	"fmt"
	"runtime"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/server"
)

func printVersion() {
	fmt.Printf("crunch %s (libcrunch %s, %s, %s/%s)\nSIMD path: %s\n",
		server.Version, cgo.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, cgo.BestISA())
}
