package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/buildinfo"
	"github.com/rotor-project/rotor/internal/externalsecret"
	"github.com/rotor-project/rotor/internal/family"
)

// externalFlags are create's flags for a version from an external store through the
// External Secrets Operator. --remote-key starts a group; the --remote-version,
// --secret-key and --property after it belong to that key.
type externalFlags struct {
	Enabled    bool
	Store      string
	StoreKind  string
	RemoteFile string
	Timeout    time.Duration

	groups []externalsecret.Ref
	// given records, per group, which fields a flag set (a second one is refused).
	given []map[string]bool
}

// remoteFlag is one of the grouped flags: each Set applies to the latest group.
type remoteFlag struct {
	e     *externalFlags
	name  string
	field string
	set   func(r *externalsecret.Ref, v string)
}

func (f *remoteFlag) String() string { return "" }
func (f *remoteFlag) Type() string   { return "string" }

func (f *remoteFlag) Set(v string) error {
	e := f.e
	if f.field == externalsecret.FieldKey {
		e.groups = append(e.groups, externalsecret.Ref{})
		e.given = append(e.given, map[string]bool{})
	}
	if len(e.groups) == 0 {
		return fmt.Errorf("%s must follow the --remote-key it belongs to", f.name)
	}
	i := len(e.groups) - 1
	if e.given[i][f.field] {
		return fmt.Errorf("given twice for --remote-key %q: each --remote-key takes one %s", e.groups[i].RemoteRef.Key, f.name)
	}
	e.given[i][f.field] = true
	f.set(&e.groups[i], v)
	return nil
}

func (e *externalFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&e.Enabled, "external", false, "Make the version from an external store through the External Secrets Operator: an ExternalSecret named like the version, every remote key pinned to a version")
	fl.StringVar(&e.Store, "store", "", "With --external: the SecretStore (or ClusterSecretStore) ESO reads from")
	fl.StringVar(&e.StoreKind, "store-kind", externalsecret.KindSecretStore, "With --external: SecretStore or ClusterSecretStore")
	fl.Var(&remoteFlag{e: e, name: "--remote-key", field: externalsecret.FieldKey, set: func(r *externalsecret.Ref, v string) { r.RemoteRef.Key = v }},
		"remote-key", "With --external: a key of the store; starts a group with the flags below (repeatable)")
	fl.Var(&remoteFlag{e: e, name: "--remote-version", field: externalsecret.FieldVersion, set: func(r *externalsecret.Ref, v string) { r.RemoteRef.Version = v }},
		"remote-version", "With --external: the store's version of the preceding --remote-key (required: a version's content must never change)")
	fl.Var(&remoteFlag{e: e, name: "--secret-key", field: externalsecret.FieldSecretKey, set: func(r *externalsecret.Ref, v string) { r.SecretKey = v }},
		"secret-key", "With --external: the Secret key of the preceding --remote-key (default: its --property, else the key's last path segment)")
	fl.Var(&remoteFlag{e: e, name: "--property", field: externalsecret.FieldProperty, set: func(r *externalsecret.Ref, v string) { r.RemoteRef.Property = v }},
		"property", "With --external: a property of the preceding --remote-key (a field of a JSON secret)")
	fl.StringVar(&e.RemoteFile, "from-remote-file", "", "With --external: a file listing the remote keys, as an ExternalSecret's spec.data: [{secretKey, remoteRef: {key, version, property}}]")
	fl.DurationVar(&e.Timeout, "timeout", 2*time.Minute, "With --external: how long to wait for ESO to sync the version (it is deleted if it does not)")
	_ = cmd.RegisterFlagCompletionFunc("store-kind", cobra.FixedCompletions([]string{externalsecret.KindSecretStore, externalsecret.KindClusterSecretStore}, cobra.ShellCompDirectiveNoFileComp))
}

// validate checks the flags of an external version (and that none is given without
// --external).
func (e *externalFlags) validate(cmd *cobra.Command, valueSources int) error {
	if !e.Enabled {
		for _, name := range []string{"store", "store-kind", "remote-key", "remote-version", "secret-key", "property", "from-remote-file", "timeout"} {
			if cmd.Flags().Changed(name) {
				return usageErrorf("--%s needs --external: it describes a version made from an external store", name)
			}
		}
		return nil
	}
	if valueSources > 0 {
		return usageErrorf("--external takes no values (--from-stdin, --from-file, --from-env-file, --from-literal): ESO reads them from the store; name its keys with --remote-key and --remote-version")
	}
	if e.RemoteFile != "" {
		if len(e.groups) > 0 {
			return usageErrorf("--from-remote-file and --remote-key both list remote keys: use one")
		}
		b, err := boundedyaml.ReadFile(cmd.Context(), e.RemoteFile, boundedyaml.Defaults)
		if err == nil {
			_, err = boundedyaml.Decode(e.RemoteFile, b, boundedyaml.Defaults)
		}
		if err != nil {
			return usageErrorf("--from-remote-file: %v", err)
		}
		refs, err := externalsecret.ParseFile(b)
		if err != nil {
			return usageErrorf("--from-remote-file %s: %v", e.RemoteFile, err)
		}
		e.groups = refs
	}
	if e.Timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	return nil
}

// flagOf names the flag behind a problem of the request.
func (e *externalFlags) flagOf(p externalsecret.Problem) string {
	if p.Entry >= 0 && e.RemoteFile != "" {
		return fmt.Sprintf("--from-remote-file %s entry %d (%s)", e.RemoteFile, p.Entry+1, p.Field)
	}
	switch p.Field {
	case externalsecret.FieldStore:
		return "--store"
	case externalsecret.FieldStoreKind:
		return "--store-kind"
	case externalsecret.FieldData:
		return "--remote-key"
	}
	flag := map[string]string{externalsecret.FieldKey: "--remote-key", externalsecret.FieldVersion: "--remote-version",
		externalsecret.FieldSecretKey: "--secret-key", externalsecret.FieldProperty: "--property"}[p.Field]
	return fmt.Sprintf("%s (remote key #%d)", flag, p.Entry+1)
}

// runExternal creates the version through ESO and prints it.
func (o *CreateOptions) runExternal(ctx context.Context) error {
	e := &o.External
	req := externalsecret.Request{
		Namespace: o.namespace, Family: o.Family, Store: e.Store, StoreKind: e.StoreKind, Data: e.groups,
		CreatedBy: o.createdBy(ctx), RotorVersion: buildinfo.Version,
	}
	if o.Type != "" && o.Type != "Opaque" {
		req.Type = corev1.SecretType(o.Type)
	}
	if err := req.Validate(); err != nil {
		var ps externalsecret.Problems
		if errors.As(err, &ps) {
			msg := ""
			for i, p := range ps {
				if i > 0 {
					msg += "; "
				}
				msg += e.flagOf(p) + ": " + p.Reason
			}
			return usageErrorf("%s; nothing was created", msg)
		}
		return err
	}
	var es *unstructured.Unstructured
	if o.DryRun.strategy == dryRunClient {
		es = externalsecret.Object(req, family.NewVersion(o.Family, o.f.Clock.Now()))
	} else {
		clients, err := o.f.Clients()
		if err != nil {
			return err
		}
		c := &externalsecret.Creator{Client: clients.Typed, Dynamic: clients.Dynamic, Clock: o.f.Clock, Progress: func(msg string) {
			fmt.Fprintln(o.streams.ErrOut, msg)
		}}
		if o.DryRun.strategy == dryRunNone {
			fmt.Fprintf(o.streams.ErrOut, "creating an ExternalSecret on %s %q and waiting for the External Secrets Operator to sync it\n", req.StoreKind, req.Store)
		}
		res, err := c.Create(ctx, req, externalsecret.Options{DryRun: o.DryRun.strategy == dryRunServer, Timeout: e.Timeout})
		if err != nil {
			var se *externalsecret.StoreError
			if errors.As(err, &se) {
				return usageErrorf("%v (--store, --store-kind)", err)
			}
			var sync *externalsecret.SyncError
			if errors.As(err, &sync) && sync.Entry >= 0 && !sync.TimedOut {
				return fmt.Errorf("%w: check %s", err, e.flagOf(externalsecret.Problem{Entry: sync.Entry, Field: externalsecret.FieldVersion}))
			}
			return err
		}
		es = res.ExternalSecret
	}
	if o.DryRun.strategy != dryRunNone {
		fmt.Fprintf(o.streams.ErrOut, "dry run (%s): nothing was created\n", o.DryRun.strategy)
	} else {
		fmt.Fprintf(o.streams.ErrOut, "synced: Secret %s (immutable, owned by its ExternalSecret) holds %d key(s) from %s %q\n", es.GetName(), len(req.Data), req.StoreKind, req.Store)
	}
	return o.printObject(es)
}

// printObject prints the version's name, or with -o the ExternalSecret (it holds no
// value: only the store's keys and versions).
func (o *CreateOptions) printObject(es *unstructured.Unstructured) error {
	if o.PrintFlags.OutputFormat == nil || *o.PrintFlags.OutputFormat == "" {
		_, err := fmt.Fprintln(o.streams.Out, es.GetName())
		return err
	}
	if o.DryRun.strategy != dryRunNone {
		if err := o.PrintFlags.Complete("%s (" + o.DryRun.strategy.String() + " dry run)"); err != nil {
			return err
		}
	}
	printer, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	obj := es.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	return printer.PrintObj(obj, o.streams.Out)
}
