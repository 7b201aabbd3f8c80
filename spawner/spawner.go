package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// The protocol's version and limits; lib/spawner-protocol.ts is the source of truth (a jest test
// compares them).
const (
	protocolVersion = 1
	maxOutputBytes  = 4 * 1024 * 1024
)

// request is one line from the agent (lib/spawner-protocol.ts: SpawnerRequest).
type request struct {
	ID    uint64            `json:"id"`
	Op    string            `json:"op"`
	File  string            `json:"file"`
	Args  []string          `json:"args"`
	Env   map[string]string `json:"env"`
	Stdin string            `json:"stdin"`
}

// hello is the first line to the agent: the protocol spoken and this process' id.
type hello struct {
	Protocol int `json:"protocol"`
	Pid      int `json:"pid"`
}

// reply ends a run (lib/spawner-protocol.ts: SpawnerReply): its exit code (null when a signal ended
// it, then Signal names it), its output, or why it could not start.
type reply struct {
	ID     uint64 `json:"id"`
	Code   *int   `json:"code"`
	Signal string `json:"signal,omitempty"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Error  string `json:"error,omitempty"`
}

// run is a process started for a request, until it is reaped.
type run struct {
	pid    int  // 0 until started
	killed bool // a kill came before it started: killed once it is
}

// Spawner serves requests: each run in its own goroutine, every fork from one locked thread.
type Spawner struct {
	outMu sync.Mutex
	out   *json.Encoder

	mu      sync.Mutex
	runs    map[uint64]*run
	closing bool

	starts chan func()
}

// New writes the hello line to out and returns a Spawner replying there.
func New(out io.Writer) *Spawner {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	s := &Spawner{out: enc, runs: map[uint64]*run{}, starts: make(chan func())}
	go s.starter()
	s.send(hello{Protocol: protocolVersion, Pid: os.Getpid()})
	return s
}

// starter forks every process from one OS thread that never exits: a child's PR_SET_PDEATHSIG fires
// when the thread that forked it ends, not the process, so no other thread may fork.
func (s *Spawner) starter() {
	runtime.LockOSThread()
	for start := range s.starts {
		start()
	}
}

func (s *Spawner) send(v any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	// The agent reading the other end is gone when this fails; stdin's end follows.
	_ = s.out.Encode(v)
}

// Serve reads requests until in ends; a line that is not a request ends it with an error.
func (s *Spawner) Serve(in io.Reader) error {
	dec := json.NewDecoder(in)
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a request: %w", err)
		}
		switch req.Op {
		case "run":
			s.mu.Lock()
			_, taken := s.runs[req.ID]
			if !taken {
				s.runs[req.ID] = &run{}
			}
			s.mu.Unlock()
			if taken {
				s.send(reply{ID: req.ID, Error: fmt.Sprintf("request id %d is already running", req.ID)})
				continue
			}
			go s.run(req)
		case "kill":
			s.kill(req.ID)
		default:
			s.send(reply{ID: req.ID, Error: fmt.Sprintf("unknown op %q", req.Op)})
		}
	}
}

// capped keeps the first maxOutputBytes written to it and drops the rest (still draining the pipe).
// Not an embedded bytes.Buffer: io.Copy would use its ReadFrom and bypass the cap.
type capped struct{ buf bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutputBytes - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

func environ(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

func (s *Spawner) run(req request) {
	var stdout, stderr capped
	cmd := &exec.Cmd{
		Path:   req.File,
		Args:   append([]string{req.File}, req.Args...),
		Env:    environ(req.Env),
		Stdin:  strings.NewReader(req.Stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		// Its own process group (a kill reaches what it starts), and SIGKILL should this process die.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	started := make(chan error)
	s.starts <- func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closing {
			started <- errors.New("the spawner is stopping")
			return
		}
		err := cmd.Start()
		if err == nil {
			r := s.runs[req.ID]
			r.pid = cmd.Process.Pid
			if r.killed {
				killGroup(r.pid)
			}
		}
		started <- err
	}
	if err := <-started; err != nil {
		s.forget(req.ID)
		s.send(reply{ID: req.ID, Error: fmt.Sprintf("cannot execute %s: %v", req.File, err)})
		return
	}
	_ = cmd.Wait() // the outcome is in ProcessState; a failed stdin copy (it exited unread) is no error
	s.forget(req.ID)
	out := reply{ID: req.ID, Stdout: stdout.String(), Stderr: stderr.String()}
	status := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		out.Signal = signalName(status.Signal())
	} else {
		code := status.ExitStatus()
		out.Code = &code
	}
	s.send(out)
}

func (s *Spawner) forget(id uint64) {
	s.mu.Lock()
	delete(s.runs, id)
	s.mu.Unlock()
}

// kill SIGKILLs a run's process group (at once, or as soon as it has started); an unknown or finished
// run is left alone.
func (s *Spawner) kill(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	if r == nil {
		return
	}
	if r.pid == 0 {
		r.killed = true
		return
	}
	killGroup(r.pid)
}

// KillAll SIGKILLs the process group of every run still going; no run starts after it.
func (s *Spawner) KillAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for _, r := range s.runs {
		if r.pid != 0 {
			killGroup(r.pid)
		}
	}
}

func killGroup(pid int) {
	if syscall.Kill(-pid, syscall.SIGKILL) != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP",
	syscall.SIGILL: "SIGILL", syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGSYS: "SIGSYS",
}

// signalName is the name Node.js gives a signal ("SIGKILL"), or "SIG<number>" for an unusual one.
func signalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return name
	}
	return fmt.Sprintf("SIG%d", int(sig))
}
