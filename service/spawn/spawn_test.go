package spawn

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// sleeper is a child that lives until killed, and is killed when the thread
// that forked it exits.
func sleeper() *exec.Cmd {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// startOnDyingThread runs start on a goroutine locked to its thread, which
// then exits still locked, so that Go retires the thread.
func startOnDyingThread(t *testing.T, start func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- start()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestChildOutlivesTheThreadThatAskedForIt(t *testing.T) {
	// The hazard itself: forked straight from a thread that then exits, the
	// child is killed. (A goroutine that lands on the main thread keeps it,
	// as the runtime never retires that one: then try again.)
	shown := false
	for try := 0; try < 5 && !shown; try++ {
		bare := sleeper()
		startOnDyingThread(t, bare.Start)
		waited := make(chan error, 1)
		go func() { waited <- bare.Wait() }()
		select {
		case err := <-waited:
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the bare child ended with %v, not SIGKILL", err)
			}
			shown = true
		case <-time.After(2 * time.Second):
			bare.Process.Kill()
			<-waited
		}
	}
	if !shown {
		t.Fatal("no bare child died with the thread that forked it: this test no longer shows the hazard")
	}

	// Through a Spawner, asked from such a thread, the child lives on, and
	// lives on after the Spawner stops (its thread goes back to the runtime).
	sp := New()
	child := sleeper()
	startOnDyingThread(t, func() error { return sp.Start(child) })
	ended := make(chan error, 1)
	go func() { ended <- child.Wait() }()
	defer func() { child.Process.Kill(); <-ended }()
	alive := func(when string) {
		select {
		case err := <-ended:
			ended <- err // for the deferred receive
			t.Fatalf("the spawned child ended %s: %v", when, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	alive("after the thread that asked for it exited")
	sp.Stop()
	alive("after its Spawner stopped")
}

func TestProcessIsOneSpawner(t *testing.T) {
	if Process() != Process() {
		t.Fatal("Process returned two Spawners")
	}
	cmd := exec.Command("true")
	if err := Process().Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
