package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrIsFreeAndBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		addr := Addr(t)
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		if p < minPort || p > highestPort() {
			t.Fatalf("port %d outside %s", p, String())
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s was not free: %v", addr, err)
		}
		_ = l.Close()
	}
}
