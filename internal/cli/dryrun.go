package cli

import (
	"github.com/spf13/cobra"
)

// dryRunStrategy mirrors kubectl's --dry-run: none, client (nothing sent) or server
// (sent with dryRun=All: validated and admitted, not stored).
type dryRunStrategy int

const (
	dryRunNone dryRunStrategy = iota
	dryRunClient
	dryRunServer
)

func (s dryRunStrategy) String() string {
	switch s {
	case dryRunClient:
		return "client"
	case dryRunServer:
		return "server"
	default:
		return "none"
	}
}

// dryRunFlag is the --dry-run flag of a command that changes the cluster.
type dryRunFlag struct {
	value    string
	strategy dryRunStrategy
}

func (d *dryRunFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.value, "dry-run", "none", `Must be "none", "server", or "client". client: only print what would be sent. server: the API server validates and admits the request without storing it. A bare --dry-run means client.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

func (d *dryRunFlag) validate() error {
	switch d.value {
	case "", "none":
		d.strategy = dryRunNone
	case "client":
		d.strategy = dryRunClient
	case "server":
		d.strategy = dryRunServer
	default:
		return usageErrorf(`invalid --dry-run value %q: must be "none", "server", or "client"`, d.value)
	}
	return nil
}
