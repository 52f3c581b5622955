package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports. Every port a cluster listens on lies below Linux's ephemeral range
// (32768–60999 unless /proc/sys/net/ipv4/ip_local_port_range says otherwise), where the
// outgoing connections of any process on the machine take ports at any moment. Ports
// are chosen at random in [minPort, ephemeral start), each probed by binding it; a
// component that still finds its port taken when it starts (another program bound it
// in between) fails with "address already in use", and `up` then starts again on other
// ports.
const (
	minPort = 12000
	maxPort = 32767 // the last port below the default ephemeral range
	// maxStartAttempts bounds the restarts after a port conflict.
	maxStartAttempts = 6
)

// errPortInUse marks a start that failed because a port was taken.
var errPortInUse = errors.New("address already in use")

// portConflictText is what Go programs (every component) log when a bind fails.
const portConflictText = "address already in use"

// highestPort is the last port below the machine's ephemeral range.
func highestPort() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return maxPort
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return maxPort
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low-1 > maxPort || low-1 < minPort+1000 {
		return maxPort
	}
	return low - 1
}

// portNames are the control plane's ports, in the order a --port-base assigns them.
var portNames = []string{"etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// portSet maps a port's name to its number.
type portSet map[string]int

// pickPorts returns a free port for every name. wide ports are probed on every
// interface (for components that bind all of them), the others on 127.0.0.1.
func pickPorts(names []string, wide map[string]bool, taken map[int]bool) (portSet, error) {
	high := highestPort()
	out := portSet{}
	used := map[int]bool{}
	for k := range taken {
		used[k] = true
	}
	for _, name := range names {
		found := false
		for attempt := 0; attempt < 500 && !found; attempt++ {
			p := minPort + rand.IntN(high-minPort+1)
			if used[p] || probe(p, wide[name]) != nil {
				continue
			}
			used[p], out[name], found = true, p, true
		}
		if !found {
			return nil, fmt.Errorf("no free port found below %d for %s", high+1, name)
		}
	}
	return out, nil
}

// portsFromBase assigns consecutive ports from an explicit --port-base and checks that
// each is free, with no retry: the caller asked for exactly these.
func portsFromBase(base int) (portSet, error) {
	last := base + len(portNames) - 1
	if base < 1024 || last > maxPort {
		return nil, fmt.Errorf("--port-base %d: choose a base from 1024 to %d, so that its %d ports stay below %d, where the kernel's ephemeral ports never take one (or omit --port-base and let localcluster choose)",
			base, maxPort-len(portNames)+1, len(portNames), maxPort+1)
	}
	out := portSet{}
	for i, name := range portNames {
		p := base + i
		if err := probe(p, false); err != nil {
			return nil, fmt.Errorf("port %d is in use (ports %d-%d are needed): choose another --port-base, or omit it and let localcluster choose", p, base, last)
		}
		out[name] = p
	}
	return out, nil
}

// probe binds the port and releases it at once.
func probe(port int, wide bool) error {
	host := "127.0.0.1"
	if wide {
		host = ""
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// values lists the ports of a set.
func (s portSet) values() map[int]bool {
	out := map[int]bool{}
	for _, p := range s {
		out[p] = true
	}
	return out
}
