package cli

import (
	"flag"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
)

// maxVerbosity is the highest log level rotor passes to client-go. At 7 client-go logs
// request headers and at 8 and above request and response bodies, which for Secrets
// are their values; rotor never goes there, whatever -v asks.
const maxVerbosity = 6

// logFlags is -v: client-go's request logging, capped at maxVerbosity.
type logFlags struct {
	verbosity int
}

func (l *logFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().IntVarP(&l.verbosity, "v", "v", 0, "Log level for the Kubernetes client: 1-6 log requests and their timing, never bodies (higher values are treated as 6)")
}

// apply configures klog for this run, logging to w (a run without -v resets what an
// earlier one in the same process set).
func (l *logFlags) apply(w io.Writer) error {
	v := max(0, min(l.verbosity, maxVerbosity))
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"v": strconv.Itoa(v), "logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		if err := fs.Set(name, value); err != nil {
			return err
		}
	}
	klog.SetOutput(w)
	return nil
}
