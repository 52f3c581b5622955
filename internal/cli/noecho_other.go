//go:build !linux

package cli

import "errors"

// echoOff is implemented for Linux terminals; elsewhere a value is piped in.
func echoOff(int) (func(), error) {
	return nil, errors.New("not supported on this system")
}
