// Package spawn starts child processes from one OS thread that lives as
// long as the Spawner.
//
// A child started with SysProcAttr.Pdeathsig gets that signal when the
// thread that forked it exits, not when its parent process does. Go retires
// an OS thread whenever a goroutine locked to it exits (a closing worker
// pool does), so a child forked from an arbitrary goroutine can be killed
// at any later moment for nothing. Forking every child from one locked
// thread that never exits makes Pdeathsig mean "when this process dies".
package spawn

import (
	"os/exec"
	"runtime"
	"sync"
)

// Spawner runs exec.Cmd.Start on a thread of its own.
type Spawner struct {
	reqs chan request
	done chan struct{}
}

type request struct {
	cmd   *exec.Cmd
	reply chan error
}

// New starts a Spawner's thread; Stop ends it.
func New() *Spawner {
	sp := &Spawner{reqs: make(chan request), done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		runtime.LockOSThread()
		// Unlocked on the way out, the thread goes back to the runtime
		// rather than being retired, so its children live on.
		defer runtime.UnlockOSThread()
		for r := range sp.reqs {
			r.reply <- r.cmd.Start()
		}
	}()
	return sp
}

// Start runs cmd.Start on the Spawner's thread.
func (sp *Spawner) Start(cmd *exec.Cmd) error {
	reply := make(chan error, 1)
	sp.reqs <- request{cmd: cmd, reply: reply}
	return <-reply
}

// Stop ends the Spawner once no Start can come any more.
func (sp *Spawner) Stop() {
	close(sp.reqs)
	<-sp.done
}

var (
	processOnce sync.Once
	process     *Spawner
)

// Process returns a Spawner that lives as long as the process, for callers
// whose children should die with it and which have no lifetime of their
// own to tie a Spawner to.
func Process() *Spawner {
	processOnce.Do(func() { process = New() })
	return process
}
