// Command crunch is the one binary of the crunch service:
//
//	crunch serve [flags]            run the WebSocket server
//	crunch call [flags] OP k=v...   call an op on a running server, print the reply
//	crunch worker                   a subprocess worker (started by serve, not by people)
//	crunch version                  print versions and the CPU path in use
package main

import (
	"fmt"
	"os"
)

const usage = `usage: crunch <command> [arguments]

commands:
  serve     run the WebSocket server (crunch serve -h for its flags)
  call      call an op on a running server: crunch call modsum n=7
  worker    run as a subprocess worker (the server starts these itself)
  version   print versions and the SIMD path this CPU uses
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args)
	case "call":
		err = callCmd(args)
	case "worker":
		err = worker()
	case "version":
		printVersion()
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "crunch: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crunch %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
