// kubelet-stub serves the kubelet's pod-resources API (k8s.io/kubelet podresources v1, gRPC) on a unix
// socket, answering from a JSON state file it reads again on every call, so a test can change what the
// "kubelet" allocated, make it slow, or make it fail. Test-only: multinet's pod-resources client is
// tested against it, and bench:cni uses it as the node's kubelet.
//
//	kubelet-stub -socket /tmp/x/kubelet.sock -state /tmp/x/state.json
//
// State file: {"pods": [{"namespace": "ns", "name": "pod", "containers": [{"name": "c",
// "devices": [{"resourceName": "r", "deviceIds": ["a", "b"]}]}]}], "delayMs": 0,
// "error": {"code": 14, "message": "..."}, "padPods": 0}
// padPods adds that many pods of other namespaces (each with a device), to make large answers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

type device struct {
	ResourceName string   `json:"resourceName"`
	DeviceIDs    []string `json:"deviceIds"`
}

type container struct {
	Name    string   `json:"name"`
	Devices []device `json:"devices"`
}

type pod struct {
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	Containers []container `json:"containers"`
}

type state struct {
	Pods    []pod `json:"pods"`
	DelayMs int   `json:"delayMs"`
	PadPods int   `json:"padPods"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type server struct {
	podresources.UnimplementedPodResourcesListerServer
	statePath string
	mu        sync.Mutex
	// The state file as last read, and its answer (read again only when the file changes, as a
	// kubelet answers from memory).
	stamp  string
	cached *state
	answer *podresources.ListPodResourcesResponse
}

func (s *server) load(ctx context.Context) (*state, *podresources.ListPodResourcesResponse, error) {
	s.mu.Lock()
	st, answer, err := s.current()
	s.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if st.DelayMs > 0 {
		select {
		case <-time.After(time.Duration(st.DelayMs) * time.Millisecond):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if st.Error != nil {
		return nil, nil, status.Error(codes.Code(st.Error.Code), st.Error.Message)
	}
	return st, answer, nil
}

// current reads the state file when it changed since the last call: another inode (a test replaces the
// file by a rename), size or modification time.
func (s *server) current() (*state, *podresources.ListPodResourcesResponse, error) {
	info, err := os.Stat(s.statePath)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "stub state: %v", err)
	}
	var inode uint64
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		inode = st.Ino
	}
	stamp := fmt.Sprintf("%d/%d/%d", inode, info.Size(), info.ModTime().UnixNano())
	if s.cached != nil && stamp == s.stamp {
		return s.cached, s.answer, nil
	}
	text, err := os.ReadFile(s.statePath)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "stub state: %v", err)
	}
	var st state
	if err := json.Unmarshal(text, &st); err != nil {
		return nil, nil, status.Errorf(codes.Internal, "stub state: %v", err)
	}
	s.stamp, s.cached, s.answer = stamp, &st, answerOf(&st)
	return s.cached, s.answer, nil
}

func (s *server) List(ctx context.Context, _ *podresources.ListPodResourcesRequest) (*podresources.ListPodResourcesResponse, error) {
	_, answer, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// answerOf is the ListPodResourcesResponse of a state.
func answerOf(st *state) *podresources.ListPodResourcesResponse {
	out := &podresources.ListPodResourcesResponse{}
	for i := 0; i < st.PadPods; i++ {
		out.PodResources = append(out.PodResources, &podresources.PodResources{
			Name:      fmt.Sprintf("pad-%d", i),
			Namespace: "padding",
			Containers: []*podresources.ContainerResources{{
				Name:    "main",
				Devices: []*podresources.ContainerDevices{{ResourceName: "example.com/pad", DeviceIds: []string{fmt.Sprintf("pad-%d", i)}, Topology: &podresources.TopologyInfo{Nodes: []*podresources.NUMANode{{ID: 0}}}}},
				CpuIds:  []int64{int64(i % 4)},
			}},
		})
	}
	for _, p := range st.Pods {
		pr := &podresources.PodResources{Name: p.Name, Namespace: p.Namespace}
		for _, c := range p.Containers {
			cr := &podresources.ContainerResources{Name: c.Name, CpuIds: []int64{1, 3}}
			for _, d := range c.Devices {
				cr.Devices = append(cr.Devices, &podresources.ContainerDevices{
					ResourceName: d.ResourceName,
					DeviceIds:    d.DeviceIDs,
					Topology:     &podresources.TopologyInfo{Nodes: []*podresources.NUMANode{{ID: 1}}},
				})
			}
			pr.Containers = append(pr.Containers, cr)
		}
		out.PodResources = append(out.PodResources, pr)
	}
	return out
}

func main() {
	socket := flag.String("socket", "", "unix socket to serve on")
	statePath := flag.String("state", "", "JSON state file, read on every call")
	draClient := flag.Bool("dra-client", false, "call a DRA driver's plugin at -socket instead (see dra_client.go)")
	flag.Parse()
	if *draClient {
		os.Exit(runDRAClient(*socket))
	}
	if *socket == "" || *statePath == "" {
		fmt.Fprintln(os.Stderr, "usage: kubelet-stub -socket PATH -state FILE")
		os.Exit(2)
	}
	_ = os.Remove(*socket)
	listener, err := net.Listen("unix", *socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-stub: %v\n", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	podresources.RegisterPodResourcesListerServer(srv, &server{statePath: *statePath})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		srv.Stop()
	}()
	fmt.Println("ready")
	if err := srv.Serve(listener); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-stub: %v\n", err)
		os.Exit(1)
	}
}
