// Command api-gateway gives the local node's pods a way to the API server, which listens on the host's
// 127.0.0.1 only: it listens inside a network namespace the node made (attached to the pod bridge, with
// an address of the pod subnet that IPAM never hands out) and relays each connection, byte for byte, to
// the API server on the host's loopback. TLS stays end to end. It stands in for what kube-proxy and the
// kubernetes Service's endpoints give pods on a real cluster. Standard library only, CGO_ENABLED=0.
//
//	api-gateway -netns /run/netns/NAME -listen 198.51.100.126:6443 -target 127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// listenIn creates the listening socket inside the network namespace at nsPath: a socket belongs to the
// namespace of the thread that creates it, so one locked OS thread enters it and comes back.
func listenIn(nsPath, address string) (net.Listener, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := setns(target); err != nil {
		return nil, fmt.Errorf("entering %s: %w", nsPath, err)
	}
	listener, listenErr := net.Listen("tcp", address)
	if err := setns(self); err != nil {
		// This thread is stuck in the other namespace: never let the runtime reuse it.
		runtime.Goexit()
	}
	return listener, listenErr
}

func setns(f *os.File) error {
	_, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func relay(client net.Conn, target string) {
	defer client.Close()
	upstream, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "api-gateway: %s: %v\n", target, err)
		return
	}
	defer upstream.Close()
	var done sync.WaitGroup
	done.Add(2)
	pipe := func(to, from net.Conn) {
		defer done.Done()
		_, _ = io.Copy(to, from)
		if tcp, ok := to.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	done.Wait()
}

func main() {
	nsPath := flag.String("netns", "", "the network namespace to listen in (a /run/netns path)")
	address := flag.String("listen", "", "the address:port to listen on inside it")
	target := flag.String("target", "", "the API server's address:port on the host")
	flag.Parse()
	if *nsPath == "" || *address == "" || *target == "" {
		fmt.Fprintln(os.Stderr, "usage: api-gateway -netns PATH -listen ADDR:PORT -target ADDR:PORT")
		os.Exit(2)
	}
	listener, err := listenIn(*nsPath, *address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "api-gateway: listening on %s in %s: %v\n", *address, *nsPath, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "api-gateway: %s (in %s) -> %s\n", *address, *nsPath, *target)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		_ = listener.Close()
	}()
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		go relay(conn, *target)
	}
}
