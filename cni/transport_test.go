package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agent listens on a unix socket in a temp dir and answers each connection with serve.
func agent(t *testing.T, serve func(conn net.Conn, request string)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				reader := bufio.NewReader(conn)
				var head strings.Builder
				length := 0
				for {
					line, err := reader.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(line)
					if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "content-length") {
						length = atoi(strings.TrimSpace(value))
					}
					if line == "\r\n" {
						break
					}
				}
				body := make([]byte, length)
				_, _ = io.ReadFull(reader, body)
				serve(conn, head.String()+string(body))
			}()
		}
	}()
	return path
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestSendPostsOneHTTPRequestAndReadsTheAnswer(t *testing.T) {
	got := make(chan string, 1)
	socket := agent(t, func(conn net.Conn, request string) {
		got <- request
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nmultinet-agent-version: 0.7.0\r\ncontent-length: 15\r\n\r\n{\"result\":null}")
	})
	answer, err := UnixSocket{}.Send(socket, []byte(`{"command":"DEL"}`), "0.4.0", 5*time.Second)
	if err != nil || answer.Status != 200 || string(answer.Body) != `{"result":null}` || answer.AgentVersion != "0.7.0" {
		t.Fatalf("%+v %v", answer, err)
	}
	request := <-got
	for _, want := range []string{"POST /cni HTTP/1.1\r\n", "Content-Length: 17\r\n", "Cni-Version: 0.4.0\r\n", "Multinet-Shim-Version: " + version + "\r\n", "Multinet-Protocol: " + protocol + "\r\n", "Connection: close\r\n", "\r\n\r\n{\"command\":\"DEL\"}"} {
		if !strings.Contains(request, want) {
			t.Errorf("request lacks %q: %q", want, request)
		}
	}
}

func TestReadAnswerFramings(t *testing.T) {
	for raw, body := range map[string]string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing":                                        "{}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n": `{"a":1}`,
		"HTTP/1.0 404 Not Found\r\n\r\nno route":                                                        "no route",
	} {
		answer, err := ReadAnswer(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || string(answer.Body) != body {
			t.Fatalf("%q: %+v %v", raw, answer, err)
		}
	}
	for _, raw := range []string{"", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", "SSH-2.0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"} {
		if _, err := ReadAnswer(bufio.NewReader(strings.NewReader(raw))); err == nil {
			t.Fatalf("%q was accepted", raw)
		}
	}
}

func TestNoSocketAndNoListenerAreUnreachable(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	listener, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	listener.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = listener.Close()
	for _, socket := range []string{filepath.Join(dir, "none.sock"), stale} {
		_, err := UnixSocket{}.Send(socket, []byte(`{}`), "", time.Second)
		var unreachable *UnreachableError
		if !errors.As(err, &unreachable) {
			t.Fatalf("%s: %v", socket, err)
		}
	}
}

func TestAnAgentThatClosesWithoutAnsweringIsNotUnreachable(t *testing.T) {
	socket := agent(t, func(net.Conn, string) {})
	_, err := UnixSocket{}.Send(socket, []byte(`{}`), "", 5*time.Second)
	var unreachable *UnreachableError
	if err == nil || errors.As(err, &unreachable) || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("%v", err)
	}
}

func TestATimeoutOfZeroIsNone(t *testing.T) {
	socket := agent(t, func(conn net.Conn, _ string) {
		time.Sleep(50 * time.Millisecond)
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"result\":null}")
	})
	answer, err := UnixSocket{}.Send(socket, []byte(`{}`), "", 0)
	if err != nil || string(answer.Body) != `{"result":null}` {
		t.Fatalf("%+v %v", answer, err)
	}
}

func TestAnAnswerThatTakesTooLongIsATimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	socket := agent(t, func(net.Conn, string) { <-release })
	_, err := UnixSocket{}.Send(socket, []byte(`{}`), "", 200*time.Millisecond)
	var timeout *TimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("%v", err)
	}
}
