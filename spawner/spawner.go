package main

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// The protocol's version and limits; lib/spawner-protocol.ts is the source of truth (a jest test
// compares them), and describes the frames.
const (
	protocolVersion = 1
	maxOutputBytes  = 4 * 1024 * 1024
	maxFrameBytes   = 64 * 1024 * 1024
)

// Frame kinds.
const (
	opRun   = 'r'
	opKill  = 'k'
	opHello = 'h'
	opDone  = 'd'
)

// request is a decoded run frame.
type request struct {
	id    uint32
	file  string
	args  []string
	env   []string
	stdin string
}

// reply ends a run: its exit code (-1 when a signal ended it, then signal names it, or when it did not
// start, then err says why), its peak resident memory (of it and the processes it waited for, in KiB;
// at least this process' own, as a run starts as its vfork) and its output.
type reply struct {
	id             uint32
	code           int32
	maxRssKiB      uint32
	signal, err    string
	stdout, stderr []byte
}

// run is a process started for a request, from its start until its reply.
type run struct {
	id     uint32
	pid    int
	reaped bool
	status syscall.WaitStatus
	usage  syscall.Rusage
	// Its stdout and stderr, read until every writer closed them.
	stdout, stderr capped
	drained        int // of the two
}

// Spawner serves requests: forks from one locked thread, reaps every child on SIGCHLD, reads output
// through the runtime's poller (no thread waits for a run).
type Spawner struct {
	outMu sync.Mutex
	out   io.Writer

	mu      sync.Mutex
	byID    map[uint32]*run // until replied
	byPid   map[int]*run    // until reaped
	closing bool

	starts chan func()
}

// New writes the hello frame to out and returns a Spawner replying there.
func New(out io.Writer) *Spawner {
	s := &Spawner{out: out, byID: map[uint32]*run{}, byPid: map[int]*run{}, starts: make(chan func())}
	go s.starter()
	hello := []byte{opHello}
	hello = binary.BigEndian.AppendUint32(hello, protocolVersion)
	hello = binary.BigEndian.AppendUint32(hello, uint32(os.Getpid()))
	s.send(hello)
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

// send writes one frame (its length, then the payload).
func (s *Spawner) send(payload []byte) {
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(payload)), uint32(len(payload)))
	frame = append(frame, payload...)
	s.outMu.Lock()
	defer s.outMu.Unlock()
	// The agent reading the other end is gone when this fails; stdin's end follows.
	_, _ = s.out.Write(frame)
}

func (s *Spawner) sendReply(r reply) {
	b := []byte{opDone}
	b = binary.BigEndian.AppendUint32(b, r.id)
	b = binary.BigEndian.AppendUint32(b, uint32(r.code))
	b = binary.BigEndian.AppendUint32(b, r.maxRssKiB)
	for _, field := range [][]byte{[]byte(r.signal), []byte(r.err), r.stdout, r.stderr} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
		b = append(b, field...)
	}
	s.send(b)
}

// decoder reads the fields of a frame's payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u32() uint32 {
	if d.err == nil && len(d.b) < 4 {
		d.err = errors.New("a frame ends inside a field")
	}
	if d.err != nil {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) str() string {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(len(d.b)) {
		d.err = errors.New("a frame ends inside a string")
	}
	if d.err != nil {
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) strs() []string {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(len(d.b))/4 {
		d.err = errors.New("a frame holds more strings than bytes")
	}
	list := make([]string, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		list = append(list, d.str())
	}
	return list
}

// Serve reads frames until in ends; a frame it cannot read ends it with an error.
func (s *Spawner) Serve(in io.Reader) error {
	var header [4]byte
	for {
		if _, err := io.ReadFull(in, header[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return errors.New("reading a frame: " + err.Error())
		}
		n := binary.BigEndian.Uint32(header[:])
		if n == 0 || n > maxFrameBytes {
			return errors.New("a frame of " + strconv.FormatUint(uint64(n), 10) + " bytes")
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(in, payload); err != nil {
			return errors.New("reading a frame: " + err.Error())
		}
		d := decoder{b: payload[1:]}
		switch payload[0] {
		case opRun:
			req := request{id: d.u32(), file: d.str(), args: d.strs(), env: d.strs(), stdin: d.str()}
			if d.err != nil {
				return errors.New("a run frame: " + d.err.Error())
			}
			s.start(req)
		case opKill:
			id := d.u32()
			if d.err != nil {
				return errors.New("a kill frame: " + d.err.Error())
			}
			s.kill(id)
		default:
			return errors.New("a frame of unknown kind " + strconv.Itoa(int(payload[0])))
		}
	}
}

// capped keeps the first maxOutputBytes written to it and drops the rest (still draining the pipe).
type capped struct{ b []byte }

func (c *capped) keep(p []byte) {
	if room := maxOutputBytes - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
}

// chunks are the read buffers of the output pipes, reused: a plugin writes a few KiB.
var chunks = sync.Pool{New: func() any { return new([4096]byte) }}

// pipe returns the end kept here (non-blocking, so reads and writes wait in the runtime's poller, not
// in a thread) and the end the run gets (blocking, as a process expects its stdio).
func pipe(forChildToRead bool) (ours *os.File, theirs int, err error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, -1, err
	}
	ourFd, theirFd := fds[0], fds[1]
	if forChildToRead {
		ourFd, theirFd = fds[1], fds[0]
	}
	if err := syscall.SetNonblock(ourFd, true); err != nil {
		syscall.Close(ourFd)
		syscall.Close(theirFd)
		return nil, -1, err
	}
	return os.NewFile(uintptr(ourFd), "pipe"), theirFd, nil
}

// start forks the run and returns once it runs (or could not start: then it has replied); its reply
// comes when it has been reaped and its output read. Serve reads the next frame only then, so a kill
// always finds the run it names, or no run because it has ended.
func (s *Spawner) start(req request) {
	var ours [3]*os.File
	var theirs [3]int
	closeAll := func() {
		for i := range ours {
			if ours[i] != nil {
				ours[i].Close()
				syscall.Close(theirs[i])
			}
		}
	}
	for i := range ours {
		f, fd, err := pipe(i == 0)
		if err != nil {
			closeAll()
			s.sendReply(reply{id: req.id, code: -1, err: "cannot execute " + req.file + ": " + err.Error()})
			return
		}
		ours[i], theirs[i] = f, fd
	}
	r := &run{id: req.id}
	attr := &syscall.ProcAttr{
		Env:   req.env,
		Files: []uintptr{uintptr(theirs[0]), uintptr(theirs[1]), uintptr(theirs[2])},
		// Its own process group (a kill reaches what it starts), and SIGKILL should this process die.
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	started := make(chan error)
	s.starts <- func() {
		// Registered under the lock the reaper takes: a run that exits at once is still found.
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closing {
			started <- errors.New("the spawner is stopping")
			return
		}
		if s.byID[req.id] != nil {
			started <- errors.New("request id " + strconv.FormatUint(uint64(req.id), 10) + " is already running")
			return
		}
		pid, err := syscall.ForkExec(req.file, append([]string{req.file}, req.args...), attr)
		if err == nil {
			r.pid = pid
			s.byID[req.id] = r
			s.byPid[pid] = r
		}
		started <- err
	}
	err := <-started
	for _, fd := range theirs {
		syscall.Close(fd)
	}
	if err != nil {
		for _, f := range ours {
			f.Close()
		}
		s.sendReply(reply{id: req.id, code: -1, err: "cannot execute " + req.file + ": " + err.Error()})
		return
	}
	go func() {
		// A run that exits without reading its stdin ends this write (EPIPE): no error of the run's.
		_, _ = io.WriteString(ours[0], req.stdin)
		ours[0].Close()
	}()
	go s.drain(r, ours[1], &r.stdout)
	go s.drain(r, ours[2], &r.stderr)
}

// drain reads one output pipe of a run until every writer has closed it (the run and anything it
// started with it, as Node's 'close' waits for).
func (s *Spawner) drain(r *run, f *os.File, into *capped) {
	chunk := chunks.Get().(*[4096]byte)
	for {
		n, err := f.Read(chunk[:])
		if n > 0 {
			s.mu.Lock()
			into.keep(chunk[:n])
			s.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	chunks.Put(chunk)
	f.Close()
	s.mu.Lock()
	r.drained++
	s.finishLocked(r)
}

// finishLocked replies for a run once it is reaped and drained; it unlocks s.mu.
func (s *Spawner) finishLocked(r *run) {
	if !r.reaped || r.drained < 2 {
		s.mu.Unlock()
		return
	}
	delete(s.byID, r.id)
	s.mu.Unlock()
	out := reply{id: r.id, stdout: r.stdout.b, stderr: r.stderr.b, maxRssKiB: uint32(max(r.usage.Maxrss, 0))}
	if r.status.Signaled() {
		out.code = -1
		out.signal = signalName(r.status.Signal())
	} else {
		out.code = int32(r.status.ExitStatus())
	}
	s.sendReply(out)
}

// Reap waits for every child that has exited (call it on SIGCHLD); the runs it ends are answered.
func (s *Spawner) Reap() {
	for {
		var status syscall.WaitStatus
		var usage syscall.Rusage
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, &usage)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		s.mu.Lock()
		r := s.byPid[pid]
		if r == nil {
			s.mu.Unlock()
			continue
		}
		delete(s.byPid, pid)
		r.reaped = true
		r.status = status
		r.usage = usage
		s.finishLocked(r)
	}
}

// kill SIGKILLs a run's process group; a run that has been reaped (or has ended) is left alone: its pid
// may be another process' by now.
func (s *Spawner) kill(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil && !r.reaped {
		killGroup(r.pid)
	}
}

// KillAll SIGKILLs the process group of every run still going; no run starts after it.
func (s *Spawner) KillAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for _, r := range s.byPid {
		killGroup(r.pid)
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
	return "SIG" + strconv.Itoa(int(sig))
}
