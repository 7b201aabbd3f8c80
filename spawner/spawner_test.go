package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// frame and the functions below encode and decode the protocol's frames, as lib/spawner-protocol.ts does.
func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func appendStr(b []byte, v string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

func runFrame(id uint32, file string, args, env []string, stdin string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{opRun}, id)
	b = appendStr(b, file)
	for _, list := range [][]string{args, env} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(list)))
		for _, v := range list {
			b = appendStr(b, v)
		}
	}
	return frame(appendStr(b, stdin))
}

func killFrame(id uint32) []byte {
	return frame(binary.BigEndian.AppendUint32([]byte{opKill}, id))
}

// decoded is a reply frame as the agent reads it (code nil when a signal ended the run or it did not start).
type decoded struct {
	ID                            uint32
	Code                          *int
	MaxRssKiB                     uint32
	Signal, Error, Stdout, Stderr string
}

type hello struct{ Protocol, Pid uint32 }

func readFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		t.Fatalf("no frame: %v", err)
	}
	payload := make([]byte, binary.BigEndian.Uint32(header[:]))
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("a cut frame: %v", err)
	}
	return payload
}

func readHello(t *testing.T, r io.Reader) hello {
	t.Helper()
	p := readFrame(t, r)
	if len(p) != 9 || p[0] != opHello {
		t.Fatalf("not a hello: %q", p)
	}
	return hello{binary.BigEndian.Uint32(p[1:]), binary.BigEndian.Uint32(p[5:])}
}

func readReply(t *testing.T, r io.Reader) decoded {
	t.Helper()
	p := readFrame(t, r)
	if p[0] != opDone {
		t.Fatalf("not a reply: %q", p)
	}
	d := decoder{b: p[1:]}
	out := decoded{ID: d.u32()}
	if code := int32(d.u32()); code >= 0 {
		c := int(code)
		out.Code = &c
	}
	out.MaxRssKiB = d.u32()
	out.Signal, out.Error, out.Stdout, out.Stderr = d.str(), d.str(), d.str(), d.str()
	if d.err != nil || len(d.b) != 0 {
		t.Fatalf("a bad reply %q: %v", p, d.err)
	}
	return out
}

// session is a Spawner served over pipes, as the agent drives it (the test reaps for it).
type session struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *io.PipeReader
	s      *Spawner
	served chan error
}

func start(t *testing.T) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	ready := make(chan *Spawner, 1)
	go func() { ready <- New(outW) }()
	ss := &session{t: t, in: inW, out: outR, served: served}
	if h := readHello(t, outR); h.Protocol != protocolVersion || int(h.Pid) != os.Getpid() {
		t.Fatalf("hello = %+v, want protocol %d and pid %d", h, protocolVersion, os.Getpid())
	}
	ss.s = <-ready
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	stopReaping := make(chan struct{})
	go func() {
		for {
			select {
			case <-children:
				ss.s.Reap()
			case <-stopReaping:
				return
			}
		}
	}()
	go func() { served <- ss.s.Serve(inR) }()
	t.Cleanup(func() {
		ss.s.KillAll()
		inW.Close()
		outR.Close()
		signal.Stop(children)
		close(stopReaping)
	})
	return ss
}

func (ss *session) send(frame []byte) {
	ss.t.Helper()
	if _, err := ss.in.Write(frame); err != nil {
		ss.t.Fatal(err)
	}
}

func (ss *session) run(id uint32, file string, args, env []string, stdin string) {
	ss.t.Helper()
	ss.send(runFrame(id, file, args, env, stdin))
}

func (ss *session) reply() decoded {
	ss.t.Helper()
	return readReply(ss.t, ss.out)
}

func sh(script string) (string, []string) { return "/bin/sh", []string{"-c", script} }

func TestRunGivesExitCodeOutputAndFeedsStdin(t *testing.T) {
	ss := start(t)
	file, args := sh(`cat; echo "to stderr" >&2; exit 3`)
	ss.run(7, file, args, nil, `{"cniVersion":"1.0.0"}`)
	r := ss.reply()
	if r.ID != 7 || r.Code == nil || *r.Code != 3 || r.Signal != "" || r.Error != "" {
		t.Fatalf("reply = %+v, want id 7, code 3", r)
	}
	if r.Stdout != `{"cniVersion":"1.0.0"}` || r.Stderr != "to stderr\n" {
		t.Fatalf("stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
}

func TestRunPassesExactlyTheGivenEnvironment(t *testing.T) {
	ss := start(t)
	ss.run(1, "/usr/bin/env", nil, []string{"CNI_COMMAND=ADD", "MULTINET_DELEGATE_OF=/state"}, "")
	r := ss.reply()
	if r.Stdout != "CNI_COMMAND=ADD\nMULTINET_DELEGATE_OF=/state\n" {
		t.Fatalf("env = %q", r.Stdout)
	}
}

func TestRunOfAMissingFileSaysWhy(t *testing.T) {
	ss := start(t)
	ss.run(2, "/nonexistent/plugin", nil, nil, "")
	r := ss.reply()
	if r.ID != 2 || r.Code != nil || !strings.Contains(r.Error, "cannot execute /nonexistent/plugin") {
		t.Fatalf("reply = %+v", r)
	}
}

func TestABusyIdIsAnsweredWithAnError(t *testing.T) {
	ss := start(t)
	file, args := sh("sleep 5")
	ss.run(4, file, args, nil, "")
	ss.run(4, file, args, nil, "")
	if r := ss.reply(); r.ID != 4 || r.Code != nil || !strings.Contains(r.Error, "already running") {
		t.Fatalf("reply = %+v", r)
	}
	ss.send(killFrame(4))
	if r := ss.reply(); r.ID != 4 || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
}

func TestAFrameItCannotReadEndsServe(t *testing.T) {
	for name, bad := range map[string][]byte{
		"unknown kind":     frame([]byte{'x', 0, 0, 0, 1}),
		"cut string":       frame(append(binary.BigEndian.AppendUint32([]byte{opRun}, 1), 0, 0, 0, 9, 'a')),
		"empty":            frame(nil),
		"too many strings": frame(binary.BigEndian.AppendUint32(appendStr(binary.BigEndian.AppendUint32([]byte{opRun}, 1), "/bin/true"), 1<<30)),
	} {
		t.Run(name, func(t *testing.T) {
			ss := start(t)
			ss.send(bad)
			if err := <-ss.served; err == nil {
				t.Fatal("Serve went on")
			}
		})
	}
}

// gone tells whether a process has ended: no longer there, or a zombie.
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	text := string(stat)
	return strings.HasPrefix(text[strings.LastIndexByte(text, ')')+2:], "Z")
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPid waits for a pid file a started script writes.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if text, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(text), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(text)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillEndsTheRunsProcessGroupGrandchildrenIncluded(t *testing.T) {
	ss := start(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	file, args := sh(`sleep 100 & echo $! >"$0"; wait`)
	ss.run(5, file, append(args, pidFile), nil, "")
	grandchild := readPid(t, pidFile)
	ss.send(killFrame(5))
	r := ss.reply()
	if r.ID != 5 || r.Code != nil || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
	waitGone(t, grandchild, "the run's background sleep")
	// A kill for a run that is over touches nothing.
	ss.send(killFrame(5))
}

func TestOutputIsCappedAndThePipeDrained(t *testing.T) {
	ss := start(t)
	file, args := sh(fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x; echo done >&2", maxOutputBytes+100000))
	ss.run(6, file, args, nil, "")
	r := ss.reply()
	if len(r.Stdout) != maxOutputBytes || r.Stderr != "done\n" || r.Code == nil || *r.Code != 0 {
		t.Fatalf("stdout %d bytes, stderr %q, code %v", len(r.Stdout), r.Stderr, r.Code)
	}
}

func TestRunsGoOnSideBySide(t *testing.T) {
	ss := start(t)
	dir := t.TempDir()
	// Each run waits for the file the next one writes: they finish only if all run at once.
	const n = 10
	for i := 0; i < n; i++ {
		file, args := sh(`touch "$0/$1"; while [ ! -e "$0/$2" ]; do sleep 0.01; done; echo "$1"`)
		ss.run(uint32(100+i), file, append(args, dir, strconv.Itoa(i), strconv.Itoa((i+1)%n)), nil, "")
	}
	seen := map[uint32]string{}
	for i := 0; i < n; i++ {
		r := ss.reply()
		seen[r.ID] = r.Stdout
	}
	for i := 0; i < n; i++ {
		if seen[uint32(100+i)] != fmt.Sprintf("%d\n", i) {
			t.Fatalf("replies = %v", seen)
		}
	}
}

func TestKillAllEndsEveryRunAndRefusesNewOnes(t *testing.T) {
	ss := start(t)
	file, args := sh("sleep 100")
	ss.run(8, file, args, nil, "")
	// Serve reads the next frame once the run has started: after this one, it runs.
	ss.send(killFrame(999))
	ss.s.KillAll()
	if r := ss.reply(); r.ID != 8 || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
	ss.run(9, file, args, nil, "")
	if r := ss.reply(); r.ID != 9 || !strings.Contains(r.Error, "stopping") {
		t.Fatalf("reply = %+v", r)
	}
}

// built compiles this package's command into a temp dir.
func built(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "multinet-spawner")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process runs the command with a stdin the test holds open (its end never signals anything) and
// returns the hello of the spawner it runs.
func process(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, io.Reader, hello) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	h := readHello(t, out)
	if h.Protocol != protocolVersion {
		t.Fatalf("hello = %+v", h)
	}
	return in, out, h
}

// sleeper starts a run that writes its pid and sleeps, and returns that pid.
func sleeper(t *testing.T, in io.Writer) int {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, err := in.Write(runFrame(1, "/bin/sh", []string{"-c", `echo $$ >"$0"; exec sleep 100`, pidFile}, nil, "")); err != nil {
		t.Fatal(err)
	}
	return readPid(t, pidFile)
}

func TestRunsDieWhenTheParentOfTheSpawnerDies(t *testing.T) {
	bin := built(t)
	// A parent that forks the spawner and waits (not exec: the trailing command keeps sh there).
	parent := exec.Command("/bin/sh", "-c", `"$0"; :`, bin)
	in, _, h := process(t, parent)
	plugin := sleeper(t, in)
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// stdin stays open here: only PR_SET_PDEATHSIG can have told the spawner.
	waitGone(t, int(h.Pid), "the spawner")
	waitGone(t, plugin, "its run")
}

func TestRunsDieWithTheSpawnerKilledOrAtTheEndOfItsStdin(t *testing.T) {
	bin := built(t)
	for name, end := range map[string]func(in io.Closer, pid int) error{
		"killed":       func(_ io.Closer, pid int) error { return syscall.Kill(pid, syscall.SIGKILL) },
		"end of stdin": func(in io.Closer, _ int) error { return in.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			in, _, h := process(t, exec.Command(bin))
			plugin := sleeper(t, in)
			if err := end(in, int(h.Pid)); err != nil {
				t.Fatal(err)
			}
			waitGone(t, int(h.Pid), "the spawner")
			waitGone(t, plugin, "its run")
		})
	}
}

func TestAReplyTellsThePeakMemoryOfTheRunAndWhatItWaitedFor(t *testing.T) {
	// The built spawner (a vfork'd run's peak starts at its parent's size: this test binary is large).
	in, out, _ := process(t, exec.Command(built(t)))
	peak := func(id uint32, script string) uint32 {
		t.Helper()
		if _, err := in.Write(runFrame(id, "/bin/sh", []string{"-c", script}, nil, "")); err != nil {
			t.Fatal(err)
		}
		r := readReply(t, out)
		if r.Code == nil || *r.Code != 0 {
			t.Fatalf("reply = %+v", r)
		}
		return r.MaxRssKiB
	}
	// The shell waits for a child that holds 40 MiB at once (tail keeps its last 40 MiB).
	big := peak(1, "head -c 41943040 /dev/zero | tail -c 41943040 >/dev/null")
	small := peak(2, "true")
	if big < 40*1024 || small == 0 || small > 8*1024 {
		t.Fatalf("peaks: %d KiB with a 40 MiB child, %d KiB of true", big, small)
	}
}
