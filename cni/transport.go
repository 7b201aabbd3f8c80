package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The HTTP path the agent serves CNI requests on (lib/cni/request.ts: cniEndpoint).
const endpoint = "/cni"

// The request header with the shim's CNI version (lib/cni/request.ts: cniVersionHeader).
const versionHeader = "Cni-Version"

// Headers in which the shim and the agent name their multinet versions and the shim its wire protocol
// (lib/cni/request.ts: shimVersionHeader, agentVersionHeader, protocolHeader), so that a shim and an
// agent of different releases on one node answer correctly or fail naming both versions.
const (
	shimVersionHeader  = "Multinet-Shim-Version"
	agentVersionHeader = "Multinet-Agent-Version"
	protocolHeader     = "Multinet-Protocol"
)

// Answers larger than this are not CNI replies.
const maxAnswerBytes = 16 << 20

// Answer is the agent's HTTP answer, with the version the agent names ("" when it names none).
type Answer struct {
	Status       int
	Body         []byte
	AgentVersion string
}

// Transport sends one request to the agent, with the CNI version the shim read from the runtime's
// configuration (the agent answers a request it refuses before reading its body in that version).
type Transport interface {
	Send(socketPath string, body []byte, cniVersion string, timeout time.Duration) (Answer, error)
}

// UnreachableError: nobody listens at the socket (no socket file, connection refused, backlog full).
// Only this is worth waiting for; an agent that took the connection and then failed has answered.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return e.Err.Error() }

// Busy tells an agent that listens but whose accept backlog is full (it is running, overloaded) from
// one that is away (no socket file, nobody listening).
func (e *UnreachableError) Busy() bool { return errors.Is(e.Err, syscall.EAGAIN) }

// TimeoutError: the agent took the request but did not answer in time.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string {
	return "no answer within " + strconv.FormatInt(int64(e.After/time.Second), 10) + " s"
}

// UnixSocket is HTTP/1.1 over the agent's unix socket, one request per connection. Hand-written
// rather than net/http, whose package initialization alone costs the shim about half a millisecond.
type UnixSocket struct{}

func isUnreachable(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN)
}

func (UnixSocket) Send(socketPath string, body []byte, cniVersion string, timeout time.Duration) (Answer, error) {
	// A timeout of 0 is none (as requestTimeoutSeconds: 0 in the network configuration says).
	conn, err := net.DialTimeout("unix", socketPath, timeout)
	if err != nil {
		if isUnreachable(err) {
			return Answer{}, &UnreachableError{err}
		}
		return Answer{}, err
	}
	defer conn.Close()
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	request := make([]byte, 0, len(body)+200)
	request = append(request, "POST "+endpoint+" HTTP/1.1\r\nHost: multinet-agent\r\nContent-Type: application/json\r\nContent-Length: "...)
	request = strconv.AppendInt(request, int64(len(body)), 10)
	if cniVersion != "" {
		request = append(request, "\r\n"+versionHeader+": "+cniVersion...)
	}
	request = append(request, "\r\n"+shimVersionHeader+": "+version+"\r\n"+protocolHeader+": "+protocol...)
	request = append(request, "\r\nConnection: close\r\n\r\n"...)
	request = append(request, body...)
	_, writeErr := conn.Write(request)
	// Even when the write failed (an agent may refuse a request early and close), its answer counts.
	answer, readErr := ReadAnswer(bufio.NewReader(conn))
	if readErr == nil {
		return answer, nil
	}
	var netErr net.Error
	if errors.As(readErr, &netErr) && netErr.Timeout() {
		return Answer{}, &TimeoutError{timeout}
	}
	if writeErr != nil {
		return Answer{}, errors.New("the agent closed the connection while the request was sent: " + writeErr.Error())
	}
	if errors.Is(readErr, io.EOF) || errors.Is(readErr, io.ErrUnexpectedEOF) {
		return Answer{}, errors.New("the agent closed the connection without answering")
	}
	return Answer{}, readErr
}

// ReadAnswer reads one HTTP/1.x response: status line, headers, and a body framed by Content-Length,
// chunked transfer coding, or the end of the connection.
func ReadAnswer(r *bufio.Reader) (Answer, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if line != "" && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Answer{}, err
	}
	fields := strings.Fields(line)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/1.") {
		return Answer{}, errors.New("the agent's answer is not HTTP: " + strconv.Quote(strings.TrimSpace(line)))
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		return Answer{}, errors.New("bad HTTP status line " + strconv.Quote(strings.TrimSpace(line)))
	}
	length, chunked, agentVersion := -1, false, ""
	for {
		header, err := r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Answer{}, err
		}
		header = strings.TrimRight(header, "\r\n")
		if header == "" {
			break
		}
		name, value, _ := strings.Cut(header, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			length, err = strconv.Atoi(value)
			if err != nil || length < 0 || length > maxAnswerBytes {
				return Answer{}, errors.New("bad Content-Length " + strconv.Quote(value))
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case strings.ToLower(agentVersionHeader):
			agentVersion = value
		}
	}
	var body []byte
	switch {
	case chunked:
		body, err = readChunked(r)
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(r, body)
	default:
		body, err = io.ReadAll(io.LimitReader(r, maxAnswerBytes))
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Answer{}, err
	}
	return Answer{status, body, agentVersion}, nil
}

func readChunked(r *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sizeText, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		size, err := strconv.ParseInt(sizeText, 16, 64)
		if err != nil || size < 0 || int64(len(body))+size > maxAnswerBytes {
			return nil, errors.New("bad chunk size " + strconv.Quote(sizeText))
		}
		if size == 0 {
			// Trailers, up to the blank line.
			for {
				trailer, err := r.ReadString('\n')
				if err != nil || strings.TrimRight(trailer, "\r\n") == "" {
					return body, nil
				}
			}
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if _, err := r.Discard(2); err != nil {
			return nil, err
		}
	}
}
