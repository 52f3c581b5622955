package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/managedby"
	"github.com/rotor-project/rotor/internal/refs"
)

// RefsOptions are the inputs of `rotor refs`.
type RefsOptions struct {
	Names         []string
	Family        string
	Paths         []string
	AllNamespaces bool
	Output        string

	namespace string
	streams   IOStreams
	f         *factory
}

// NewCmdRefs builds `rotor refs NAME...`.
func NewCmdRefs(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RefsOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "refs NAME... [-n NAMESPACE | -A] [--family FAMILY] [--path DIR] [-o table|wide|json|yaml]",
		Short: "Find every reference to Secrets: in workloads, pods, revision history and manifests",
		Long: `Find every object that names the given Secrets, in every place a Secret can be named:
containers' env and envFrom (also of init and ephemeral containers), secret, projected and
CSI volumes and every other volume source that takes a Secret, imagePullSecrets of every
pod-spec kind (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
ReplicationController, PodTemplate, ControllerRevision), ServiceAccounts, Ingress TLS,
PersistentVolume CSI secret references, StorageClass CSI secret parameters, well-known
annotations naming a Secret (ingress basic-auth and client-certificate Secrets, Vault's
TLS Secret), Helm's stored release history, and, when their CRDs are installed, Argo
Rollouts (Rollouts, analysis templates and runs), External Secrets and Gateway API
Gateways. Names match exactly; a name in any other annotation, an env value or a
ConfigMap is not a reference.

Each reference has a ROLE: live (a running pod, the current template of a workload),
rollback-target (a ReplicaSet or ControllerRevision that "rollout undo" would restore) or
finished (a completed Job or Pod). --family adds every version of FAMILY (and the Secret
named FAMILY). --path also reads a directory of manifests (YAML and JSON, recursively) and
reports file and line.

A NAME that does not exist is still searched: dangling references are reported, and the
output says the Secret does not exist. A kind you may not list is reported as "not checked"
and the exit status is 1. -o json and -o yaml print a ReferenceList document
(rotor.dev/v1alpha1), stable for scripts.`,
		Example: examples(name, `
{{.}} refs auth-api-secrets-20250715100000 -n payments
{{.}} refs --family auth-api-secrets -A -o wide
{{.}} refs auth-api-secrets-20250715100000 -A --path ./deploy -o json`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Search every namespace")
	cmd.Flags().StringVar(&o.Family, "family", "", "Also search for every version of this Secret family")
	cmd.Flags().StringArrayVar(&o.Paths, "path", nil, "Also search manifests in this file or directory (recursive; repeatable)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "Output format: table, wide, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "wide", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("family", completeFamilies(f))
	return cmd
}

// Complete takes the names and resolves the namespace.
func (o *RefsOptions) Complete(args []string) error {
	o.Names = args
	if o.AllNamespaces {
		return nil
	}
	var err error
	o.namespace, err = o.f.Namespace()
	return err
}

// Validate checks the flags and names.
func (o *RefsOptions) Validate() error {
	switch o.Output {
	case "table", "wide", "json", "yaml":
	default:
		return usageErrorf("unknown output format %q: use table, wide, json or yaml", o.Output)
	}
	if len(o.Names) == 0 && o.Family == "" {
		return usageErrorf("give at least one Secret NAME or --family FAMILY, e.g. refs auth-api-secrets-20250715100000")
	}
	for _, p := range o.Paths {
		if p == "" {
			return usageErrorf("--path is empty: give a file or directory of manifests")
		}
	}
	return o.query().Validate()
}

func (o *RefsOptions) query() refs.Query {
	return refs.Query{Namespace: o.namespace, Names: o.Names, Family: o.Family, Paths: o.Paths}
}

// Run searches and prints. It fails (after printing) when part of the search could
// not be done.
func (o *RefsOptions) Run(ctx context.Context) error {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(refsMemoryLimit()))
	finder, err := o.f.Finder()
	if err != nil {
		return err
	}
	res, err := finder.Find(ctx, o.query())
	if err != nil {
		return err
	}
	switch o.Output {
	case "json":
		if err := printReferenceListJSON(o.streams.Out, o.query(), res); err != nil {
			return err
		}
	case "yaml":
		if err := printDocument(o.streams.Out, o.Output, newReferenceList(o.query(), res, true)); err != nil {
			return err
		}
	default:
		if len(res.References) == 0 {
			fmt.Fprintf(o.streams.ErrOut, "No references found in %s.\n", o.where())
		} else if err := printRefsTable(o.streams.Out, res, o.Output == "wide", o.AllNamespaces, len(o.Paths) > 0); err != nil {
			return err
		}
		for _, n := range res.Missing {
			fmt.Fprintf(o.streams.Out, "Secret %s does not exist in %s; references to it are dangling.\n", n, o.where())
		}
		for _, nc := range res.NotChecked {
			fmt.Fprintf(o.streams.Out, "not checked: %s: %s\n", notCheckedWhat(nc), nc.Reason)
		}
	}
	if len(res.NotChecked) > 0 {
		return fmt.Errorf("the search is incomplete: %d part(s) not checked (listed in the output); the references shown may not be all", len(res.NotChecked))
	}
	return nil
}

// refsHeapLimit is the soft limit of the Go heap during `rotor refs`. A scan of every
// namespace keeps each matching reference (tens of thousands in a large cluster) while
// pages of objects come and go; with the default GC headroom (GOGC=100) the heap would
// reach twice what is live. The limit makes the collector run sooner as the heap nears
// it, so peak memory follows what is live. It is soft: a larger live heap is never
// refused, only collected more often.
const refsHeapLimit = 64 << 20

// refsMemoryLimit is refsHeapLimit, unless GOMEMLIMIT (or the caller) already set one.
func refsMemoryLimit() int64 {
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		return cur
	}
	return refsHeapLimit
}

func (o *RefsOptions) where() string {
	if o.AllNamespaces {
		return "any namespace"
	}
	return fmt.Sprintf("namespace %q", o.namespace)
}

func notCheckedWhat(nc refs.NotChecked) string {
	if nc.File != "" {
		return nc.File
	}
	if nc.Namespace == "" {
		return nc.Kind + " in every namespace"
	}
	return fmt.Sprintf("%s in namespace %s", nc.Kind, nc.Namespace)
}

// printRefsTable prints the references in aligned columns, byte for byte what
// text/tabwriter (padding 3, spaces) would print, without holding the table in memory:
// tens of thousands of rows would cost more than the references themselves. A first
// pass measures each column, a second writes the rows through a small buffer.
func printRefsTable(w io.Writer, res *refs.Result, wide, withNamespace, withFile bool) error {
	cols := refsColumns(wide, withNamespace, withFile)
	widths := make([]int, len(cols)-1) // the last column is not padded
	measureRow(widths, cols)
	row := make([]string, 0, len(cols))
	for i := range res.References {
		row = refsRow(row[:0], &res.References[i], wide, withNamespace, withFile)
		measureRow(widths, row)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	writeRow(bw, widths, cols)
	for i := range res.References {
		row = refsRow(row[:0], &res.References[i], wide, withNamespace, withFile)
		writeRow(bw, widths, row)
	}
	return bw.Flush()
}

// columnPadding is the space between two columns.
const columnPadding = 3

func refsColumns(wide, withNamespace, withFile bool) []string {
	cols := []string{"ROLE"}
	if withNamespace {
		cols = append(cols, "NAMESPACE")
	}
	cols = append(cols, "KIND", "NAME", "OWNER", "SECRET", "PATH")
	if withFile {
		cols = append(cols, "FILE")
	}
	if wide {
		cols = append(cols, "OPTIONAL", "KEYS", "REVISION", "OWNERS", "MANAGED-BY")
	}
	return cols
}

// refsRow appends the cells of one reference to row, in refsColumns' order.
func refsRow(row []string, r *refs.Reference, wide, withNamespace, withFile bool) []string {
	secret := r.Secret
	if r.Dangling {
		secret += " (does not exist)"
	}
	row = append(row, string(r.Role))
	if withNamespace {
		row = append(row, orDash(r.Object.Namespace))
	}
	row = append(row, r.Object.Kind, orDash(r.Object.Name), topOwner(r.Owners), secret, r.Path)
	if withFile {
		file := "-"
		if r.File != "" {
			file = r.File + ":" + strconv.Itoa(r.Line)
		}
		row = append(row, file)
	}
	if wide {
		chain := make([]string, 0, len(r.Owners))
		for _, o := range r.Owners {
			chain = append(chain, o.Kind+"/"+o.Name)
		}
		managed := "-"
		if r.ManagedBy != nil {
			managed = r.ManagedBy.String()
		}
		row = append(row, strconv.FormatBool(r.Optional), orDash(strings.Join(r.Keys, ",")), orDash(r.Revision), orDash(strings.Join(chain, ",")), managed)
	}
	return row
}

// measureRow widens widths to fit the row's cells, in runes as tabwriter counts.
func measureRow(widths []int, row []string) {
	for i := range widths {
		widths[i] = max(widths[i], utf8.RuneCountInString(row[i])+columnPadding)
	}
}

// writeRow writes the row's cells, each but the last padded with spaces to its width.
func writeRow(w *bufio.Writer, widths []int, row []string) {
	for i, cell := range row {
		_, _ = w.WriteString(cell)
		if i < len(widths) {
			for n := widths[i] - utf8.RuneCountInString(cell); n > 0; n-- {
				_ = w.WriteByte(' ')
			}
		}
	}
	_ = w.WriteByte('\n')
}

// topOwner is the outermost owner (the Deployment of a Pod's ReplicaSet), or "-".
func topOwner(owners []refs.ObjectRef) string {
	if len(owners) == 0 {
		return "-"
	}
	o := owners[len(owners)-1]
	return o.Kind + "/" + o.Name
}

// ReferenceList is the -o json|yaml document of `rotor refs`. Its fields are a stable
// interface for scripts; see docs/output.md.
type ReferenceList struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Query      ReferenceQuery   `json:"query"`
	Missing    []string         `json:"missing"`
	NotChecked []NotCheckedItem `json:"notChecked"`
	Items      []ReferenceItem  `json:"items"`
}

// ReferenceQuery echoes what was searched.
type ReferenceQuery struct {
	Names     []string `json:"names"`
	Family    string   `json:"family"`
	Namespace string   `json:"namespace"`
	Paths     []string `json:"paths"`
}

// NotCheckedItem is a part of the search that could not be done.
type NotCheckedItem struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	File      string `json:"file"`
	Reason    string `json:"reason"`
}

// ObjectItem names an object.
type ObjectItem struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

// ReferenceItem is one reference.
type ReferenceItem struct {
	Secret string `json:"secret"`
	// SecretNamespace is the namespace of the Secret named: the object's own, one the
	// reference names (PersistentVolume, Gateway), or "" for any namespace.
	SecretNamespace string       `json:"secretNamespace"`
	Role            string       `json:"role"`
	Object          ObjectItem   `json:"object"`
	Owners          []ObjectItem `json:"owners"`
	Path            string       `json:"path"`
	Pointer         string       `json:"pointer"`
	Style           string       `json:"style"`
	Optional        bool         `json:"optional"`
	Keys            []string     `json:"keys"`
	Container       string       `json:"container"`
	Revision        string       `json:"revision"`
	Dangling        bool         `json:"dangling"`
	File            string       `json:"file"`
	Line            int          `json:"line"`
	// ManagedBy is the tool that owns the object (Argo CD, Flux, Helm), if any.
	ManagedBy *managedby.Owner `json:"managedBy,omitempty"`
}

func objectItem(o refs.ObjectRef) ObjectItem {
	return ObjectItem{Kind: o.Kind, APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, UID: string(o.UID)}
}

// newReferenceList is the document of res; its Items only when withItems.
func newReferenceList(q refs.Query, res *refs.Result, withItems bool) ReferenceList {
	l := ReferenceList{
		APIVersion: "rotor.dev/v1alpha1", Kind: "ReferenceList",
		Query:   ReferenceQuery{Names: nonNil(q.Names), Family: q.Family, Namespace: q.Namespace, Paths: nonNil(q.Paths)},
		Missing: nonNil(res.Missing), NotChecked: []NotCheckedItem{}, Items: []ReferenceItem{},
	}
	for _, nc := range res.NotChecked {
		l.NotChecked = append(l.NotChecked, NotCheckedItem(nc))
	}
	if withItems {
		for i := range res.References {
			l.Items = append(l.Items, referenceItem(&res.References[i]))
		}
	}
	return l
}

func referenceItem(r *refs.Reference) ReferenceItem {
	item := ReferenceItem{
		Secret: r.Secret, SecretNamespace: r.SecretNamespace, ManagedBy: r.ManagedBy,
		Role: string(r.Role), Object: objectItem(r.Object), Owners: make([]ObjectItem, 0, len(r.Owners)),
		Path: r.Path, Pointer: r.Pointer, Style: string(r.Style), Optional: r.Optional, Keys: nonNil(r.Keys), Container: r.Container,
		Revision: r.Revision, Dangling: r.Dangling, File: r.File, Line: r.Line,
	}
	for _, o := range r.Owners {
		item.Owners = append(item.Owners, objectItem(o))
	}
	return item
}

// printReferenceListJSON prints the document exactly as printDocument would, but one
// item at a time: the whole document of tens of thousands of references, and its
// encoding, would cost several times the references themselves. items is the last
// field, so the document without items ends with `"items": []` + "\n}".
func printReferenceListJSON(w io.Writer, q refs.Query, res *refs.Result) error {
	head, err := json.MarshalIndent(newReferenceList(q, res, false), "", "  ")
	if err != nil {
		return err
	}
	if len(res.References) == 0 {
		_, err = w.Write(append(head, '\n'))
		return err
	}
	const emptyItems = "[]\n}"
	if !bytes.HasSuffix(head, []byte(emptyItems)) {
		return fmt.Errorf("internal error: the ReferenceList document does not end with its items")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.Write(head[:len(head)-len(emptyItems)])
	_, _ = bw.WriteString("[\n")
	for i := range res.References {
		b, err := json.MarshalIndent(referenceItem(&res.References[i]), "    ", "  ")
		if err != nil {
			return err
		}
		_, _ = bw.WriteString("    ")
		_, _ = bw.Write(b)
		if i < len(res.References)-1 {
			_ = bw.WriteByte(',')
		}
		_ = bw.WriteByte('\n')
	}
	_, _ = bw.WriteString("  ]\n}\n")
	return bw.Flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
