// Command api-gateway relays TCP connections between network namespaces, byte for byte (TLS stays end
// to end). The local node's pods reach the API server on the host's loopback through it: it listens
// inside a network namespace the node made (attached to the pod bridge, with an address of the pod
// subnet that IPAM never hands out), standing in for what kube-proxy and the kubernetes Service's
// endpoints give pods on a real cluster. The multi-node cluster uses it the other way too: the host's
// tools reach the API server in the underlay's namespace through a listener on the host's 127.0.0.1, and
// the nodes reach the image registry on the host's loopback through a listener on the underlay.
// Standard library only, CGO_ENABLED=0.
//
//	api-gateway -netns /run/netns/NAME -listen 198.51.100.126:6443 -target 127.0.0.1:PORT
//	api-gateway -listen 127.0.0.1:PORT -target-netns /run/netns/LAB -target 127.0.0.1:6443
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

// inNetns runs fn on a locked OS thread inside the network namespace at nsPath (the current one when
// nsPath is empty): a socket belongs to the namespace of the thread that creates it, so the thread
// enters it, creates the socket and comes back.
func inNetns[T any](nsPath string, fn func() (T, error)) (T, error) {
	var zero T
	if nsPath == "" {
		return fn()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return zero, err
	}
	defer self.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return zero, err
	}
	defer target.Close()
	if err := setns(target); err != nil {
		return zero, fmt.Errorf("entering %s: %w", nsPath, err)
	}
	value, fnErr := fn()
	if err := setns(self); err != nil {
		// This thread is stuck in the other namespace: never let the runtime reuse it.
		runtime.Goexit()
	}
	return value, fnErr
}

func setns(f *os.File) error {
	_, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func relay(client net.Conn, targetNetns, target string) {
	defer client.Close()
	upstream, err := inNetns(targetNetns, func() (net.Conn, error) {
		return net.DialTimeout("tcp", target, 5*time.Second)
	})
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
	nsPath := flag.String("netns", "", "the network namespace to listen in (a /run/netns path; default: this one)")
	address := flag.String("listen", "", "the address:port to listen on")
	targetNetns := flag.String("target-netns", "", "the network namespace to connect in (default: this one)")
	target := flag.String("target", "", "the address:port to relay to")
	flag.Parse()
	if *address == "" || *target == "" {
		fmt.Fprintln(os.Stderr, "usage: api-gateway [-netns PATH] -listen ADDR:PORT [-target-netns PATH] -target ADDR:PORT")
		os.Exit(2)
	}
	listener, err := inNetns(*nsPath, func() (net.Listener, error) { return net.Listen("tcp", *address) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "api-gateway: listening on %s in %q: %v\n", *address, *nsPath, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "api-gateway: %s (netns %q) -> %s (netns %q)\n", *address, *nsPath, *target, *targetNetns)
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
		go relay(conn, *targetNetns, *target)
	}
}
