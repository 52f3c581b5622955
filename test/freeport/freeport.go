// Package freeport picks loopback addresses for processes a test starts that must be
// told their port up front (a `rotor controller`'s metrics and probe addresses). The
// ports lie below Linux's ephemeral range, where no outgoing connection of any process
// can take them, chosen at random and probed by binding; a process that still finds
// its port taken (another test bound it in between) is started again on another, which
// is the caller's part (see Retry).
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

const (
	minPort = 12000
	maxPort = 32767 // the last port below the default ephemeral range
)

// InUse is the text Go programs log when a bind fails: a caller that sees it in a
// failed start picks new addresses and starts again.
const InUse = "address already in use"

// Addr is 127.0.0.1:PORT for a port below the ephemeral range that was free a moment
// ago.
func Addr(t testing.TB) string {
	t.Helper()
	high := highestPort()
	for range 500 {
		p := minPort + rand.IntN(high-minPort+1)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		_ = l.Close()
		return addr
	}
	t.Fatalf("no free loopback port found below %d", high+1)
	return ""
}

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

// String describes the range, for messages.
func String() string { return fmt.Sprintf("%d-%d", minPort, highestPort()) }
