package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// statusLine shows what is going on, on one line of a terminal redrawn in
// place. When its output is not a terminal it writes a line now and then
// instead (at most one every 10 s, and every permanent note).
type statusLine struct {
	mu    sync.Mutex
	f     *os.File
	tty   bool
	last  time.Time
	shown bool
}

func newStatusLine(f *os.File) *statusLine {
	st, err := f.Stat()
	return &statusLine{f: f, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// set replaces the status line.
func (s *statusLine) set(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if s.tty {
		fmt.Fprintf(s.f, "\r\x1b[K%s", msg)
		s.shown = true
		return
	}
	if time.Since(s.last) >= 10*time.Second {
		fmt.Fprintln(s.f, msg)
		s.last = time.Now()
	}
}

// note prints a line that stays, above the status line.
func (s *statusLine) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.shown {
		fmt.Fprint(s.f, "\r\x1b[K")
		s.shown = false
	}
	fmt.Fprintln(s.f, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// clear removes the status line.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.shown {
		fmt.Fprint(s.f, "\r\x1b[K")
		s.shown = false
	}
}
