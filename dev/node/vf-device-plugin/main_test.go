package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

func newPlugin(t *testing.T) *plugin {
	return &plugin{
		resource:      "multinet.dev/vf",
		devices:       []string{"mn1v0", "mn1v1", "mn1v2"},
		deviceInfoDir: t.TempDir(),
		written:       map[string]bool{},
	}
}

func TestAllocateWritesTheDeviceInfoOfEachDevice(t *testing.T) {
	p := newPlugin(t)
	resp, err := p.Allocate(context.Background(), &pluginapi.AllocateRequest{
		ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{"mn1v2", "mn1v0"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ContainerResponses) != 1 || resp.ContainerResponses[0].Envs["MULTINET_VF_DEVICES"] != "mn1v2,mn1v0" {
		t.Fatalf("unexpected response %+v", resp)
	}
	for id, address := range map[string]string{"mn1v0": "0000:fe:00.0", "mn1v2": "0000:fe:00.2"} {
		path := filepath.Join(p.deviceInfoDir, "dp", "multinet.dev-vf-"+id+"-device.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Type    string            `json:"type"`
			Version string            `json:"version"`
			PCI     map[string]string `json:"pci"`
		}
		if err := json.Unmarshal(data, &info); err != nil {
			t.Fatal(err)
		}
		if info.Type != "pci" || info.Version != "1.1.0" || info.PCI["pci-address"] != address {
			t.Errorf("%s: %s", id, data)
		}
	}
	p.removeDeviceInfo()
	if entries, _ := os.ReadDir(filepath.Join(p.deviceInfoDir, "dp")); len(entries) != 0 {
		t.Errorf("left %d device-info files", len(entries))
	}
}

// fakeKubelet is the kubelet's registration service.
type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	mu       sync.Mutex
	requests []*pluginapi.RegisterRequest
}

func (k *fakeKubelet) Register(_ context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests = append(k.requests, r)
	return &pluginapi.Empty{}, nil
}

func (k *fakeKubelet) registered() []*pluginapi.RegisterRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*pluginapi.RegisterRequest(nil), k.requests...)
}

func startKubelet(t *testing.T, dir string) (*fakeKubelet, func()) {
	socket := filepath.Join(dir, "kubelet.sock")
	_ = os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	kubelet := &fakeKubelet{}
	server := grpc.NewServer()
	pluginapi.RegisterRegistrationServer(server, kubelet)
	go func() { _ = server.Serve(listener) }()
	return kubelet, server.Stop
}

func eventually(t *testing.T, what string, ok func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRegistersServesTheDevicesAndRegistersAgainAfterAKubeletRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "vfdp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	kubelet, stopKubelet := startKubelet(t, dir)
	p := newPlugin(t)
	done := make(chan os.Signal, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			stopped, _ := p.serve(dir, "multinet-vf-node-a.sock", done)
			if stopped {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	eventually(t, "the registration", func() bool { return len(kubelet.registered()) == 1 })
	r := kubelet.registered()[0]
	if r.Version != pluginapi.Version || r.Endpoint != "multinet-vf-node-a.sock" || r.ResourceName != "multinet.dev/vf" {
		t.Fatalf("registered %+v", r)
	}
	// The kubelet dials the endpoint and lists the devices.
	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, r.Endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := pluginapi.NewDevicePluginClient(conn).ListAndWatch(context.Background(), &pluginapi.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range list.Devices {
		if d.Health != pluginapi.Healthy {
			t.Errorf("%s is %s", d.ID, d.Health)
		}
		ids = append(ids, d.ID)
	}
	if len(ids) != 3 || ids[0] != "mn1v0" || ids[2] != "mn1v2" {
		t.Fatalf("listed %v", ids)
	}
	// A kubelet restart wipes the plugin dir and makes a new kubelet.sock: the plugin registers again.
	stopKubelet()
	_ = os.Remove(filepath.Join(dir, r.Endpoint))
	kubelet2, stopKubelet2 := startKubelet(t, dir)
	defer stopKubelet2()
	eventually(t, "the second registration", func() bool { return len(kubelet2.registered()) >= 1 })
	done <- syscall.SIGTERM
	<-served
	if _, err := os.Stat(filepath.Join(dir, r.Endpoint)); !os.IsNotExist(err) {
		t.Errorf("the plugin's socket is still there after it stopped: %v", err)
	}
}
