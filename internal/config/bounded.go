package config

import (
	"fmt"
	"io"
)

// maxFileSize bounds rotor.yaml: a configuration is a few kilobytes; a huge file is a
// mistake (or an attack) to refuse before parsing.
const maxFileSize = 1 << 20

// readBounded reads at most limit bytes and refuses anything longer. It is the one place
// that bounds the read, so a shared bounded reader can replace it.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the file is larger than %d KiB: a rotor.yaml is a few kilobytes; check that --config names the right file", limit>>10)
	}
	return data, nil
}
